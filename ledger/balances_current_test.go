package ledger_test

import (
	"context"
	"testing"

	"github.com/folioledger/folio/ledger"
)

// storedRow is a balance row as stored and as read (balances_current).
type storedRow struct {
	storedSeq, currentSeq       int64
	storedCredits, currentCreds string
}

func balanceRow(t *testing.T, e *env, account string) storedRow {
	t.Helper()
	var r storedRow
	err := e.db.Admin.QueryRow(context.Background(), `SELECT b.last_seq, c.last_seq, b.credits::text, c.credits::text
		FROM balances b JOIN balances_current c ON c.account = b.account AND c.shard = b.shard WHERE b.account = $1`, account).
		Scan(&r.storedSeq, &r.currentSeq, &r.storedCredits, &r.currentCreds)
	if err != nil {
		t.Fatalf("balance row %s: %v", account, err)
	}
	return r
}

// A balance row changed only by posted postings rows is left as stored
// (migration 048): its last postings row carries its figures, which every
// reader takes through balances_current; a pending line, a release or an
// inline line writes it again.
func TestBalanceRowsLeftAsStored(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.fund(t, "f1", "201:USD:alice", "10")
	e.fund(t, "f2", "201:USD:alice", "5")
	e.post(t, entry("f3", "201:USD:alice", "debit", "3", "201:USD:bob", "credit", "3"))
	r := balanceRow(t, e, "201:USD:alice")
	if r.storedSeq != 1 || r.currentSeq != 3 || fmtDec(t, r.storedCredits) != "10" || fmtDec(t, r.currentCreds) != "15" {
		t.Fatalf("alice's row after three posted entries: %+v; want stored as of seq 1 (credits 10), read as of seq 3 (credits 15)", r)
	}
	e.wantBalance(t, "201:USD:alice", "12", "0", "12")
	e.verify(t)

	// A ledger that has cached nothing (another server) reads the row as
	// balances_current gives it, and its next line goes on from there.
	other := ledger.New(e.ledger.DB)
	other.Now = e.clock.Now
	res, err := other.Apply(ctx, []ledger.Op{newOp(entry("f4", "110:USD", "debit", "1", "201:USD:alice", "credit", "1"))}, ledger.Options{Atomic: true})
	if err != nil || res[0].Err != nil {
		t.Fatalf("post from another ledger: %v %v", err, res)
	}
	if got := ledger.Format(&res[0].Entry.Postings[1].BalanceAfter); got != "13" {
		t.Errorf("alice's balance_after posted by a fresh ledger = %s, want 13", got)
	}

	// A pending line writes the row (pending figures are no postings
	// row's running figures).
	hold := entry("h1", "201:USD:alice", "debit", "4", "110:USD", "credit", "4")
	hold.Pending = true
	e.post(t, hold)
	r = balanceRow(t, e, "201:USD:alice")
	if r.storedSeq != 5 || r.currentSeq != 5 || r.storedCredits != r.currentCreds {
		t.Errorf("alice's row after a pending line: %+v; want stored and read as of seq 5", r)
	}
	e.wantBalance(t, "201:USD:alice", "13", "4", "9")
	e.verify(t)

	// What the row stores and no reader reads any more is still checked:
	// figures that the lines up to its last_seq do not give are tampering.
	e.post(t, entry("f5", "110:USD", "debit", "2", "201:USD:alice", "credit", "2"))
	if _, err := e.db.Admin.Exec(ctx, `UPDATE balances SET credits = credits + 1, balance = balance + 1 WHERE account = '201:USD:alice'`); err != nil {
		t.Fatal(err)
	}
	e.wantBalance(t, "201:USD:alice", "15", "4", "11") // readers read the last postings row
	rep, err := e.ledger.Verify(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK || len(rep.Problems) != 1 || !matches(rep.Problems[0], ledger.Problem{Kind: ledger.ProblemBalance, Account: "201:USD:alice"}) {
		t.Errorf("Verify after a superseded figure was changed: ok %t, problems %+v; want one balance problem of alice", rep.OK, rep.Problems)
	}
}

func fmtDec(t *testing.T, s string) string {
	d := dec(t, s)
	return ledger.Format(&d)
}
