package affiliate_test

import (
	"testing"
	"time"

	"github.com/folioledger/folio"
	"github.com/folioledger/folio/affiliate"
	"github.com/folioledger/folio/ledger"
)

// Accruals snapshot the FX rate into the reporting currency (USD) in force
// at the trade's execution (business time): the average of each source's latest rate at or before
// then, the inverse of the opposite pair when only that exists, and NULL
// when no rate is known.
func TestAccrualFX(t *testing.T) {
	f := newFixture(t)
	brokerTree(t, f)
	now := f.now
	rates := []struct {
		base, quote, source, rate string
		at                        time.Time
	}{
		{"USDT", "USD", "a", "0.5", now.Add(-48 * time.Hour)}, // superseded by a's later rate
		{"USDT", "USD", "a", "0.998", now.Add(-time.Hour)},
		{"USDT", "USD", "b", "1", now.Add(-2 * time.Hour)},
		{"USDT", "USD", "c", "7", now.Add(time.Hour)},       // not yet in force
		{"USD", "BTC", "a", "0.00002", now.Add(-time.Hour)}, // only the opposite pair: BTC→USD = 50000
	}
	for _, r := range rates {
		must(t, "PutRate", f.svc.PutRate(ctx, r.base, r.quote, r.source, d(r.rate), r.at, "ops"))
	}
	for _, bad := range []struct {
		name, base, quote, source, rate string
	}{
		{"same currency", "USD", "USD", "a", "1"},
		{"zero rate", "USDT", "USD", "a", "0"},
		{"negative rate", "USDT", "USD", "a", "-1"},
		{"bad source", "USDT", "USD", "a b", "1"},
		{"bad currency", "usdt", "USD", "a", "1"},
	} {
		wantCode(t, "PutRate "+bad.name, f.svc.PutRate(ctx, bad.base, bad.quote, bad.source, d(bad.rate), now, "ops"), folio.EINVALID)
	}
	at := func(tr affiliate.NewTrade, t time.Time) affiliate.NewTrade { tr.ExecutedAt = t; return tr }
	f.post(t, affiliate.TradeCreated, at(trade("usdt", "D", "100"), now), at(feeTrade("btc", "D", "0.001", "BTC"), now),
		at(feeTrade("token", "D", "100", "TOKEN"), now), at(trade("early", "D", "100"), now.Add(-72*time.Hour)))

	tests := []struct {
		trade, fx, reporting, amount string
	}{
		{"usdt", "0.999", "24.975", "25"},   // (0.998 + 1) / 2
		{"btc", "50000", "12.5", "0.00025"}, // 1 / 0.00002
		{"token", "<nil>", "<nil>", "25"},   // no rate
		{"early", "<nil>", "<nil>", "25"},   // executed before any rate was in force
	}
	for _, tt := range tests {
		as, err := f.svc.ListAccruals(ctx, affiliate.AccrualFilter{Beneficiary: "C", TradeID: tt.trade})
		must(t, "ListAccruals", err)
		if len(as) != 1 {
			t.Fatalf("%s: %d accruals of C, want 1", tt.trade, len(as))
		}
		a := as[0]
		if got := fmtDec(a.FXRate) + " " + fmtDec(a.ReportingAmount) + " " + ledger.Format(&a.Amount) + " " + a.ReportingCurrency; got != tt.fx+" "+tt.reporting+" "+tt.amount+" USD" {
			t.Errorf("%s: fx, reporting amount, amount = %q, want %q", tt.trade, got, tt.fx+" "+tt.reporting+" "+tt.amount+" USD")
		}
	}

	// Later rates apply to trades executed later; the snapshot of earlier
	// ones stays. A trade booked late takes the rate of its execution.
	f.now = now.Add(2 * time.Hour) // c's rate of 7 is now in force: (0.998 + 1 + 7) / 3
	f.post(t, affiliate.TradeCreated, at(trade("later", "D", "100"), f.now), at(trade("late", "D", "100"), now))
	for trade, want := range map[string]string{"usdt": "0.999", "later": "2.999333333333333333", "late": "0.999"} {
		as, err := f.svc.ListAccruals(ctx, affiliate.AccrualFilter{Beneficiary: "C", TradeID: trade})
		must(t, "ListAccruals", err)
		if len(as) != 1 || fmtDec(as[0].FXRate) != want {
			t.Errorf("%s: accruals %+v, want one with fx rate %s", trade, as, want)
		}
	}
}
