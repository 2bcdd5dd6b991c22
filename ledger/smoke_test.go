package ledger_test

import (
	"context"
	"testing"

	"github.com/folioledger/folio"
	"github.com/folioledger/folio/ledger"
)

func TestPostReplayConflictReverse(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	first := e.post(t, entry("k1", "110:USDT", "debit", "100.5", "201:USDT:alice", "credit", "100.5"))
	if first.Seq != 1 {
		t.Fatalf("seq = %d, want 1", first.Seq)
	}
	if got := e.balance(t, "201:USDT:alice"); got != "100.5" {
		t.Fatalf("balance = %s, want 100.5", got)
	}
	res, err := e.ledger.Post(ctx, []ledger.NewEntry{entry("k1", "110:USDT", "debit", "100.5", "201:USDT:alice", "credit", "100.5")}, ledger.Options{})
	if err != nil || !res[0].Replayed || res[0].Entry.ID != first.ID {
		t.Fatalf("replay = %+v, %v; want replay of %s", res[0], err, first.ID)
	}
	res, _ = e.ledger.Post(ctx, []ledger.NewEntry{entry("k1", "110:USDT", "debit", "100", "201:USDT:alice", "credit", "100")}, ledger.Options{})
	if folio.ErrorCode(res[0].Err) != folio.EIDEMPOTENCY {
		t.Fatalf("conflict err = %v, want idempotency_conflict", res[0].Err)
	}
	rr, err := e.ledger.Apply(ctx, []ledger.Op{{Reverse: &ledger.ReverseOp{EntryID: first.ID}}}, ledger.Options{})
	if err != nil || rr[0].Err != nil {
		t.Fatalf("reverse: %v %v", err, rr[0].Err)
	}
	if got := e.balance(t, "201:USDT:alice"); got != "0" {
		t.Fatalf("balance after reversal = %s, want 0", got)
	}
	rr, _ = e.ledger.Apply(ctx, []ledger.Op{{Reverse: &ledger.ReverseOp{EntryID: first.ID}}}, ledger.Options{})
	if folio.ErrorCode(rr[0].Err) != folio.EREVERSED {
		t.Fatalf("second reverse err = %v, want already_reversed", rr[0].Err)
	}
	e.verify(t)
}
