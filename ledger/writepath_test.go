package ledger_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/folioledger/folio/ledger"
	"github.com/folioledger/folio/schema"
)

// A batch larger than one write chunk, sent through a pipe, is written in
// several statements that chain exactly as one would: seqs gapless, every
// hash verifying, running balances continuous across chunk boundaries.
func TestPipelinedBatchAcrossChunks(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	const n = 1234 // > 2 chunks of 500
	ops := make([]ledger.Op, n)
	for i := range ops {
		ops[i] = newOp(entry(fmt.Sprintf("chunk-%d", i), "110:USD", "debit", "1.01", "201:USD:alice", "credit", "1.01"))
	}
	var res []ledger.Result
	err := e.ledger.JournalTx(ctx, func(tx pgx.Tx) error {
		pipe := schema.NewPipe(tx, ledger.WriteStatements...)
		defer pipe.Close()
		var err error
		if res, err = e.ledger.ApplyTx(ctx, tx, ops, ledger.Options{Atomic: true, Writes: pipe}); err != nil {
			return err
		}
		if pipe.Statements() < 2*3+2 { // entries + postings per chunk, balances, head
			t.Errorf("the pipe sent %d statements, want the batch in %d chunks", pipe.Statements(), 3)
		}
		return pipe.Close()
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		if r.Err != nil || r.Entry.Seq != int64(i+1) {
			t.Fatalf("item %d: %+v", i, r)
		}
	}
	if got := ledger.Format(&res[n-1].Entry.Postings[1].BalanceAfter); got != "1246.34" {
		t.Errorf("alice's balance after the last entry = %s, want 1246.34", got)
	}
	e.wantBalance(t, "201:USD:alice", "1246.34", "0", "1246.34")
	if n := e.count(t, "postings"); n != 2*1234 {
		t.Errorf("postings = %d, want %d", n, 2*1234)
	}
	e.verify(t)
}

// Options.Fresh skips the look-ups of ids and keys; a caller that breaks
// its guarantee gets the unique index's error, never a second entry under
// one key.
func TestFreshBatchWithAUsedKeyFails(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.post(t, entry("fresh-1", "110:USD", "debit", "5", "201:USD:alice", "credit", "5"))
	before := loadBooks(t, e)
	_, err := e.ledger.Apply(ctx, []ledger.Op{
		newOp(entry("fresh-2", "110:USD", "debit", "1", "201:USD:bob", "credit", "1")),
		newOp(entry("fresh-1", "110:USD", "debit", "5", "201:USD:alice", "credit", "5")),
	}, ledger.Options{Fresh: true})
	var pg *pgconn.PgError
	if !errors.As(err, &pg) || pg.Code != "23505" {
		t.Fatalf("Fresh batch reusing a stored key: error %v, want a unique violation (23505)", err)
	}
	e.unchanged(t, before, "a Fresh batch that broke its guarantee")

	res := e.apply(t, ledger.Options{Fresh: true},
		newOp(entry("fresh-3", "110:USD", "debit", "2", "201:USD:bob", "credit", "2")),
		newOp(entry("fresh-3", "110:USD", "debit", "2", "201:USD:bob", "credit", "2")))
	if res[0].Err != nil || !res[1].Replayed || res[1].Entry.ID != res[0].Entry.ID {
		t.Errorf("in-batch duplicate under Fresh = %+v, %+v; want the second a replay of the first", res[0], res[1])
	}
	e.wantBalance(t, "201:USD:bob", "2", "0", "2")
	e.verify(t)
}

// The writer's UPDATE of balance rows joins them with its arguments: the
// pipe prepares it under its size generation (schema.Sized), and a group
// commit's transaction (GroupJournalTx) runs its generic plan, planned once
// per connection and generation instead of every batch; when the journal
// has doubled, the next batch prepares it again under the new generation.
// (Sent unnamed before, it was planned every batch; a generic plan cached
// while balances was small would have seq-scanned the table after.)
func TestBalanceUpdateSizedStatement(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	// 605:USD's lines after the first of its block are inline: its row
	// is written by every batch (a holder account's is not: migration 048).
	e.post(t, entry("warm", "110:USD", "debit", "1", "605:USD", "credit", "1"))
	type prepared struct {
		names           []string
		generic, custom int64
	}
	batches := func(from, n int) prepared {
		t.Helper()
		var p prepared
		err := ledger.GroupJournalTx(ctx, e.ledger.DB, func(tx pgx.Tx) error {
			for i := from; i < from+n; i++ {
				pipe := schema.NewPipe(tx, ledger.WriteStatements...)
				res, err := e.ledger.ApplyTx(ctx, tx, []ledger.Op{newOp(entry(fmt.Sprintf("again-%d", i), "110:USD", "debit", "1", "605:USD", "credit", "1"))},
					ledger.Options{Atomic: true, Writes: pipe})
				if err != nil || res[0].Err != nil {
					return fmt.Errorf("batch %d: %v %v", i, err, res[0].Err)
				}
				if err := pipe.Close(); err != nil {
					return err
				}
			}
			rows, err := tx.Query(ctx, `SELECT name, generic_plans, custom_plans FROM pg_prepared_statements WHERE statement = $1 ORDER BY name`, ledger.SQLUpdateBalances)
			if err != nil {
				return err
			}
			for rows.Next() {
				var name string
				var g, c int64
				if err := rows.Scan(&name, &g, &c); err != nil {
					return err
				}
				p.names, p.generic, p.custom = append(p.names, name), p.generic+g, p.custom+c
			}
			return rows.Err()
		})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	// The journal grows from seq 1 to 8 over these batches: prepared again
	// at each doubling (at most 4 names), never planned per batch. On the
	// CockroachDB path the transaction does not force generic plans (it
	// runs as CockroachDB runs it, which has no plan_cache_mode): there
	// PostgreSQL plans a prepared statement's first five runs for their
	// arguments, as it does by default; the sized names are the same.
	generic := e.ledger.DB.WriterMode(ctx) == schema.ModePostgres
	customs := func(p prepared) int64 {
		if generic {
			return p.custom
		}
		return 0
	}
	first := batches(0, 7)
	if len(first.names) < 1 || len(first.names) > 4 || first.generic+first.custom != 7 || customs(first) != 0 {
		t.Fatalf("after 7 batches: prepared as %q, %d generic and %d custom plans; want at most 4 sized statements run 7 times on their generic plans", first.names, first.generic, first.custom)
	}
	for _, n := range first.names {
		if !strings.HasPrefix(n, "/* size generation ") {
			t.Fatalf("prepared as %q: not a sized name", n)
		}
	}
	schema.NoteGrowth(1 << 40) // the journal has grown: a new generation
	second := batches(7, 1)
	current := schema.Sized("")
	if !slices.ContainsFunc(second.names, func(n string) bool { return strings.HasPrefix(n, current) }) || slices.Contains(first.names, current+ledger.SQLUpdateBalances) || customs(second) != 0 {
		t.Fatalf("after the journal grew: prepared as %q (%d custom plans); want it prepared anew as %q…", second.names, second.custom, current)
	}
	e.wantBalance(t, "605:USD", "9", "0", "9")
}
