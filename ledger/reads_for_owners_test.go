package ledger_test

import (
	"context"
	"testing"
	"time"

	"github.com/folioledger/folio/ledger"
	"github.com/jackc/pgx/v5"
)

// TestCurrentBalance: the balance an owner package reads in its own
// transaction is the journal's, zero for an account never posted to.
func TestCurrentBalance(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.post(t, entry("k1", "110:USDT", "debit", "100.5", "201:USDT:alice", "credit", "100.5"))
	for _, tt := range []struct{ account, want string }{
		{"201:USDT:alice", "100.5"},
		{"110:USDT", "100.5"},
		{"201:USDT:bob", "0"},
	} {
		err := e.app.ReadTx(ctx, func(tx pgx.Tx) error {
			got, err := ledger.CurrentBalance(ctx, tx, tt.account)
			if err != nil {
				return err
			}
			if s := ledger.Format(&got); s != tt.want {
				t.Errorf("CurrentBalance(%s) = %s, want %s", tt.account, s, tt.want)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("CurrentBalance(%s): %v", tt.account, err)
		}
	}
}

// TestClosingBalancesAt: balances by effective time before a bound,
// counting only the entries within a cut, on each account's normal side;
// pending postings do not count.
func TestClosingBalancesAt(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	end := e.clock.t
	early := entry("k1", "110:USDT", "debit", "100.5", "201:USDT:alice", "credit", "100.5")
	early.EffectiveAt = end.Add(-2 * time.Hour)
	e.post(t, early)
	late := entry("k2", "110:USDT", "debit", "7", "201:USDT:alice", "credit", "7") // effective at the bound: after
	e.post(t, late)
	held := entry("k3", "201:USDT:alice", "debit", "3", "110:USDT", "credit", "3")
	held.Pending, held.EffectiveAt = true, end.Add(-time.Hour)
	e.post(t, held)
	var cut ledger.Cut
	read := func(c ledger.Cut) map[string]string {
		t.Helper()
		out := map[string]string{}
		err := e.app.ReadTx(ctx, func(tx pgx.Tx) error {
			bs, err := ledger.ClosingBalancesAt(ctx, tx, end, c)
			for _, b := range bs {
				out[b.Account.String()] = ledger.Format(&b.Balance)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	err := e.app.ReadTx(ctx, func(tx pgx.Tx) error {
		hs, err := ledger.Heads(ctx, tx)
		for _, h := range hs {
			cut = append(cut, h.Seq)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := read(cut); len(got) != 2 || got["110:USDT"] != "100.5" || got["201:USDT:alice"] != "100.5" {
		t.Fatalf("ClosingBalancesAt(head) = %v, want 110 and 201 at 100.5 (the entry at the bound and the pending one left out)", got)
	}
	if got := read(make(ledger.Cut, len(cut))); len(got) != 0 {
		t.Fatalf("ClosingBalancesAt(empty cut) = %v, want nothing", got)
	}
}
