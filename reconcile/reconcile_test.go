package reconcile_test

import (
	"context"
	"testing"
	"time"

	"github.com/folioledger/folio/affiliate"
	"github.com/folioledger/folio/ledger"
	"github.com/folioledger/folio/payouts"
	"github.com/folioledger/folio/reconcile"
)

func TestReconcileCleanThenDiscrepancies(t *testing.T) {
	f := newFixture(t)
	brokerTree(t, f)
	ctx := context.Background()
	start := f.now.Add(-time.Hour)
	if _, err := f.svc.PostTrades(ctx, []affiliate.NewTrade{trade("r-1", "D", "100"), trade("r-2", "D", "0.000007")}); err != nil {
		t.Fatal(err)
	}
	pay := payouts.NewService(f.svc)
	b, _, err := pay.BuildBatch(ctx, payouts.BuildOptions{}, "admin-1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pay.ApproveBatch(ctx, b.ID, "admin-2"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := pay.ExecuteBatch(ctx, b.ID, "admin-2"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.ReverseTrade(ctx, "r-1", "test"); err != nil {
		t.Fatal(err)
	}
	end := f.now.Add(time.Hour)
	rep, err := reconcile.Run(ctx, f.app, start, end)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Discrepancies) != 0 {
		t.Fatalf("discrepancies = %+v, want none", rep.Discrepancies)
	}
	if len(rep.Currencies) != 1 {
		t.Fatalf("currencies = %+v", rep.Currencies)
	}
	c := rep.Currencies[0]
	for name, got := range map[string]string{"fees": ledger.Format(&c.FeesBooked), "paid": ledger.Format(&c.PaidOut),
		"reversed": ledger.Format(&c.Reversed), "closing": ledger.Format(&c.AccruedClosing), "residue": ledger.Format(&c.DeferredResidue)} {
		// 0.000007 pays C 0.000001 (25% rounded down); B and A round to 0.
		// r-1's reversal after the payout claws back 40: 208 ends at -40.
		want := map[string]string{"fees": "100.000007", "paid": "40.000001", "reversed": "-40", "closing": "-40", "residue": "0"}[name]
		if got != want {
			t.Errorf("%s = %s, want %s", name, got, want)
		}
	}
	// A manual entry credits 101 outside the trade flow: a residue.
	f.now = f.now.Add(time.Minute)
	if res, err := f.ledger.Post(ctx, []ledger.NewEntry{{IdempotencyKey: "stray", Postings: []ledger.NewPosting{
		{Account: "110:USDT", Side: "debit", Amount: "5"}, {Account: "101:USDT", Side: "credit", Amount: "5"}}}}, ledger.Options{}); err != nil || res[0].Err != nil {
		t.Fatalf("stray entry: %v %v", err, res)
	}
	// A superuser deletes the commission entry of r-2.
	var comm string
	if err := f.db.Admin.QueryRow(ctx, `SELECT commission_entry_id::text FROM trades WHERE id = 'r-2'`).Scan(&comm); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{`DELETE FROM postings WHERE entry_id = $1::uuid`, `DELETE FROM entries WHERE id = $1::uuid`} {
		if _, err := f.db.Admin.Exec(ctx, q, comm); err != nil {
			t.Fatal(err)
		}
	}
	rep, err = reconcile.Run(ctx, f.app, start, end)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]bool{}
	for _, d := range rep.Discrepancies {
		kinds[d.Kind] = true
	}
	for _, k := range []string{reconcile.DiscResidue, reconcile.DiscCommissionLink, reconcile.DiscAccruals, reconcile.DiscSplit} {
		if !kinds[k] {
			t.Errorf("discrepancies = %+v, want one of kind %s", rep.Discrepancies, k)
		}
	}
}
