package payouts_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/folioledger/folio/affiliate"
	"github.com/folioledger/folio/ledger"
	"github.com/folioledger/folio/payouts"
)

// TestBalanceFlagAtCurrencyPrecision: the insufficient-balance flag shows
// its amounts at the currency's precision (USD: two places, "137.00"),
// not the reduced exact text ("137") (issue 15, item 9).
func TestBalanceFlagAtCurrencyPrecision(t *testing.T) {
	f := newFixture(t)
	brokerTree(t, f)
	ctx := context.Background()
	// C earns 25% of D's 548 USD fee: 137 USD.
	tr := affiliate.NewTrade{ID: "usd-1", UserID: "D", Market: "BTCUSD", Liquidity: "taker",
		Fee: &affiliate.Money{Amount: "548", Currency: "USD"}, ExecutedAt: time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)}
	if _, err := f.svc.PostTrades(ctx, []affiliate.NewTrade{tr}); err != nil {
		t.Fatal(err)
	}
	if got := f.balance(t, "208:USD:C"); got != "137" {
		t.Fatalf("208:USD:C = %s, want 137", got)
	}
	// 37 USD of C's accrued balance is forfeited outside any batch: 100 is left.
	ne := ledger.NewEntry{IdempotencyKey: "drain-C", Kind: affiliate.EntryForfeit, Description: "test: part of C's balance forfeited",
		Postings: []ledger.NewPosting{{Account: "208:USD:C", Side: "debit", Amount: "37"}, {Account: "606:USD", Side: "credit", Amount: "37"}}}
	if res, err := f.ledger.Apply(ctx, []ledger.Op{{New: &ne}}, ledger.Options{Atomic: true, Owner: affiliate.Owner}); err != nil || res[0].Err != nil {
		t.Fatalf("forfeit entry: %v %+v", err, res)
	}
	b, _, err := f.pay.BuildBatch(ctx, payouts.BuildOptions{}, "admin-1")
	if err != nil {
		t.Fatal(err)
	}
	var flag string
	for _, l := range b.Lines {
		if l.Holder != "C" || l.Currency != "USD" {
			continue
		}
		for _, fl := range l.Flags {
			if fl.Rule == payouts.FlagBalance {
				flag = fl.Detail
			}
		}
	}
	if want := "the accrued balance 100.00 is below the line amount 137.00"; flag != want {
		t.Errorf("C's balance flag = %q, want %q", flag, want)
	}
	if strings.Contains(flag, "000000") {
		t.Errorf("flag %q prints more places than USD has", flag)
	}
}
