package bundle

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/folioledger/folio/ledger"
	"github.com/folioledger/folio/periods"
	"github.com/folioledger/folio/schema"
	"github.com/folioledger/folio/seal"
)

// The files of the checkpoints part (docs/AUDIT-BUNDLE.md).
const (
	FileCheckpointKey     = CheckpointsDir + "/key.txt"
	FileJournalCheckpoint = CheckpointsDir + "/journal.jsonl"
	FileInclusion         = CheckpointsDir + "/inclusion.jsonl"
	FilePeriodCheckpoint  = CheckpointsDir + "/periods.jsonl"
)

// checkpointFiles are the checkpoints part's files, in the manifest's order.
var checkpointFiles = []string{FileCheckpointKey, FileJournalCheckpoint, FileInclusion, FilePeriodCheckpoint}

// JournalCheckpoint is one line of checkpoints/journal.jsonl: a seal's
// signed checkpoint, and the consistency proof from the previous line's
// tree to this one's (empty on the first line).
type JournalCheckpoint struct {
	Seal        int64    `json:"seal"`
	Checkpoint  string   `json:"checkpoint"`
	Consistency []string `json:"consistency"`
}

// Inclusion is one line of checkpoints/inclusion.jsonl: the proof that an
// entry of entries.jsonl (same line) is leaf Index of the last journal
// checkpoint's tree.
type Inclusion struct {
	Entry  string   `json:"entry"`
	Index  int64    `json:"index"`
	Hashes []string `json:"hashes"`
}

// PeriodCheckpoint is one line of checkpoints/periods.jsonl: the signed
// period checkpoint of a closed period that overlaps the bundle's range,
// and the journal checkpoint of the seal made at its close.
type PeriodCheckpoint struct {
	Period            string `json:"period"`
	Checkpoint        string `json:"checkpoint"`
	JournalCheckpoint string `json:"journal_checkpoint"`
}

func b64(hs []tlog.Hash) []string {
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = base64.StdEncoding.EncodeToString(h[:])
	}
	return out
}

// covers reports whether seal s holds every entry up to cut.
func covers(s *seal.Seal, cut []Anchor) bool {
	heads := map[int]int64{}
	for _, h := range s.Heads {
		heads[h.Shard] = h.Seq
	}
	for _, a := range cut {
		if heads[a.Shard] < a.ToSeq {
			return false
		}
	}
	return true
}

// before reports whether seal s holds no entry of the bundle.
func before(s *seal.Seal, cut []Anchor) bool {
	for _, h := range s.Heads {
		for _, a := range cut {
			if a.Shard == h.Shard && h.Seq > a.FromSeq {
				return false
			}
		}
	}
	return true
}

