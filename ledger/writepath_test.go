package ledger_test

import (
	"context"
	"errors"
	"fmt"
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

// The writer's UPDATE of balance rows joins them with its arguments, so it
// goes unnamed through the pipe, planned for its arguments each time: a
// generic plan cached while balances was small seq-scanned the table on
// every batch after (the prepared statement is never executed; the
// postings' INSERT, planned once, is).
func TestBalanceUpdatePlannedEachTime(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.post(t, entry("warm", "110:USD", "debit", "1", "201:USD:alice", "credit", "1"))
	var updates, inserts int64
	err := e.ledger.JournalTx(ctx, func(tx pgx.Tx) error {
		for i := range 7 {
			pipe := schema.NewPipe(tx, ledger.WriteStatements...)
			res, err := e.ledger.ApplyTx(ctx, tx, []ledger.Op{newOp(entry(fmt.Sprintf("again-%d", i), "110:USD", "debit", "1", "201:USD:alice", "credit", "1"))},
				ledger.Options{Atomic: true, Writes: pipe})
			if err != nil || res[0].Err != nil {
				return fmt.Errorf("batch %d: %v %v", i, err, res[0].Err)
			}
			if err := pipe.Close(); err != nil {
				return err
			}
		}
		return tx.QueryRow(ctx, `SELECT coalesce(sum(generic_plans + custom_plans) FILTER (WHERE statement = $1), 0),
				coalesce(sum(generic_plans + custom_plans) FILTER (WHERE statement LIKE 'INSERT INTO postings%'), 0)
			FROM pg_prepared_statements`, ledger.SQLUpdateBalances).Scan(&updates, &inserts)
	})
	if err != nil {
		t.Fatal(err)
	}
	if updates != 0 || inserts < 7 {
		t.Errorf("executions of the prepared statements: balances' UPDATE %d (want 0: sent unnamed), postings' INSERT %d (want ≥ 7)", updates, inserts)
	}
	e.wantBalance(t, "201:USD:alice", "8", "0", "8")
}
