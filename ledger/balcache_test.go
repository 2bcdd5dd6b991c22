package ledger_test

import (
	"context"
	"errors"
	"testing"

	"github.com/folioledger/folio/ledger"
	"github.com/jackc/pgx/v5"
)

// A writer reads from the database only the balance rows it has not seen
// at the head it locks: rows it wrote itself come from its cache, and
// every write it did not make — another server's, or its own that rolled
// back — sends it back to the database, with balances that stay exact.
func TestBalanceCacheFollowsTheHead(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	a := e.ledger
	b := ledger.New(e.app) // a second server on the same database
	b.Now = e.clock.Now
	// Every entry goes to alice's shard, however many the journal has.
	alice := func(key, amount string) ledger.NewEntry {
		ne := entry(key, "110:USD", "debit", amount, "201:USD:alice", "credit", amount)
		ne.Route = "alice"
		return ne
	}
	// step posts amount under key through l and checks how many balance
	// rows l read from the database for it.
	step := func(l *ledger.Ledger, key, amount string, want int64, when string) {
		t.Helper()
		before := ledger.BalanceRowsRead(l)
		res, err := l.Post(ctx, []ledger.NewEntry{alice(key, amount)}, ledger.Options{})
		if err != nil || res[0].Err != nil {
			t.Fatalf("post %s: %v %v", key, err, res[0].Err)
		}
		if n := ledger.BalanceRowsRead(l) - before; n != want {
			t.Errorf("%s: %s read %d balance rows from the database, want %d", when, key, n, want)
		}
	}

	step(a, "c1", "1.00", 2, "first entry")
	step(a, "c2", "2.00", 0, "second entry of the same writer (its cache)")
	step(b, "c3", "4.00", 2, "the other server")
	step(a, "c4", "8.00", 2, "after another server's entry (the writer's head is stale)")
	e.wantBalance(t, "201:USD:alice", "15", "0", "15")

	// An entry applied in a transaction that rolls back leaves the cache
	// ahead of the database; the next write must not believe it.
	errRollback := errors.New("roll back")
	err := a.JournalTx(ctx, func(tx pgx.Tx) error {
		res, err := a.ApplyTx(ctx, tx, []ledger.Op{newOp(alice("c5", "16.00"))}, ledger.Options{})
		if err != nil || res[0].Err != nil {
			t.Fatalf("apply c5: %v %v", err, res[0].Err)
		}
		return errRollback
	})
	if !errors.Is(err, errRollback) {
		t.Fatalf("JournalTx = %v, want the rollback", err)
	}
	step(a, "c6", "32.00", 2, "after a rollback")
	step(a, "c7", "64.00", 0, "after that")
	e.wantBalance(t, "201:USD:alice", "111", "0", "111")
	e.wantBalance(t, "110:USD", "111", "0", "111")
	e.verify(t)
}
