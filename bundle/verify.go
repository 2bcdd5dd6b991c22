package bundle

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/cockroachdb/apd/v3"

	"github.com/folioledger/folio/accounts"
	"github.com/folioledger/folio/ledger"
)

// Problem is the first thing wrong with a bundle: the file, the line
// (1-based; 0 when the problem is the file as a whole) and the field.
type Problem struct {
	File   string
	Line   int
	Field  string
	Detail string
}

func (p *Problem) Error() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		fmt.Fprintf(&b, ":%d", p.Line)
	}
	if p.Field != "" {
		b.WriteString(": " + p.Field)
	}
	return b.String() + ": " + p.Detail
}

// Summary is what a bundle that verifies holds.
type Summary struct {
	From, To   string
	Shards     int
	Entries    int
	Postings   int
	Accounts   int
	Currencies []string
	// Checkpoints is the number of files of the optional checkpoints part.
	Checkpoints int
	// When the checkpoints part is present: the verifier key it was checked
	// with, the number of journal checkpoints (signatures and consistency
	// checked), the last one's tree size (every entry's inclusion checked
	// in it) and the number of period checkpoints (signatures checked).
	CheckpointKey      string
	JournalCheckpoints int
	TreeSize           int64
	PeriodCheckpoints  int
}

// Verify checks the bundle in dir with nothing but its files, and returns
// the first problem found (a *Problem) or a summary. It checks the
// manifest (format, canonical form, the files it lists are exactly the
// files present) and digests every file; then, in this order and each file
// line by line: currencies and chart; anchors; every entry (canonical
// text, position and chain link per shard, hash recomputed, balanced per
// currency, accounts and amounts valid) and the shards' ends against the
// anchors; the CSV files against the entries; the trial balances (each
// posting's running figures from the opening balances, opening + postings
// = closing for every balance row); the reconciliation's figures against
// the entries and balances. The first failed check is the problem — unless
// it is in a file whose digest matches while another's does not: then the
// problem names that changed file, with the inconsistency as its detail.
// A changed file in which no check fails (a chart name, a discrepancy's
// text) is reported by its digest.
func Verify(dir string) (*Summary, error) { return VerifyWithKey(dir, "") }

// VerifyWithKey is Verify that also requires the checkpoints part's
// verifier key to be key (the auditor's copy of the operator's key), when
// key is not empty.
func VerifyWithKey(dir, key string) (*Summary, error) {
	v := &verifier{dir: dir, key: key, currencies: map[string]Currency{}, codes: map[string]Code{}}
	if err := v.manifest(); err != nil {
		return nil, err
	}
	changed, err := v.changedFiles()
	if err != nil {
		return nil, err
	}
	for _, step := range []func() error{v.chart, v.anchors, v.entries, v.referencedEntries, v.csvFiles, v.balances, v.reconciliation, v.checkpoints} {
		err := step()
		if err == nil {
			continue
		}
		var p *Problem
		if len(changed) > 0 && errors.As(err, &p) && !slices.ContainsFunc(changed, func(c *Problem) bool { return c.File == p.File }) {
			// The inconsistency shows in a file that is as the manifest
			// says: the change is in a file whose digest differs.
			c := changed[0]
			return nil, &Problem{File: c.File, Detail: c.Detail + "; the first inconsistency it makes: " + p.Error()}
		}
		return nil, err
	}
	if len(changed) > 0 {
		return nil, changed[0]
	}
	s := &Summary{From: v.m.From, To: v.m.To, Shards: len(v.anchorList), Entries: len(v.list), Accounts: len(v.closing), Checkpoints: len(v.m.Checkpoints),
		CheckpointKey: v.sum.CheckpointKey, JournalCheckpoints: v.sum.JournalCheckpoints, TreeSize: v.sum.TreeSize, PeriodCheckpoints: v.sum.PeriodCheckpoints}
	for _, e := range v.list {
		s.Postings += len(e.Postings)
	}
	for id := range v.currencies {
		s.Currencies = append(s.Currencies, id)
	}
	sort.Strings(s.Currencies)
	return s, nil
}

type rowKey struct {
	account string
	shard   int
}

