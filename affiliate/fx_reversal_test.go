package affiliate_test

import (
	"context"
	"testing"
	"time"

	"github.com/cockroachdb/apd/v3"
	"github.com/folioledger/folio/affiliate"
)

// A reversal's accrual rows reuse the original rows' FX rate, so reporting
// amounts net to zero even after the rate moved.
func TestReversalReusesOriginalFXRate(t *testing.T) {
	f := newFixture(t)
	brokerTree(t, f)
	c := context.Background()
	if err := f.svc.PutRate(c, "USDT", "USD", "feed", *apd.New(999, -3), f.now.Add(-time.Hour), "t"); err != nil {
		t.Fatal(err)
	}
	tr := trade("fx-1", "D", "100")
	tr.ExecutedAt = f.now
	if _, err := f.svc.PostTrades(c, []affiliate.NewTrade{tr}); err != nil {
		t.Fatal(err)
	}
	f.now = f.now.Add(time.Hour)
	if err := f.svc.PutRate(c, "USDT", "USD", "feed", *apd.New(15, -1), f.now.Add(-time.Minute), "t"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.ReverseTrade(c, "fx-1", "t"); err != nil {
		t.Fatal(err)
	}
	var net, fees string
	var rows int
	if err := f.db.Admin.QueryRow(c, `SELECT sum(reporting_amount)::text, sum(fee_reporting)::text, count(*) FROM accruals WHERE trade_id = 'fx-1'`).
		Scan(&net, &fees, &rows); err != nil {
		t.Fatal(err)
	}
	if rows != 6 || norm(net) != "0" || norm(fees) != "0" {
		t.Fatalf("accrual rows %d, reporting sum %s, fee sum %s; want 6 rows netting to 0", rows, net, fees)
	}
}
