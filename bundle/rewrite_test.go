package bundle

// Helpers for the external tests: a forger's tools.

import (
	"bytes"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/cockroachdb/apd/v3"

	"github.com/folioledger/folio/accounts"
	"github.com/folioledger/folio/ledger"
)

// Rehash recomputes e.Hash from e.PrevHash and its fields.
func Rehash(t *testing.T, e *Entry) {
	t.Helper()
	le := &ledger.Entry{ID: e.ID, Shard: e.Shard, Seq: e.Seq, Kind: e.Kind, Description: e.Description, Phase: ledger.Phase(e.Phase),
		IdempotencyKey: e.IdempotencyKey, ParentID: e.ParentID, Reverses: e.Reverses, Completes: e.Completes, BatchID: e.BatchID,
		Metadata: json.RawMessage(e.Metadata)}
	var err error
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	le.EffectiveAt, err = canonicalTime(e.EffectiveAt)
	must(err)
	le.RecordedAt, err = canonicalTime(e.RecordedAt)
	must(err)
	if e.ExpiresAt != nil {
		x, err := canonicalTime(*e.ExpiresAt)
		must(err)
		le.ExpiresAt = &x
	}
	ch, err := hex.DecodeString(e.ContentHash)
	must(err)
	le.SetContentHash(ch)
	for _, p := range e.Postings {
		k, err := accounts.ParseKey(p.Account)
		must(err)
		lp := ledger.Posting{Index: p.Index, Account: k, Side: accounts.Side(p.Side), Pending: p.Pending}
		for _, x := range []struct {
			s   string
			dst *apd.Decimal
		}{{p.Amount, &lp.Amount}, {p.BalanceAfter, &lp.BalanceAfter}, {p.DebitsAfter, &lp.DebitsAfter}, {p.CreditsAfter, &lp.CreditsAfter}} {
			*x.dst, err = canonicalDecimal(x.s)
			must(err)
		}
		le.Postings = append(le.Postings, lp)
	}
	prev, err := hex.DecodeString(e.PrevHash)
	must(err)
	e.Hash = hex.EncodeToString(ledger.ComputeHash(prev, le))
}

// Rewrite writes a bundle's entries (and their CSV files) and a manifest
// with fresh digests: what a forger who rewrites a bundle does.
func Rewrite(t *testing.T, dir string, entries []*Entry, anchors []Anchor) {
	t.Helper()
	var jl, ec, pc bytes.Buffer
	ew, pw := csv.NewWriter(&ec), csv.NewWriter(&pc)
	_ = ew.Write(entriesCSVHeader)
	_ = pw.Write(postingsCSVHeader)
	for _, e := range entries {
		b, _ := encodeLine(e)
		jl.Write(b)
		_ = ew.Write(entryCSV(e))
		for i := range e.Postings {
			_ = pw.Write(postingCSV(e, &e.Postings[i]))
		}
	}
	ew.Flush()
	pw.Flush()
	var al bytes.Buffer
	for _, a := range anchors {
		b, _ := encodeLine(a)
		al.Write(b)
	}
	files := map[string][]byte{FileEntries: jl.Bytes(), FileEntriesCSV: ec.Bytes(), FilePostingsCSV: pc.Bytes(), FileAnchors: al.Bytes()}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	raw, err := os.ReadFile(filepath.Join(dir, FileManifest))
	if err != nil {
		t.Fatal(err)
	}
	var m Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	for i, f := range m.Files {
		if b, ok := files[f.Name]; ok {
			sum := sha256.Sum256(b)
			m.Files[i].Bytes, m.Files[i].SHA256 = int64(len(b)), hex.EncodeToString(sum[:])
		}
	}
	raw, _ = encodeManifest(&m)
	if err := os.WriteFile(filepath.Join(dir, FileManifest), raw, 0o644); err != nil {
		t.Fatal(err)
	}
}

// ReadBundle returns the entries and anchors of the bundle in dir.
func ReadBundle(t *testing.T, dir string) ([]*Entry, []Anchor) {
	t.Helper()
	v := &verifier{dir: dir}
	var entries []*Entry
	if err := readLines(v, FileEntries, func(_ int, e *Entry) error { entries = append(entries, e); return nil }); err != nil {
		t.Fatal(err)
	}
	var anchors []Anchor
	if err := readLines(v, FileAnchors, func(_ int, a *Anchor) error { anchors = append(anchors, *a); return nil }); err != nil {
		t.Fatal(err)
	}
	return entries, anchors
}