// figures are a balance row's posted debits, credits and balance.
type figures struct{ debits, credits, balance apd.Decimal }

type verifier struct {
	dir        string
	key        string  // the auditor's verifier key ("": the bundle's own)
	sum        Summary // the checkpoints part's figures
	m          Manifest
	from, to   time.Time
	currencies map[string]Currency
	codes      map[string]Code
	anchorList []Anchor
	list       []*Entry
	lineOf     []int             // entries.jsonl line of list[i]
	referenced map[string]*Entry // referenced.jsonl by id
	closing    map[rowKey]figures
	opening    map[rowKey]figures
}

func (v *verifier) fail(file string, line int, field, format string, args ...any) error {
	return &Problem{File: file, Line: line, Field: field, Detail: fmt.Sprintf(format, args...)}
}

func (v *verifier) manifest() error {
	raw, err := os.ReadFile(filepath.Join(v.dir, FileManifest))
	if err != nil {
		return v.fail(FileManifest, 0, "", "cannot be read: %v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v.m); err != nil {
		return v.fail(FileManifest, lineAt(raw, dec.InputOffset()), "", "not a manifest: %v", err)
	}
	if want, _ := encodeManifest(&v.m); !bytes.Equal(raw, want) {
		return v.fail(FileManifest, firstDiffLine(raw, want), "", "not in canonical form (indented JSON as written by the exporter): the manifest was edited")
	}
	if v.m.Format != FormatName {
		return v.fail(FileManifest, 0, "format", "%q is not %q", v.m.Format, FormatName)
	}
	if v.m.Basis != string(ledger.BasisRecorded) {
		return v.fail(FileManifest, 0, "basis", "%q is not recorded", v.m.Basis)
	}
	if v.from, err = parseTime(v.m.From); err != nil {
		return v.fail(FileManifest, 0, "from", "%v", err)
	}
	if v.to, err = parseTime(v.m.To); err != nil {
		return v.fail(FileManifest, 0, "to", "%v", err)
	}
	if !v.from.Before(v.to) {
		return v.fail(FileManifest, 0, "to", "%s is not after from %s", v.m.To, v.m.From)
	}
	var names []string
	for _, f := range v.m.Files {
		names = append(names, f.Name)
	}
	if !slices.Equal(names, dataFiles) {
		return v.fail(FileManifest, 0, "files", "lists %v; a bundle has exactly %v", names, dataFiles)
	}
	listed := map[string]bool{FileManifest: true}
	for _, f := range v.m.Files {
		listed[f.Name] = true
	}
	for i, f := range v.m.Checkpoints {
		if !strings.HasPrefix(f.Name, CheckpointsDir+"/") || strings.Contains(f.Name[len(CheckpointsDir)+1:], "/") || listed[f.Name] {
			return v.fail(FileManifest, 0, fmt.Sprintf("checkpoints[%d].name", i), "%q is not a file directly under %s/", f.Name, CheckpointsDir)
		}
		listed[f.Name] = true
	}
	// Every file present is listed.
	return filepath.WalkDir(v.dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(v.dir, path)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if rel == "." || rel == CheckpointsDir {
				return nil
			}
			return v.fail(rel, 0, "", "a directory the manifest does not list")
		}
		if !listed[rel] {
			return v.fail(rel, 0, "", "a file the manifest does not list")
		}
		return nil
	})
}

// readLines calls fn with each line of a JSON lines file decoded into a
// fresh T, after checking the line is exactly the canonical encoding of
// what it decoded to.
func readLines[T any](v *verifier, name string, fn func(line int, x *T) error) error {
	f, err := os.Open(filepath.Join(v.dir, name))
	if err != nil {
		return v.fail(name, 0, "", "cannot be read: %v", err)
	}
	defer f.Close()
	r := bufio.NewReader(f)
	for line := 1; ; line++ {
		raw, err := r.ReadBytes('\n')
		if len(raw) == 0 && err == io.EOF {
			return nil
		}
		if err != nil && err != io.EOF {
			return v.fail(name, line, "", "cannot be read: %v", err)
		}
		if raw[len(raw)-1] != '\n' {
			return v.fail(name, line, "", "the last line does not end with a line feed: the file was cut")
		}
		x := new(T)
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(x); err != nil {
			return v.fail(name, line, jsonField(err), "not a record of this file: %v", err)
		}
		if want, _ := encodeLine(x); !bytes.Equal(raw, want) {
			return v.fail(name, line, "", "not in canonical form (one JSON object as written by the exporter): the line was edited")
		}
		if err := fn(line, x); err != nil {
			return err
		}
	}
}

