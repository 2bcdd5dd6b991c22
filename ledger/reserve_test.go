package ledger_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/folioledger/folio"
	"github.com/folioledger/folio/ledger"
)

// TestReservedKinds: once an engine reserves its kinds, only batches with
// its Options.Owner write entries of those kinds or reverse, post or void
// them — nor the entries that reverse or complete them — whatever the
// route; every refusal changes nothing. The expiry sweeper still voids an
// engine's expired pending entry.
func TestReservedKinds(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.ledger.Reserve(ledger.Reservation{Owner: "eng", Kinds: []string{"eng_fee", "eng_hold"},
		Route: func(kind string, target *ledger.Entry) string {
			if target == nil {
				return "use the engine's route"
			}
			return "of engine batch " + target.BatchID + ": ask the engine"
		}})
	owner := ledger.Options{Owner: "eng"}
	fee := entry("fee-1", "110:USD", "debit", "10", "101:USD", "credit", "10")
	fee.Kind, fee.BatchID = "eng_fee", "b-1"
	hold := entry("hold-1", "201:USD:alice", "debit", "5", "230:USD:alice", "credit", "5")
	hold.Kind, hold.Pending = "eng_hold", true
	e.fund(t, "fund", "201:USD:alice", "100")
	before := loadBooks(t, e)

	// Clients (no owner) and other engines cannot write the kinds.
	for _, opts := range []ledger.Options{{}, {Owner: "other"}, {Atomic: true}} {
		res, _ := e.ledger.Apply(ctx, []ledger.Op{newOp(fee)}, opts)
		if len(res) != 1 || folio.ErrorCode(res[0].Err) != folio.EINVALID || !strings.Contains(res[0].Err.Error(), `"eng_fee"`) ||
			!strings.Contains(res[0].Err.Error(), "use the engine's route") {
			t.Fatalf("client write of eng_fee with %+v = %+v, want invalid_request naming the kind", opts, res)
		}
	}
	e.unchanged(t, before, "refused client writes")

	// The owner can.
	res := e.apply(t, owner, newOp(fee), newOp(hold))
	if res[0].Err != nil || res[1].Err != nil {
		t.Fatalf("owner writes = %+v", res)
	}
	feeE, holdE := res[0].Entry, res[1].Entry

	// Clients cannot reverse, post or void them.
	before = loadBooks(t, e)
	for name, op := range map[string]ledger.Op{"reverse fee": reverseOp(feeE.ID), "post fee": postOp(feeE.ID), "void fee": voidOp(feeE.ID),
		"post hold": postOp(holdE.ID), "void hold": voidOp(holdE.ID), "reverse hold": reverseOp(holdE.ID)} {
		err := e.one(t, op).Err
		wantCode(t, name, err, folio.ECONFLICT)
		if !strings.Contains(err.Error(), "is a eng_") || !strings.Contains(err.Error(), "ask the engine") {
			t.Errorf("%s: %v, want the entry's kind and the owner's route", name, err)
		}
	}
	e.unchanged(t, before, "refused client operations")

	// The owner posts the hold; a client cannot reverse that completion
	// (it would undo the engine's entry), nor the owner's reversal of the fee.
	res = e.apply(t, owner, postOp(holdE.ID), reverseOp(feeE.ID))
	if res[0].Err != nil || res[1].Err != nil {
		t.Fatalf("owner post and reverse = %+v", res)
	}
	before = loadBooks(t, e)
	for name, id := range map[string]string{"completion": res[0].Entry.ID, "reversal": res[1].Entry.ID} {
		err := e.one(t, reverseOp(id)).Err
		wantCode(t, "reverse the owner's "+name, err, folio.ECONFLICT)
		if !strings.Contains(err.Error(), id) || !strings.Contains(err.Error(), "a eng_") {
			t.Errorf("reverse the owner's %s: %v, want it named with the engine entry's kind", name, err)
		}
	}
	e.unchanged(t, before, "refused reversals of the owner's follow-ups")

	// The sweeper voids an owner's expired pending entry.
	expiring := entry("hold-2", "201:USD:alice", "debit", "1", "230:USD:alice", "credit", "1")
	at := e.clock.t.Add(time.Hour)
	expiring.Kind, expiring.Pending, expiring.ExpiresAt = "eng_hold", true, &at
	if r := e.apply(t, owner, newOp(expiring)); r[0].Err != nil {
		t.Fatalf("owner hold with expiry: %v", r[0].Err)
	}
	e.clock.Advance(2 * time.Hour)
	if n, err := e.ledger.ExpirePending(ctx); n != 1 || err != nil {
		t.Fatalf("ExpirePending = %d, %v; want the engine's expired hold voided", n, err)
	}
	e.verify(t)
}

// Keys under the trade engine's unindexed prefixes (trade:, commission:;
// the key index leaves them out, migration 039) are refused to any batch
// that is not fresh, whoever writes it: only a writer that guarantees them
// unused with a unique row of its own may use them. A fresh batch may.
func TestUnindexedKeysOnlyInFreshBatches(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.fund(t, "fund", "201:USD:alice", "100")
	before := loadBooks(t, e)
	for _, key := range []string{"trade:t-1", "commission:t-1"} {
		ne := entry(key, "201:USD:alice", "debit", "5", "605:USD", "credit", "5")
		for _, opts := range []ledger.Options{{}, {Owner: "eng"}, {Atomic: true}} {
			res, _ := e.ledger.Apply(ctx, []ledger.Op{newOp(ne)}, opts)
			if len(res) != 1 || folio.ErrorCode(res[0].Err) != folio.EINVALID || !strings.Contains(res[0].Err.Error(), "fresh batches only") {
				t.Fatalf("%s with %+v = %+v, want invalid_request", key, opts, res)
			}
		}
		rev := reverseOp("00000000-0000-7000-8000-000000000001")
		rev.Reverse.IdempotencyKey = key
		if err := e.one(t, rev).Err; folio.ErrorCode(err) != folio.EINVALID {
			t.Errorf("reverse under %s = %v, want invalid_request", key, err)
		}
	}
	e.unchanged(t, before, "refused unindexed keys")

	res := e.apply(t, ledger.Options{Fresh: true}, newOp(entry("trade:t-2", "201:USD:alice", "debit", "5", "605:USD", "credit", "5")))
	if res[0].Err != nil || res[0].Entry == nil {
		t.Fatalf("fresh batch under trade:t-2 = %+v", res)
	}
	e.verify(t)
}