// writeCheckpoints writes the checkpoints part: the verifier key, the
// journal checkpoints from the last seal before the bundle's entries (if
// any) through the first seal that holds all of them, with consistency
// proofs between consecutive ones, every entry's inclusion proof in the
// last one's tree, and the period checkpoints of the closed periods that
// overlap the range. It returns false, writing nothing, when no seal holds
// every entry of the bundle yet.
func (w *writer) writeCheckpoints(ctx context.Context, db *schema.DB, vkey string, anchors []Anchor, ids []string, m *Manifest) (bool, error) {
	if _, err := note.NewVerifier(vkey); err != nil {
		return false, fmt.Errorf("export: checkpoint verifier key: %w", err)
	}
	svc := &seal.Service{DB: db}
	var chosen []*seal.Seal
	for after := int64(0); ; {
		page, err := svc.List(ctx, after, 1000)
		if err != nil {
			return false, err
		}
		for _, s := range page {
			if before(s, anchors) {
				chosen = []*seal.Seal{s} // the last seal before the bundle
				if covers(s, anchors) {
					goto found // a bundle without entries
				}
				continue
			}
			chosen = append(chosen, s)
			if covers(s, anchors) {
				goto found
			}
		}
		if len(page) == 0 {
			return false, nil
		}
		after = page[len(page)-1].N
	}
found:
	last := chosen[len(chosen)-1]
	if err := os.MkdirAll(filepath.Join(w.dir, CheckpointsDir), 0o755); err != nil {
		return false, err
	}
	n := len(w.m.Files)
	defer func() {
		w.m.Checkpoints = append(w.m.Checkpoints, w.m.Files[n:]...)
		w.m.Files = w.m.Files[:n]
	}()
	if err := w.file(FileCheckpointKey, func(out io.Writer) error {
		_, err := out.Write([]byte(vkey + "\n"))
		return err
	}); err != nil {
		return false, err
	}
	if err := w.lines(FileJournalCheckpoint, func(emit func(any) error) error {
		for i, s := range chosen {
			line := JournalCheckpoint{Seal: s.N, Checkpoint: s.Checkpoint, Consistency: []string{}}
			if i > 0 {
				p, err := svc.ProveConsistency(ctx, chosen[i-1].TreeSize, s.TreeSize)
				if err != nil {
					return err
				}
				line.Consistency = b64(p)
			}
			if err := emit(line); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return false, err
	}
	if err := w.lines(FileInclusion, func(emit func(any) error) error {
		for _, id := range ids {
			p, err := svc.ProveInclusion(ctx, id, last.TreeSize)
			if err != nil {
				return fmt.Errorf("export: inclusion of %s: %w", id, err)
			}
			if err := emit(Inclusion{Entry: id, Index: p.Index, Hashes: b64(p.Hashes)}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return false, err
	}
	from, err := parseTime(m.From)
	if err != nil {
		return false, err
	}
	to, err := parseTime(m.To)
	if err != nil {
		return false, err
	}
	pcs, err := periods.CheckpointsIn(ctx, db, from, to)
	if err != nil {
		return false, err
	}
	return true, w.lines(FilePeriodCheckpoint, func(emit func(any) error) error {
		for _, pc := range pcs {
			if err := emit(PeriodCheckpoint{Period: pc.Period.String(), Checkpoint: pc.Checkpoint, JournalCheckpoint: pc.JournalCheckpoint}); err != nil {
				return err
			}
		}
		return nil
	})
}

// openCheckpoint opens a journal checkpoint note with verifier and parses
// its body: origin (the verifier's name), size, root.
func openCheckpoint(text string, v note.Verifier) (int64, tlog.Hash, error) {
	n, err := note.Open([]byte(text), note.VerifierList(v))
	if err != nil {
		return 0, tlog.Hash{}, fmt.Errorf("signature does not verify with the bundle's key: %v", err)
	}
	lines := strings.Split(n.Text, "\n")
	if len(lines) != 4 || lines[0] != v.Name() || lines[3] != "" {
		return 0, tlog.Hash{}, fmt.Errorf("body %q is not origin %s, size, root", n.Text, v.Name())
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	raw, rerr := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || size < 1 || rerr != nil || len(raw) != tlog.HashSize {
		return 0, tlog.Hash{}, fmt.Errorf("body %q has no valid size and root", n.Text)
	}
	return size, tlog.Hash(raw), nil
}

func decodeB64Hashes(in []string) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(in))
	for i, s := range in {
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil || len(b) != tlog.HashSize {
			return nil, fmt.Errorf("hash %d is not base64 of %d bytes", i, tlog.HashSize)
		}
		out[i] = tlog.Hash(b)
	}
	return out, nil
}

// checkpoints checks the checkpoints part, when the manifest lists it:
// the key (and that it is the auditor's, when one is given), every journal
// checkpoint's signature, consistency between consecutive ones, every
// entry's inclusion in the last one's tree, and every period checkpoint's
// signature and its seal line against its journal checkpoint.
func (v *verifier) checkpoints() error {
	if len(v.m.Checkpoints) == 0 {
		if v.key != "" {
			return v.fail(FileManifest, 0, "checkpoints", "the bundle has no checkpoints to check the key given against")
		}
		return nil
	}
	var names []string
	for _, f := range v.m.Checkpoints {
		names = append(names, f.Name)
	}
	if strings.Join(names, " ") != strings.Join(checkpointFiles, " ") {
		return v.fail(FileManifest, 0, "checkpoints", "lists %v; the checkpoints part has exactly %v", names, checkpointFiles)
	}
	raw, err := os.ReadFile(filepath.Join(v.dir, filepath.FromSlash(FileCheckpointKey)))
	if err != nil {
		return v.fail(FileCheckpointKey, 0, "", "cannot be read: %v", err)
	}
	vkey := string(bytes.TrimSuffix(raw, []byte("\n")))
	verifier, err := note.NewVerifier(vkey)
	if err != nil || vkey+"\n" != string(raw) {
		return v.fail(FileCheckpointKey, 1, "", "not a note verifier key on one line: %v", err)
	}
	if v.key != "" && strings.TrimSpace(v.key) != vkey {
		return v.fail(FileCheckpointKey, 1, "", "the bundle's key %s is not the key given (%s)", vkey, strings.TrimSpace(v.key))
	}
	var size int64
	var root tlog.Hash
	err = readLines(v, FileJournalCheckpoint, func(line int, c *JournalCheckpoint) error {
		s, r, err := openCheckpoint(c.Checkpoint, verifier)
		if err != nil {
			return v.fail(FileJournalCheckpoint, line, "checkpoint", "seal %d: %v", c.Seal, err)
		}
		proof, err := decodeB64Hashes(c.Consistency)
		if err != nil {
			return v.fail(FileJournalCheckpoint, line, "consistency", "%v", err)
		}
		if line > 1 {
			if s <= size {
				return v.fail(FileJournalCheckpoint, line, "checkpoint", "tree size %d does not grow from %d", s, size)
			}
			if err := tlog.CheckTree(proof, s, r, size, root); err != nil {
				return v.fail(FileJournalCheckpoint, line, "consistency", "the tree of %d leaves is not an extension of the previous checkpoint's %d: %v", s, size, err)
			}
		} else if len(proof) != 0 {
			return v.fail(FileJournalCheckpoint, line, "consistency", "the first checkpoint has no previous one to be consistent with")
		}
		size, root = s, r
		v.sum.JournalCheckpoints++
		return nil
	})
	if err != nil {
		return err
	}
	if size == 0 {
		return v.fail(FileJournalCheckpoint, 0, "", "holds no checkpoint")
	}
	v.sum.CheckpointKey, v.sum.TreeSize = vkey, size
	i := 0
	err = readLines(v, FileInclusion, func(line int, p *Inclusion) error {
		if i >= len(v.list) {
			return v.fail(FileInclusion, line, "entry", "more lines than entries.jsonl has entries (%d)", len(v.list))
		}
		e := v.list[i]
		i++
		if p.Entry != e.ID {
			return v.fail(FileInclusion, line, "entry", "%s is not entries.jsonl line %d's entry %s", p.Entry, v.lineOf[i-1], e.ID)
		}
		h, err := hex.DecodeString(e.Hash)
		if err != nil {
			return v.fail(FileEntries, v.lineOf[i-1], "hash", "not hex")
		}
		proof, err := decodeB64Hashes(p.Hashes)
		if err != nil {
			return v.fail(FileInclusion, line, "hashes", "%v", err)
		}
		leaf := seal.LeafBytes(ledger.Position{ID: e.ID, Shard: e.Shard, Seq: e.Seq, Hash: h})
		if err := tlog.CheckRecord(proof, size, root, p.Index, tlog.RecordHash(leaf)); err != nil {
			return v.fail(FileInclusion, line, "hashes", "entry %s (entries.jsonl line %d) is not leaf %d of the last checkpoint's tree of %d: %v",
				e.ID, v.lineOf[i-1], p.Index, size, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if i != len(v.list) {
		return v.fail(FileInclusion, 0, "", "holds %d proofs for %d entries", i, len(v.list))
	}
	return readLines(v, FilePeriodCheckpoint, func(line int, pc *PeriodCheckpoint) error {
		n, err := note.Open([]byte(pc.Checkpoint), note.VerifierList(verifier))
		if err != nil {
			return v.fail(FilePeriodCheckpoint, line, "checkpoint", "period %s: signature does not verify with the bundle's key: %v", pc.Period, err)
		}
		m, _, _, err := periods.ParseCheckpoint(n.Text)
		if err != nil || m.String() != pc.Period || !strings.HasPrefix(n.Text, periods.PeriodOrigin(verifier.Name(), m)+"\n") {
			return v.fail(FilePeriodCheckpoint, line, "checkpoint", "period %s: body %q is not that period's checkpoint (%v)", pc.Period, n.Text, err)
		}
		js, jr, err := openCheckpoint(pc.JournalCheckpoint, verifier)
		if err != nil {
			return v.fail(FilePeriodCheckpoint, line, "journal_checkpoint", "period %s: %v", pc.Period, err)
		}
		want := fmt.Sprintf(" %d %s\n", js, base64.StdEncoding.EncodeToString(jr[:]))
		if !strings.Contains(n.Text, "\nseal ") || !strings.HasSuffix(n.Text, want) {
			return v.fail(FilePeriodCheckpoint, line, "checkpoint", "period %s: its seal line does not name its journal checkpoint (tree %d)", pc.Period, js)
		}
		v.sum.PeriodCheckpoints++
		return nil
	})
}