func (v *verifier) chart() error {
	err := readLines(v, FileCurrencies, func(line int, c *Currency) error {
		if !accounts.ValidCurrencyID(c.ID) || c.Precision < 0 || c.Precision > 18 {
			return v.fail(FileCurrencies, line, "id", "%q (precision %d) is not a currency", c.ID, c.Precision)
		}
		if _, dup := v.currencies[c.ID]; dup {
			return v.fail(FileCurrencies, line, "id", "currency %s is listed twice", c.ID)
		}
		v.currencies[c.ID] = *c
		return nil
	})
	if err != nil {
		return err
	}
	return readLines(v, FileChart, func(line int, c *Code) error {
		if !accounts.ValidCode(c.Code) || !accounts.Side(c.Normal).Valid() {
			return v.fail(FileChart, line, "code", "%q (normal %q) is not an account code", c.Code, c.Normal)
		}
		if _, dup := v.codes[c.Code]; dup {
			return v.fail(FileChart, line, "code", "code %s is listed twice", c.Code)
		}
		v.codes[c.Code] = *c
		return nil
	})
}

func (v *verifier) anchors() error {
	err := readLines(v, FileAnchors, func(line int, a *Anchor) error {
		if a.Shard != len(v.anchorList) {
			return v.fail(FileAnchors, line, "shard", "shard %d where shard %d comes next", a.Shard, len(v.anchorList))
		}
		if a.FromSeq < 0 || a.ToSeq < a.FromSeq {
			return v.fail(FileAnchors, line, "to_seq", "range (%d, %d] is not a range", a.FromSeq, a.ToSeq)
		}
		for _, h := range []struct{ field, hex string }{{"from_hash", a.FromHash}, {"to_hash", a.ToHash}} {
			if b, err := hex.DecodeString(h.hex); err != nil || len(b) != sha256.Size {
				return v.fail(FileAnchors, line, h.field, "not a SHA-256 in hex")
			}
		}
		if a.FromSeq == 0 && a.FromHash != hex.EncodeToString(ledger.GenesisHash) {
			return v.fail(FileAnchors, line, "from_hash", "a shard's chain starts at 32 zero bytes")
		}
		if a.ToSeq == a.FromSeq && a.ToHash != a.FromHash {
			return v.fail(FileAnchors, line, "to_hash", "no entry in the range, yet the hash at its end differs from the hash at its start")
		}
		v.anchorList = append(v.anchorList, *a)
		return nil
	})
	if err == nil && len(v.anchorList) == 0 {
		return v.fail(FileAnchors, 0, "", "no shard")
	}
	return err
}

