package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/apd/v3"

	"github.com/folioledger/folio/affiliate"
	"github.com/folioledger/folio/ledger"
	"github.com/folioledger/folio/payouts"
	"github.com/folioledger/folio/reconcile"
	"github.com/folioledger/folio/schema"
	"github.com/folioledger/folio/schema/schematest"
)

// monthOfActivity books a month of generated activity: a levels program
// (the default), a differential program for one tree, a signup bounty in
// TOKEN, trades in USDT and BTC with FX rates into USD, a few reversals and
// an executed payout batch. It returns the period covering it.
func monthOfActivity(t *testing.T) (*schematest.DB, *schema.DB, time.Time, time.Time) {
	t.Helper()
	ctx := context.Background()
	db, app := appDB(t)
	clock := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	now := func() time.Time { return clock }
	l := ledger.New(app)
	l.Now = now
	svc := affiliate.NewService(app, l)
	svc.Now = now
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	_, err := svc.PutProgram(ctx, "broker", affiliate.ProgramSpec{Kind: "levels", Levels: []string{"0.25", "0.10", "0.05"}, Default: true}, "t")
	must(err)
	_, err = svc.PutProgram(ctx, "orderly", affiliate.ProgramSpec{Kind: "differential", MinPassDown: "0.10"}, "t")
	must(err)
	_, err = svc.PutProgram(ctx, "viral", affiliate.ProgramSpec{Kind: "bounty", Currency: "TOKEN", Events: map[string][]json.RawMessage{"signup": {json.RawMessage(`"50"`), json.RawMessage(`"10"`)}}}, "t")
	must(err)
	must(svc.PutRate(ctx, "USDT", "USD", "feed", *apd.New(999, -3), clock, "t"))
	must(svc.PutRate(ctx, "BTC", "USD", "feed", *apd.New(60000, 0), clock, "t"))
	users := []struct{ id, ref string }{{"A", ""}, {"B", "A"}, {"C", "B"}, {"D", "C"}, {"E", "C"}, {"X", ""}, {"Y", "X"}, {"Z", "Y"}}
	for _, u := range users {
		_, _, err := svc.CreateUser(ctx, affiliate.NewUser{ID: u.id})
		must(err)
		if u.ref != "" {
			must(svc.SetReferrer(ctx, u.id, u.ref, "t"))
		}
	}
	for _, id := range []string{"X", "Y", "Z"} {
		must(svc.AssignProgram(ctx, id, "orderly", "t"))
	}
	must(svc.SetRate(ctx, "X", *apd.New(5, -1), "t"))
	must(svc.SetRate(ctx, "Y", *apd.New(35, -2), "t"))
	must(svc.SetRate(ctx, "Z", *apd.New(25, -2), "t"))
	rng := rand.New(rand.NewPCG(1, 1))
	from := clock
	n := 0
	for day := 0; day < 30; day++ {
		clock = from.Add(time.Duration(day)*24*time.Hour + time.Hour)
		var batch []affiliate.NewTrade
		for k := 0; k < 5; k++ {
			n++
			tr := affiliate.NewTrade{ID: fmt.Sprintf("m-%d", n), UserID: []string{"D", "E", "Z", "C"}[rng.IntN(4)], Market: "BTCUSDT",
				Liquidity: "taker", ExecutedAt: clock.Add(-time.Minute), Fee: &affiliate.Money{Amount: fmt.Sprintf("%d.%06d", 1+rng.IntN(30), rng.IntN(1000000)), Currency: "USDT"}}
			if k == 4 {
				tr.Fee = &affiliate.Money{Amount: fmt.Sprintf("0.%08d", 1+rng.IntN(99999999)), Currency: "BTC"}
			}
			batch = append(batch, tr)
		}
		res, err := svc.PostTrades(ctx, batch)
		must(err)
		for _, r := range res {
			if r.Err != nil {
				t.Fatal(r.Err)
			}
		}
		if day%7 == 3 {
			_, err := svc.ReverseTrade(ctx, fmt.Sprintf("m-%d", n-1), "t")
			must(err)
		}
		if day == 20 {
			pay := payouts.NewService(svc)
			b, _, err := pay.BuildBatch(ctx, payouts.BuildOptions{}, "admin-1")
			must(err)
			_, err = pay.ApproveBatch(ctx, b.ID, "admin-2")
			must(err)
			_, _, err = pay.ExecuteBatch(ctx, b.ID, "admin-2")
			must(err)
		}
	}
	return db, app, from, clock.Add(time.Hour)
}

