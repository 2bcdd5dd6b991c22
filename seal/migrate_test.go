package seal_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/folioledger/folio/accounts"
	"github.com/folioledger/folio/ledger"
	"github.com/folioledger/folio/schema"
	"github.com/folioledger/folio/seal"
)

// postMany writes count manual entries in batches of 100.
func (e *env) postMany(t *testing.T, count int) []*ledger.Entry {
	t.Helper()
	var out []*ledger.Entry
	for count > 0 {
		var items []ledger.NewEntry
		for range min(count, 100) {
			e.n++
			items = append(items, ledger.NewEntry{IdempotencyKey: fmt.Sprintf("m%d", e.n), Kind: "manual", Postings: []ledger.NewPosting{
				{Account: "101:USD", Side: accounts.Debit, Amount: "1.00"},
				{Account: "605:USD", Side: accounts.Credit, Amount: "1.00"},
			}})
		}
		res, err := e.ledger.Post(context.Background(), items, ledger.Options{})
		if err != nil {
			t.Fatalf("Post: %v", err)
		}
		for _, r := range res {
			if r.Err != nil {
				t.Fatalf("Post: %v", r.Err)
			}
			out = append(out, r.Entry)
		}
		count -= len(items)
	}
	return out
}

// TestMigration035KeepsSealedLogs seals a journal in many seals, puts its
// Merkle log back into the layout of migration 028 (one merkle_hashes row
// per stored hash, a merkle_leaves table), runs migration 035's steps
// (twice), and expects the same log: every inclusion proof checks against the
// checkpoints signed before, consistency proofs too, Verify is clean, a
// changed byte of a migrated run is found, and sealing goes on after it.
func TestMigration035KeepsSealedLogs(t *testing.T) {
	e := newEnv(t, 3)
	e.seals.MaxLeaves = 150 // many seals, so migrated runs span several
	ctx := context.Background()
	entries := e.postMany(t, 300)
	e.seal(t)
	entries = append(entries, e.postMany(t, 420)...)
	last := e.seal(t)
	if last.TreeSize != 720 || last.N < 6 {
		t.Fatalf("last seal = n %d of %d leaves; want several seals of 720", last.N, last.TreeSize)
	}
	seals, err := e.seals.List(ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	roots := map[int64]tlog.Hash{}
	for _, s := range seals {
		_, size, root := openCheckpoint(t, s.Checkpoint, e.seals.Verifier)
		roots[size] = root
	}
	index := map[string]int64{}
	for _, en := range entries {
		p, err := e.seals.ProveInclusion(ctx, en.ID, 0)
		if err != nil {
			t.Fatal(err)
		}
		index[en.ID] = p.Index
	}

	// The layout before 035: its tables as 028 created them, one row per
	// stored hash, no runs.
	steps, err := schema.Steps()
	if err != nil {
		t.Fatal(err)
	}
	var old, m035 []string
	for _, s := range steps {
		if s.Version == 28 && strings.Contains(s.SQL, "merkle_") {
			old = append(old, s.SQL)
		}
		if s.Version == 35 {
			m035 = append(m035, s.SQL)
		}
	}
	if len(old) != 2 || len(m035) == 0 {
		t.Fatalf("found %d merkle tables in 028 and %d steps in 035", len(old), len(m035))
	}
	for _, sql := range old {
		if _, err := e.db.Admin.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	// Every stored hash of the tree, each level (seals store levels 0 to 4
	// no more since 050): the tree built in memory from the leaves.
	leaves := make([]ledger.Position, len(entries))
	for _, en := range entries {
		leaves[index[en.ID]] = ledger.Position{ID: en.ID, Shard: en.Shard, Seq: en.Seq, Hash: en.Hash}
	}
	tree := &memTree{}
	for _, p := range leaves {
		tree.add(t, seal.LeafBytes(p))
	}
	if tree.root(t) != roots[720] {
		t.Fatal("the tree built in memory has another root than the last checkpoint's")
	}
	idx, hashes := make([]int64, len(tree.hashes)), make([][]byte, len(tree.hashes))
	for i, h := range tree.hashes {
		idx[i], hashes[i] = int64(i), h[:]
	}
	if _, err := e.db.Admin.Exec(ctx, `INSERT INTO merkle_hashes (idx, hash) SELECT * FROM unnest($1::bigint[], $2::bytea[])`, idx, hashes); err != nil {
		t.Fatal(err)
	}
	if _, err := e.db.Admin.Exec(ctx, `DELETE FROM merkle_hash_runs; DELETE FROM merkle_upper_runs`); err != nil {
		t.Fatal(err)
	}
	// 035 twice: a migrator may run its steps again (schema/doc.go).
	for _, sql := range append(m035, m035...) {
		if _, err := e.db.Admin.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	var runs, stored, gone int64
	if err := e.db.Admin.QueryRow(ctx, `SELECT count(*), sum(length(hashes)) / 32, (SELECT count(*) FROM pg_tables WHERE tablename IN ('merkle_hashes', 'merkle_leaves')) FROM merkle_hash_runs`).Scan(&runs, &stored, &gone); err != nil {
		t.Fatal(err)
	}
	if want := int64(2*720 - 4); runs != 2 || stored != want || gone != 0 { // 720 = 0b1011010000: four ones
		t.Fatalf("after 035: %d runs of %d hashes, %d old tables; want 2 runs of %d hashes (blocks of 1024), none", runs, stored, gone, want)
	}

	if probs := e.problems(t); len(probs) != 0 {
		t.Fatalf("Verify after 035: %+v", probs)
	}
	for _, en := range entries {
		p, err := e.seals.ProveInclusion(ctx, en.ID, 0)
		if err != nil {
			t.Fatalf("ProveInclusion(%s) after 035: %v", en.ID, err)
		}
		if p.Index != index[en.ID] {
			t.Fatalf("entry %s is leaf %d after 035, %d before", en.ID, p.Index, index[en.ID])
		}
		if err := tlog.CheckRecord(p.Hashes, p.Size, roots[720], p.Index, tlog.RecordHash(p.Leaf)); err != nil {
			t.Fatalf("tlog.CheckRecord(%s) after 035: %v", en.ID, err)
		}
	}
	for _, s := range seals {
		pr, err := e.seals.ProveConsistency(ctx, s.TreeSize, 720)
		if err != nil {
			t.Fatal(err)
		}
		if err := tlog.CheckTree(pr, 720, roots[720], s.TreeSize, roots[s.TreeSize]); err != nil {
			t.Fatalf("tlog.CheckTree(%d → 720) after 035: %v", s.TreeSize, err)
		}
	}

	// Sealing goes on after the migrated runs.
	more := e.postMany(t, 30)
	s := e.seal(t)
	if s.TreeSize != 750 {
		t.Fatalf("seal after 035 has %d leaves, want 750", s.TreeSize)
	}
	_, _, root := openCheckpoint(t, s.Checkpoint, e.seals.Verifier)
	for _, en := range append(more, entries[0], entries[719]) {
		p, err := e.seals.ProveInclusion(ctx, en.ID, 0)
		if err != nil {
			t.Fatal(err)
		}
		if err := tlog.CheckRecord(p.Hashes, p.Size, root, p.Index, tlog.RecordHash(p.Leaf)); err != nil {
			t.Fatalf("tlog.CheckRecord(%s) in the tree of 750: %v", en.ID, err)
		}
	}
	if probs := e.problems(t); len(probs) != 0 {
		t.Fatalf("Verify after sealing on: %+v", probs)
	}

	// A changed byte in the migrated run of storage indexes 1024 on (it
	// spans seals) is found and named.
	if _, err := e.db.Admin.Exec(ctx, `UPDATE merkle_hash_runs SET hashes = set_byte(hashes, 100, get_byte(hashes, 100) # 1) WHERE first_idx = 1024`); err != nil {
		t.Fatal(err)
	}
	probs := e.problems(t)
	if len(probs) == 0 || probs[0].Kind != seal.ProblemMerkle || !strings.Contains(probs[0].Detail, "merkle hash 1027 (in the run from 1024)") {
		t.Fatalf("Verify after a changed byte of a migrated run = %+v; want merkle hash 1027 named", probs)
	}
}