// entries checks entries.jsonl: the chain of every shard from its start
// anchor to its end anchor, every entry's hash and balance.
func (v *verifier) entries() error {
	shard, seq, prev := -1, int64(0), ""
	// ended checks that shards shard … upto-1 end at their end anchors
	// (shard at seq, prev; the ones after it hold no entry).
	ended := func(line, upto int) error {
		for s := max(shard, 0); s < upto; s++ {
			a := v.anchorList[s]
			if s != shard {
				seq, prev = a.FromSeq, a.FromHash
			}
			if seq != a.ToSeq || prev != a.ToHash {
				return v.fail(FileEntries, line, "seq", "shard %d ends at seq %d, but its anchor ends at seq %d (hash %s…): entries are missing", s, seq, a.ToSeq, short(a.ToHash))
			}
		}
		return nil
	}
	last := 0
	err := readLines(v, FileEntries, func(line int, e *Entry) error {
		last = line
		if e.Shard != shard {
			if e.Shard < shard || e.Shard >= len(v.anchorList) {
				return v.fail(FileEntries, line, "shard", "shard %d out of order (after shard %d, of %d)", e.Shard, shard, len(v.anchorList))
			}
			if err := ended(line, e.Shard); err != nil {
				return err
			}
			shard, seq, prev = e.Shard, v.anchorList[e.Shard].FromSeq, v.anchorList[e.Shard].FromHash
		}
		if e.Seq != seq+1 {
			return v.fail(FileEntries, line, "seq", "shard %d: seq %d follows seq %d (an entry is missing or out of order)", shard, e.Seq, seq)
		}
		if e.PrevHash != prev {
			return v.fail(FileEntries, line, "prev_hash", "shard %d seq %d: does not link to the hash before it (%s…)", shard, e.Seq, short(prev))
		}
		if err := v.entry(FileEntries, line, e, true); err != nil {
			return err
		}
		seq, prev = e.Seq, e.Hash
		v.list = append(v.list, e)
		v.lineOf = append(v.lineOf, line)
		return nil
	})
	if err != nil {
		return err
	}
	return ended(last+1, len(v.anchorList))
}

// referencedEntries checks referenced.jsonl: entries before the bundle's
// range (at or below their shard's start anchor), in (shard, seq) order,
// each with its hash recomputed, each completed by a post_pending entry of
// the bundle; and every post_pending entry of the bundle completes an
// entry of the bundle or of this file.
func (v *verifier) referencedEntries() error {
	v.referenced = map[string]*Entry{}
	inBundle := map[string]bool{}
	wanted := map[string]bool{}
	for _, e := range v.list {
		inBundle[e.ID] = true
	}
	for _, e := range v.list {
		if e.Kind == ledger.KindPost && e.Completes != "" && !inBundle[e.Completes] {
			wanted[e.Completes] = true
		}
	}
	var last *Entry
	err := readLines(v, FileReferenced, func(line int, e *Entry) error {
		if e.Shard < 0 || e.Shard >= len(v.anchorList) || e.Seq < 1 || e.Seq > v.anchorList[e.Shard].FromSeq {
			return v.fail(FileReferenced, line, "seq", "shard %d seq %d is not before the bundle's range", e.Shard, e.Seq)
		}
		if last != nil && (e.Shard < last.Shard || e.Shard == last.Shard && e.Seq <= last.Seq) {
			return v.fail(FileReferenced, line, "seq", "shard %d seq %d is out of (shard, seq) order or repeated", e.Shard, e.Seq)
		}
		last = e
		if !wanted[e.ID] {
			return v.fail(FileReferenced, line, "id", "entry %s is completed by no post_pending entry of the bundle", e.ID)
		}
		if err := v.entry(FileReferenced, line, e, false); err != nil {
			return err
		}
		v.referenced[e.ID] = e
		return nil
	})
	if err != nil {
		return err
	}
	for i, e := range v.list {
		if e.Kind == ledger.KindPost && e.Completes != "" && !inBundle[e.Completes] && v.referenced[e.Completes] == nil {
			return v.fail(FileEntries, v.lineOf[i], "completes", "entry %s is neither in the bundle nor in %s", e.Completes, FileReferenced)
		}
	}
	return nil
}

func short(h string) string { return h[:min(12, len(h))] }

