package seal_test

import (
	"context"
	"testing"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/folioledger/folio/ledger"
	"github.com/folioledger/folio/seal"
)

// TestLowLevelsRecomputed: since migration 050 a seal stores only the
// Merkle hashes of level seal.LowLevels and up, and proofs recompute the
// lower ones from the entries. Over seals of uneven sizes across three
// shards (blocks of 32 leaves cut by seals, a seal inside one block), every
// entry's inclusion proof in every sealed tree and every consistency proof
// between sealed trees check against the signed checkpoints with tlog
// alone; the upper runs hold exactly the upper tree's stored hashes and
// nothing below; Verify is clean.
func TestLowLevelsRecomputed(t *testing.T) {
	e := newEnv(t, 3)
	ctx := context.Background()
	var entries []*ledger.Entry
	var sizes []int64
	roots := map[int64]tlog.Hash{}
	for _, n := range []int{1, 30, 2, 64, 5, 33, 100} {
		entries = append(entries, e.postMany(t, n)...)
		s := e.seal(t)
		_, size, root := openCheckpoint(t, s.Checkpoint, e.seals.Verifier)
		sizes, roots[size] = append(sizes, size), root
	}
	last := sizes[len(sizes)-1]
	if last != 235 {
		t.Fatalf("the last tree has %d leaves, want 235", last)
	}
	for _, en := range entries {
		for _, size := range sizes {
			p, err := e.seals.ProveInclusion(ctx, en.ID, size)
			if err != nil {
				continue // not in a tree that small (the error is tested elsewhere)
			}
			if err := tlog.CheckRecord(p.Hashes, p.Size, roots[size], p.Index, tlog.RecordHash(p.Leaf)); err != nil {
				t.Fatalf("tlog.CheckRecord(entry %s, leaf %d, tree %d): %v", en.ID, p.Index, size, err)
			}
		}
	}
	for i, from := range sizes {
		for _, to := range sizes[i:] {
			pr, err := e.seals.ProveConsistency(ctx, from, to)
			if err != nil {
				t.Fatal(err)
			}
			if err := tlog.CheckTree(pr, to, roots[to], from, roots[from]); err != nil {
				t.Fatalf("tlog.CheckTree(%d → %d): %v", from, to, err)
			}
		}
	}
	var oldRuns, upper int64
	if err := e.db.Admin.QueryRow(ctx, `SELECT (SELECT count(*) FROM merkle_hash_runs), (SELECT coalesce(sum(length(hashes)), 0) / 32 FROM merkle_upper_runs)`).Scan(&oldRuns, &upper); err != nil {
		t.Fatal(err)
	}
	if want := tlog.StoredHashCount(last >> seal.LowLevels); oldRuns != 0 || upper != want {
		t.Fatalf("%d old runs and %d upper hashes stored, want none and %d (of the %d hashes of levels 0 and up)", oldRuns, upper, want, tlog.StoredHashCount(last))
	}
	if probs := e.problems(t); len(probs) != 0 {
		t.Fatalf("Verify: %+v", probs)
	}
}
