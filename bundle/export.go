package bundle

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/folioledger/folio"
	"github.com/folioledger/folio/accounts"
	"github.com/folioledger/folio/ledger"
	"github.com/folioledger/folio/reconcile"
	"github.com/folioledger/folio/schema"
)

// exportPage is how many entries of a shard are read at a time.
const exportPage = 1000

// Export writes the bundle of the entries recorded in [from, to) into dir
// (created if missing; it must be empty): see doc.go for the files. to
// must not be after now, so that the range no longer changes; the
// journal's reads are by recorded time at the cuts before from and before
// to. It returns the manifest written.
func Export(ctx context.Context, db *schema.DB, from, to, now time.Time, dir string) (*Manifest, error) {
	return ExportWith(ctx, db, from, to, now, dir, Options{})
}

// Options are the export's options.
type Options struct {
	// VerifierKey, when set, is the note verifier key of the journal's
	// checkpoints: the export then writes the checkpoints part (see
	// writeCheckpoints) when a seal holds every entry of the range.
	VerifierKey string
	// Unsealed is set by ExportWith when VerifierKey was given but no seal
	// holds every entry of the range yet: no checkpoints were written.
	Unsealed *bool
}

// ExportWith is Export with options.
func ExportWith(ctx context.Context, db *schema.DB, from, to, now time.Time, dir string, opts Options) (*Manifest, error) {
	from, to = from.UTC(), to.UTC()
	if !from.Before(to) {
		return nil, folio.Errorf(folio.EINVALID, "export: from must be before to")
	}
	if to.After(now) {
		return nil, folio.Errorf(folio.EINVALID, "export: to (%s) is after now; a bundle covers a range that has ended", to.Format(time.RFC3339))
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	if names, err := os.ReadDir(dir); err != nil {
		return nil, err
	} else if len(names) > 0 {
		return nil, folio.Errorf(folio.EINVALID, "export: directory %s is not empty", dir)
	}
	m := &Manifest{Format: FormatName, From: from.Format(time.RFC3339Nano), To: to.Format(time.RFC3339Nano), Basis: string(ledger.BasisRecorded),
		Files: []File{}, Checkpoints: []File{}}
	w := &writer{dir: dir, m: m}

	var chart *accounts.Chart
	var start, end ledger.Cut
	var anchors []Anchor
	var opening, closing []ledger.BalanceRow
	err := db.ReadTx(ctx, func(tx pgx.Tx) error {
		var err error
		if chart, err = accounts.LoadChart(ctx, tx); err != nil {
			return err
		}
		if start, err = ledger.CutBefore(ctx, tx, from); err != nil {
			return err
		}
		if end, err = ledger.CutBefore(ctx, tx, to); err != nil {
			return err
		}
		anchors = nil
		for shard := range end {
			a := Anchor{Shard: shard, FromSeq: start[shard], ToSeq: end[shard]}
			if a.FromHash, err = hashAt(ctx, tx, shard, a.FromSeq); err != nil {
				return err
			}
			if a.ToHash, err = hashAt(ctx, tx, shard, a.ToSeq); err != nil {
				return err
			}
			anchors = append(anchors, a)
		}
		if opening, err = ledger.BalanceRowsAt(ctx, tx, start); err != nil {
			return err
		}
		closing, err = ledger.BalanceRowsAt(ctx, tx, end)
		return err
	})
	if err != nil {
		return nil, err
	}

	if err := w.lines(FileCurrencies, func(emit func(any) error) error {
		for _, c := range chart.Currencies() {
			if err := emit(Currency{ID: c.ID, Precision: c.Precision, Enabled: c.Enabled}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return nil, err
	}
	if err := w.lines(FileChart, func(emit func(any) error) error {
		for _, c := range chart.Codes() {
			if err := emit(Code{Code: c.Code, Name: c.Name, Type: string(c.Type), Normal: string(c.Normal), PerHolder: c.PerHolder, Rule: string(c.Rule)}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return nil, err
	}
	if err := w.lines(FileAnchors, func(emit func(any) error) error {
		for _, a := range anchors {
			if err := emit(a); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return nil, err
	}
	completes, err := w.entries(ctx, db, anchors)
	if err != nil {
		return nil, err
	}
	if err := w.referenced(ctx, db, anchors, completes); err != nil {
		return nil, err
	}
	for _, tb := range []struct {
		name string
		rows []ledger.BalanceRow
	}{{FileOpening, opening}, {FileClosing, closing}} {
		if err := w.lines(tb.name, func(emit func(any) error) error {
			for i := range tb.rows {
				r := &tb.rows[i]
				if err := emit(Balance{Account: r.Account.String(), Shard: r.Shard, Debits: ledger.Format(&r.Debits),
					Credits: ledger.Format(&r.Credits), Balance: ledger.Format(&r.Balance)}); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			return nil, err
		}
	}
	rep, err := reconcile.Run(ctx, db, from, to)
	if err != nil {
		return nil, err
	}
	if !cutsEqual(rep.FromSeq, start) || !cutsEqual(rep.ToSeq, end) {
		return nil, fmt.Errorf("export: the journal's cuts changed while exporting (from %v/%v, to %v/%v); export again", rep.FromSeq, start, rep.ToSeq, end)
	}
	body, err := json.Marshal(rep)
	if err != nil {
		return nil, err
	}
	if err := w.file(FileReconciliation, func(out io.Writer) error {
		_, err := out.Write(append(body, '\n'))
		return err
	}); err != nil {
		return nil, err
	}
	if opts.VerifierKey != "" {
		ok, err := w.writeCheckpoints(ctx, db, opts.VerifierKey, anchors, w.ids, m)
		if err != nil {
			return nil, err
		}
		if opts.Unsealed != nil {
			*opts.Unsealed = !ok
		}
	}
	raw, err := encodeManifest(m)
	if err != nil {
		return nil, err
	}
	return m, os.WriteFile(filepath.Join(dir, FileManifest), raw, 0o644)
}

func cutsEqual(a, b ledger.Cut) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// hashAt is the hex hash of shard's entry seq (genesis for seq 0).
func hashAt(ctx context.Context, q schema.Querier, shard int, seq int64) (string, error) {
	if seq == 0 {
		return hex.EncodeToString(ledger.GenesisHash), nil
	}
	es, err := ledger.ShardEntries(ctx, q, shard, seq-1, seq)
	if err != nil {
		return "", err
	}
	if len(es) != 1 {
		return "", fmt.Errorf("export: shard %d has no entry %d", shard, seq)
	}
	return hex.EncodeToString(es[0].Hash), nil
}

// writer writes the bundle's files, recording each in the manifest.
type writer struct {
	dir string
	m   *Manifest
	ids []string // the bundle's entries, in entries.jsonl's order
}

// file creates name, lets fill write it, and records its size and digest.
func (w *writer) file(name string, fill func(io.Writer) error) error {
	return w.files([]string{name}, func(outs []io.Writer) error { return fill(outs[0]) })
}

// files creates the files names, lets fill write them together, and
// records each one's size and digest, in order.
func (w *writer) files(names []string, fill func([]io.Writer) error) (err error) {
	var outs []io.Writer
	var bufs []*bufio.Writer
	var hashes []hash.Hash
	var counts []*counter
	for _, name := range names {
		f, err := os.OpenFile(filepath.Join(w.dir, name), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
		if err != nil {
			return err
		}
		defer func() {
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}()
		h, c := sha256.New(), &counter{}
		bw := bufio.NewWriter(io.MultiWriter(f, h, c))
		outs, bufs, hashes, counts = append(outs, bw), append(bufs, bw), append(hashes, h), append(counts, c)
	}
	if err := fill(outs); err != nil {
		return err
	}
	for i, name := range names {
		if err := bufs[i].Flush(); err != nil {
			return err
		}
		w.m.Files = append(w.m.Files, File{Name: name, Bytes: counts[i].n, SHA256: hexSum(hashes[i])})
	}
	return nil
}

func hexSum(h hash.Hash) string { return hex.EncodeToString(h.Sum(nil)) }

type counter struct{ n int64 }

func (c *counter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

// lines writes a JSON lines file of the records gen emits.
func (w *writer) lines(name string, gen func(emit func(any) error) error) error {
	return w.file(name, func(out io.Writer) error {
		return gen(func(v any) error {
			b, err := encodeLine(v)
			if err != nil {
				return err
			}
			_, err = out.Write(b)
			return err
		})
	})
}

// entries writes entries.jsonl, entries.csv and postings.csv in one pass,
// reading each shard's range of anchors a page at a time, and returns the
// ids of the entries that post_pending entries of the bundle complete.
func (w *writer) entries(ctx context.Context, db *schema.DB, anchors []Anchor) ([]string, error) {
	var completes []string
	err := w.files([]string{FileEntries, FileEntriesCSV, FilePostingsCSV}, func(outs []io.Writer) error {
		ew, pw := csv.NewWriter(outs[1]), csv.NewWriter(outs[2])
		if err := errors.Join(ew.Write(entriesCSVHeader), pw.Write(postingsCSVHeader)); err != nil {
			return err
		}
		for _, a := range anchors {
			for after := a.FromSeq; after < a.ToSeq; {
				through := min(after+exportPage, a.ToSeq)
				es, err := ledger.ShardEntries(ctx, db.Pool, a.Shard, after, through)
				if err != nil {
					return err
				}
				if int64(len(es)) != through-after {
					return fmt.Errorf("export: shard %d has %d entries in (%d, %d]", a.Shard, len(es), after, through)
				}
				for _, e := range es {
					w.ids = append(w.ids, e.ID)
					line := newEntry(e)
					b, err := encodeLine(&line)
					if err != nil {
						return err
					}
					if _, err := outs[0].Write(b); err != nil {
						return err
					}
					if err := ew.Write(entryCSV(&line)); err != nil {
						return err
					}
					for i := range line.Postings {
						if err := pw.Write(postingCSV(&line, &line.Postings[i])); err != nil {
							return err
						}
					}
					if e.Kind == ledger.KindPost && e.Completes != "" {
						completes = append(completes, e.Completes)
					}
				}
				ew.Flush()
				pw.Flush()
				if err := errors.Join(ew.Error(), pw.Error()); err != nil {
					return err
				}
				after = through
			}
		}
		return nil
	})
	return completes, err
}

// referenced writes referenced.jsonl: the entries before the bundle's
// range that its post_pending entries complete (a pending payout posted in
// the range counts as a payout), in (shard, seq) order.
func (w *writer) referenced(ctx context.Context, db *schema.DB, anchors []Anchor, ids []string) error {
	l := ledger.New(db)
	var out []*ledger.Entry
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] {
			continue
		}
		seen[id] = true
		e, _, err := l.GetEntry(ctx, id)
		if err != nil {
			return fmt.Errorf("export: the entry %s that a post_pending entry completes: %w", id, err)
		}
		if e.Shard < len(anchors) && e.Seq > anchors[e.Shard].FromSeq {
			continue // in the bundle
		}
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Shard != out[j].Shard {
			return out[i].Shard < out[j].Shard
		}
		return out[i].Seq < out[j].Seq
	})
	return w.lines(FileReferenced, func(emit func(any) error) error {
		for _, e := range out {
			line := newEntry(e)
			if err := emit(&line); err != nil {
				return err
			}
		}
		return nil
	})
}