// entry checks one entry's fields and recomputes its hash; inRange
// requires its recorded time in the bundle's range.
func (v *verifier) entry(file string, line int, e *Entry, inRange bool) error {
	fail := func(field, format string, args ...any) error {
		return v.fail(file, line, field, format, args...)
	}
	le := &ledger.Entry{ID: e.ID, Shard: e.Shard, Seq: e.Seq, Kind: e.Kind, Description: e.Description, Phase: ledger.Phase(e.Phase),
		IdempotencyKey: e.IdempotencyKey, ParentID: e.ParentID, Reverses: e.Reverses, Completes: e.Completes, BatchID: e.BatchID,
		Metadata: json.RawMessage(e.Metadata)}
	var err error
	if le.EffectiveAt, err = canonicalTime(e.EffectiveAt); err != nil {
		return fail("effective_at", "%v", err)
	}
	if le.RecordedAt, err = canonicalTime(e.RecordedAt); err != nil {
		return fail("recorded_at", "%v", err)
	}
	if inRange && (le.RecordedAt.Before(v.from) || !le.RecordedAt.Before(v.to)) {
		return fail("recorded_at", "%s is outside the bundle's range [%s, %s)", e.RecordedAt, v.m.From, v.m.To)
	}
	if e.ExpiresAt != nil {
		t, err := canonicalTime(*e.ExpiresAt)
		if err != nil {
			return fail("expires_at", "%v", err)
		}
		le.ExpiresAt = &t
	}
	ch, err := hex.DecodeString(e.ContentHash)
	if err != nil || hex.EncodeToString(ch) != e.ContentHash {
		return fail("content_hash", "not lower-case hex")
	}
	le.SetContentHash(ch)
	prev, err := hex.DecodeString(e.PrevHash)
	if err != nil || len(prev) != sha256.Size {
		return fail("prev_hash", "not a SHA-256 in hex")
	}
	if len(e.Postings) < 1 {
		return fail("postings", "an entry has postings")
	}
	sums := map[string]*[2]apd.Decimal{} // per currency: debits, credits
	for i := range e.Postings {
		p := &e.Postings[i]
		field := func(f string) string { return fmt.Sprintf("postings[%d].%s", i, f) }
		if p.Index != i {
			return fail(field("index"), "%d where %d comes next", p.Index, i)
		}
		k, err := accounts.ParseKey(p.Account)
		if err != nil || k.String() != p.Account {
			return fail(field("account"), "%q is not an account", p.Account)
		}
		if _, ok := v.codes[k.Code]; !ok {
			return fail(field("account"), "code %s is not in %s", k.Code, FileChart)
		}
		cur, ok := v.currencies[k.Currency]
		if !ok {
			return fail(field("account"), "currency %s is not in %s", k.Currency, FileCurrencies)
		}
		side := accounts.Side(p.Side)
		if !side.Valid() {
			return fail(field("side"), "%q is neither debit nor credit", p.Side)
		}
		lp := ledger.Posting{Index: p.Index, Account: k, Side: side, Pending: p.Pending}
		for _, x := range []struct {
			name string
			text string
			dst  *apd.Decimal
		}{{"amount", p.Amount, &lp.Amount}, {"balance_after", p.BalanceAfter, &lp.BalanceAfter}, {"debits_after", p.DebitsAfter, &lp.DebitsAfter}, {"credits_after", p.CreditsAfter, &lp.CreditsAfter}} {
			if *x.dst, err = canonicalDecimal(x.text); err != nil {
				return fail(field(x.name), "%v", err)
			}
		}
		if lp.Amount.Sign() <= 0 {
			return fail(field("amount"), "%s is not positive", p.Amount)
		}
		if -lp.Amount.Exponent > int32(cur.Precision) {
			return fail(field("amount"), "%s has more decimals than %s's precision %d", p.Amount, cur.ID, cur.Precision)
		}
		s := sums[k.Currency]
		if s == nil {
			s = &[2]apd.Decimal{}
			sums[k.Currency] = s
		}
		j := 0
		if side == accounts.Credit {
			j = 1
		}
		if _, err := exact.Add(&s[j], &s[j], &lp.Amount); err != nil {
			return fail(field("amount"), "%v", err)
		}
		le.Postings = append(le.Postings, lp)
	}
	for _, c := range sortedKeys(sums) {
		if s := sums[c]; s[0].Cmp(&s[1]) != 0 {
			return fail("postings", "does not balance in %s: debits %s, credits %s", c, ledger.Format(&s[0]), ledger.Format(&s[1]))
		}
	}
	if got := hex.EncodeToString(ledger.ComputeHash(prev, le)); got != e.Hash {
		return fail("hash", "%s is not the hash of the entry's contents, %s: the entry was changed", e.Hash, got)
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// csvFiles checks entries.csv and postings.csv against entries.jsonl:
// record by record, then byte for byte.
func (v *verifier) csvFiles() error {
	var ecsv, pcsv bytes.Buffer
	ew, pw := csv.NewWriter(&ecsv), csv.NewWriter(&pcsv)
	var erows, prows [][]string
	erows = append(erows, entriesCSVHeader)
	prows = append(prows, postingsCSVHeader)
	for _, e := range v.list {
		erows = append(erows, entryCSV(e))
		for i := range e.Postings {
			prows = append(prows, postingCSV(e, &e.Postings[i]))
		}
	}
	if err := errors.Join(ew.WriteAll(erows), pw.WriteAll(prows)); err != nil {
		return err
	}
	for _, f := range []struct {
		name   string
		header []string
		rows   [][]string
		want   []byte
	}{{FileEntriesCSV, entriesCSVHeader, erows, ecsv.Bytes()}, {FilePostingsCSV, postingsCSVHeader, prows, pcsv.Bytes()}} {
		raw, err := os.ReadFile(filepath.Join(v.dir, f.name))
		if err != nil {
			return v.fail(f.name, 0, "", "cannot be read: %v", err)
		}
		r := csv.NewReader(bytes.NewReader(raw))
		r.FieldsPerRecord = -1
		for i := 0; ; i++ {
			rec, err := r.Read()
			line, _ := r.FieldPos(0)
			if err == io.EOF {
				if i < len(f.rows) {
					return v.fail(f.name, line, "", "ends after %d rows; %s gives %d (a line was deleted)", i, FileEntries, len(f.rows))
				}
				break
			}
			if err != nil {
				var pe *csv.ParseError
				if errors.As(err, &pe) {
					line = pe.Line
				}
				return v.fail(f.name, line, "", "not CSV: %v", err)
			}
			if i >= len(f.rows) {
				return v.fail(f.name, line, "", "a row more than %s gives", FileEntries)
			}
			want := f.rows[i]
			if len(rec) != len(want) {
				return v.fail(f.name, line, "", "%d fields; the layout has %d", len(rec), len(want))
			}
			for j := range rec {
				if rec[j] != want[j] {
					return v.fail(f.name, line, f.header[j], "%q differs from %s (%q)", truncate(rec[j]), FileEntries, truncate(want[j]))
				}
			}
		}
		if !bytes.Equal(raw, f.want) {
			return v.fail(f.name, firstDiffLine(raw, f.want), "", "not in canonical CSV form (as written by the exporter)")
		}
	}
	return nil
}

func truncate(s string) string {
	if len(s) > 60 {
		return s[:60] + "…"
	}
	return s
}

// balances checks the trial balances: every line's balance follows from
// its debits and credits on the account's normal side, and running the
// postings of entries.jsonl from the opening rows gives each posting's
// recorded figures and the closing rows exactly.
func (v *verifier) balances() error {
	var err error
	if v.opening, err = v.readBalances(FileOpening); err != nil {
		return err
	}
	if v.closing, err = v.readBalances(FileClosing); err != nil {
		return err
	}
	running := map[rowKey]*figures{}
	for k, f := range v.opening {
		c := f
		running[k] = &c
	}
	for i, e := range v.list {
		for j := range e.Postings {
			p := &e.Postings[j]
			k := rowKey{p.Account, e.Shard}
			r := running[k]
			if r == nil {
				r = &figures{}
				running[k] = r
			}
			if !p.Pending {
				key, _ := accounts.ParseKey(p.Account)
				amt, _ := canonicalDecimal(p.Amount)
				var err error
				if p.Side == string(accounts.Debit) {
					_, err = exact.Add(&r.debits, &r.debits, &amt)
				} else {
					_, err = exact.Add(&r.credits, &r.credits, &amt)
				}
				if err == nil {
					err = normalBalance(&r.balance, &r.debits, &r.credits, accounts.Side(v.codes[key.Code].Normal))
				}
				if err != nil {
					return v.fail(FileEntries, v.lineOf[i], fmt.Sprintf("postings[%d].amount", j), "%v", err)
				}
			}
			for _, x := range []struct {
				name string
				text string
				want *apd.Decimal
			}{{"balance_after", p.BalanceAfter, &r.balance}, {"debits_after", p.DebitsAfter, &r.debits}, {"credits_after", p.CreditsAfter, &r.credits}} {
				got, _ := canonicalDecimal(x.text)
				if got.Cmp(x.want) != 0 {
					return v.fail(FileEntries, v.lineOf[i], fmt.Sprintf("postings[%d].%s", j, x.name), "%s, but %s's opening row in shard %d and the postings before it give %s",
						x.text, p.Account, e.Shard, ledger.Format(x.want))
				}
			}
		}
	}
	// Opening + postings = closing, row by row.
	lines, err := v.balanceLines(FileClosing)
	if err != nil {
		return err
	}
	for _, k := range sortedRowKeys(running) {
		r := running[k]
		c, ok := v.closing[k]
		if !ok {
			return v.fail(FileClosing, 0, "", "%s in shard %d is missing: opening + postings give debits %s, credits %s, balance %s",
				k.account, k.shard, ledger.Format(&r.debits), ledger.Format(&r.credits), ledger.Format(&r.balance))
		}
		for _, x := range []struct {
			name      string
			got, want *apd.Decimal
		}{{"debits", &c.debits, &r.debits}, {"credits", &c.credits, &r.credits}, {"balance", &c.balance, &r.balance}} {
			if x.got.Cmp(x.want) != 0 {
				return v.fail(FileClosing, lines[k], x.name, "%s in shard %d: %s, but opening + postings give %s", k.account, k.shard, ledger.Format(x.got), ledger.Format(x.want))
			}
		}
	}
	for k := range v.closing {
		if _, ok := running[k]; !ok {
			return v.fail(FileClosing, lines[k], "account", "%s in shard %d has no opening row and no posting", k.account, k.shard)
		}
	}
	return nil
}

// normalBalance sets b to debits − credits or credits − debits by side.
func normalBalance(b, debits, credits *apd.Decimal, normal accounts.Side) error {
	var err error
	if normal == accounts.Debit {
		_, err = exact.Sub(b, debits, credits)
	} else {
		_, err = exact.Sub(b, credits, debits)
	}
	return err
}

func sortedRowKeys[V any](m map[rowKey]V) []rowKey {
	out := make([]rowKey, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return rowLess(out[i], out[j]) })
	return out
}

func rowLess(a, b rowKey) bool {
	if a.account != b.account {
		return a.account < b.account
	}
	return a.shard < b.shard
}

func (v *verifier) balanceLines(name string) (map[rowKey]int, error) {
	out := map[rowKey]int{}
	return out, readLines(v, name, func(line int, b *Balance) error {
		out[rowKey{b.Account, b.Shard}] = line
		return nil
	})
}

// readBalances reads a trial balance file: rows in strictly increasing
// (account, shard) order, of known accounts and shards, each balance
// following from its debits and credits, and per currency total debits =
// total credits.
func (v *verifier) readBalances(name string) (map[rowKey]figures, error) {
	out := map[rowKey]figures{}
	var last *rowKey
	totals := map[string]*[2]apd.Decimal{} // per currency: debits, credits
	err := readLines(v, name, func(line int, b *Balance) error {
		k, err := accounts.ParseKey(b.Account)
		if err != nil || k.String() != b.Account {
			return v.fail(name, line, "account", "%q is not an account", b.Account)
		}
		code, ok := v.codes[k.Code]
		if !ok {
			return v.fail(name, line, "account", "code %s is not in %s", k.Code, FileChart)
		}
		if _, ok := v.currencies[k.Currency]; !ok {
			return v.fail(name, line, "account", "currency %s is not in %s", k.Currency, FileCurrencies)
		}
		if b.Shard < 0 || b.Shard >= len(v.anchorList) {
			return v.fail(name, line, "shard", "%d is not a shard of %s", b.Shard, FileAnchors)
		}
		row := rowKey{b.Account, b.Shard}
		if last != nil && !rowLess(*last, row) {
			return v.fail(name, line, "account", "%s shard %d is out of (account, shard) order or repeated", b.Account, b.Shard)
		}
		last = &row
		var f figures
		for _, x := range []struct {
			name string
			text string
			dst  *apd.Decimal
		}{{"debits", b.Debits, &f.debits}, {"credits", b.Credits, &f.credits}, {"balance", b.Balance, &f.balance}} {
			if *x.dst, err = canonicalDecimal(x.text); err != nil {
				return v.fail(name, line, x.name, "%v", err)
			}
		}
		var want apd.Decimal
		if err := normalBalance(&want, &f.debits, &f.credits, accounts.Side(code.Normal)); err != nil {
			return v.fail(name, line, "balance", "%v", err)
		}
		if want.Cmp(&f.balance) != 0 {
			return v.fail(name, line, "balance", "%s, but debits %s and credits %s on the %s side give %s", b.Balance, b.Debits, b.Credits, code.Normal, ledger.Format(&want))
		}
		t := totals[k.Currency]
		if t == nil {
			t = &[2]apd.Decimal{}
			totals[k.Currency] = t
		}
		if _, err := exact.Add(&t[0], &t[0], &f.debits); err != nil {
			return v.fail(name, line, "debits", "%v", err)
		}
		if _, err := exact.Add(&t[1], &t[1], &f.credits); err != nil {
			return v.fail(name, line, "credits", "%v", err)
		}
		out[row] = f
		return nil
	})
	if err != nil {
		return nil, err
	}
	// A trial balance balances: per currency, total debits = total credits.
	for _, c := range sortedKeys(totals) {
		if t := totals[c]; t[0].Cmp(&t[1]) != 0 {
			return nil, v.fail(name, 0, "debits", "%s does not balance: total debits %s, total credits %s", c, ledger.Format(&t[0]), ledger.Format(&t[1]))
		}
	}
	return out, nil
}

// changedFiles returns a problem for every file whose size or SHA-256
// differs from the manifest's, in the manifest's order.
func (v *verifier) changedFiles() ([]*Problem, error) {
	var out []*Problem
	for _, f := range append(slices.Clone(v.m.Files), v.m.Checkpoints...) {
		fh, err := os.Open(filepath.Join(v.dir, filepath.FromSlash(f.Name)))
		if err != nil {
			return nil, v.fail(f.Name, 0, "", "listed in the manifest but cannot be read: %v", err)
		}
		h := sha256.New()
		n, err := io.Copy(h, fh)
		fh.Close()
		if err != nil {
			return nil, v.fail(f.Name, 0, "", "cannot be read: %v", err)
		}
		if sum := hex.EncodeToString(h.Sum(nil)); n != f.Bytes || sum != f.SHA256 {
			out = append(out, &Problem{File: f.Name, Detail: fmt.Sprintf("%d bytes with SHA-256 %s, but the manifest lists %d bytes with %s: the file was changed",
				n, sum, f.Bytes, f.SHA256)})
		}
	}
	return out, nil
}

// parseTime parses an RFC 3339 time in the exporter's text (UTC).
func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || t.UTC().Format(time.RFC3339Nano) != s {
		return time.Time{}, fmt.Errorf("%q is not an RFC 3339 UTC time", s)
	}
	return t, nil
}

// canonicalTime parses a time in the hashed text: UTC, microseconds.
func canonicalTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || timeText(t) != s {
		return time.Time{}, fmt.Errorf("%q is not a time in canonical form (RFC 3339, UTC, at most microseconds)", s)
	}
	return t, nil
}

// canonicalDecimal parses a decimal in canonical text (ledger.Format).
func canonicalDecimal(s string) (apd.Decimal, error) {
	var d apd.Decimal
	if _, _, err := d.SetString(s); err != nil || ledger.Format(&d) != s || d.Form != apd.Finite {
		return apd.Decimal{}, fmt.Errorf("%q is not a decimal in canonical form", truncate(s))
	}
	return d, nil
}

// lineAt is the 1-based line of byte offset off in raw.
func lineAt(raw []byte, off int64) int {
	off = min(max(off, 0), int64(len(raw)))
	return bytes.Count(raw[:off], []byte("\n")) + 1
}

// firstDiffLine is the 1-based line of the first byte where a and b differ.
func firstDiffLine(a, b []byte) int {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	return lineAt(a, int64(i))
}

// jsonField names the field of a JSON type error, if any.
func jsonField(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return te.Field
	}
	return ""
}