func reconcileCLI(t *testing.T, db *schematest.DB, from, to time.Time) (string, int) {
	t.Helper()
	stdout, _, code := cli(t, context.Background(), "reconcile", "--database-url", db.URL, "--from", from.Format(time.RFC3339), "--to", to.Format(time.RFC3339))
	return stdout, code
}

// TestReconcileMonth: a month of activity reconciles clean; then each kind
// of discrepancy, injected directly into the database, is reported and
// makes `folio reconcile` exit 1.
func TestReconcileMonth(t *testing.T) {
	clearEnv(t)
	ctx := context.Background()
	injections := []struct {
		kind   string
		inject func(t *testing.T, db *schematest.DB, app *schema.DB)
	}{
		{reconcile.DiscResidue, func(t *testing.T, db *schematest.DB, app *schema.DB) {
			mustExec(t, db, `UPDATE postings SET balance_after = balance_after + 1 WHERE (entry_id, idx) IN
				(SELECT entry_id, idx FROM postings WHERE account = '101:USDT' ORDER BY seq DESC, idx DESC LIMIT 1)`)
		}},
		{reconcile.DiscSplit, func(t *testing.T, db *schematest.DB, app *schema.DB) {
			mustExec(t, db, `UPDATE postings SET amount = amount + 1 WHERE (entry_id, idx) IN
				(SELECT p.entry_id, p.idx FROM postings p JOIN entries e ON e.id = p.entry_id WHERE e.kind = 'commission' AND p.account = '605:USDT' LIMIT 1)`)
		}},
		{reconcile.DiscRollForward, func(t *testing.T, db *schematest.DB, app *schema.DB) {
			mustExec(t, db, `UPDATE postings SET balance_after = balance_after + 1 WHERE (entry_id, idx) IN
				(SELECT entry_id, idx FROM postings WHERE account = '208:USDT:C' ORDER BY seq DESC, idx DESC LIMIT 1)`)
		}},
		{reconcile.DiscCommissionLink, func(t *testing.T, db *schematest.DB, app *schema.DB) {
			mustExec(t, db, `DELETE FROM postings WHERE entry_id = (SELECT commission_entry_id FROM trades WHERE id = 'm-7')`)
			mustExec(t, db, `DELETE FROM entries WHERE id = (SELECT commission_entry_id FROM trades WHERE id = 'm-7')`)
		}},
		{reconcile.DiscAccruals, func(t *testing.T, db *schematest.DB, app *schema.DB) {
			mustExec(t, db, `UPDATE accruals SET amount = amount + 1 WHERE id = (SELECT id FROM accruals WHERE trade_id = 'm-9' LIMIT 1)`)
		}},
		{reconcile.DiscAdjustment, func(t *testing.T, db *schematest.DB, app *schema.DB) {
			// A manual entry through the ledger itself (as an operator
			// could) moves 208 outside the commission flow.
			l := ledger.New(app)
			l.Now = func() time.Time { return time.Date(2026, 3, 25, 0, 0, 0, 0, time.UTC) }
			res, err := l.Post(ctx, []ledger.NewEntry{{IdempotencyKey: "adj", Postings: []ledger.NewPosting{
				{Account: "208:USDT:C", Side: "debit", Amount: "1"}, {Account: "201:USDT:C", Side: "credit", Amount: "1"}}}}, ledger.Options{})
			if err != nil || res[0].Err != nil {
				t.Fatal(err, res)
			}
		}},
	}
	for _, tc := range injections {
		t.Run(tc.kind, func(t *testing.T) {
			db, app, from, to := monthOfActivity(t)
			if out, code := reconcileCLI(t, db, from, to); code != 0 {
				t.Fatalf("clean month: exit %d, want 0\n%s", code, out)
			}
			tc.inject(t, db, app)
			out, code := reconcileCLI(t, db, from, to)
			if code != 1 {
				t.Fatalf("after injecting %s: exit %d, want 1\n%s", tc.kind, code, out)
			}
			if !strings.Contains(out, `"kind": "`+tc.kind+`"`) {
				t.Fatalf("after injecting %s the report lacks it:\n%s", tc.kind, out)
			}
		})
	}
}

func mustExec(t *testing.T, db *schematest.DB, sql string) {
	t.Helper()
	tag, err := db.Admin.Exec(context.Background(), sql)
	if err != nil {
		t.Fatal(err)
	}
	if tag.RowsAffected() == 0 {
		t.Fatalf("%s changed nothing", sql)
	}
}
