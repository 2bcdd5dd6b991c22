package affiliate_test

import (
	"testing"

	"github.com/folioledger/folio"
	"github.com/folioledger/folio/accounts"
	"github.com/folioledger/folio/affiliate"
	"github.com/folioledger/folio/ledger"
)

// Trade reversal (docs/CONTRACT.md §2.4): both entries are reversed and the accruals
// get negative mirror rows referencing the originals. Reversing after the
// commission was paid out leaves the affiliate's 208 negative — a clawback
// carried forward — and the books still verify.
func TestReverseTrade(t *testing.T) {
	tests := []struct {
		name    string
		payout  bool
		want208 string // 208:USDT:C after the reversal
		want201 string // 201:USDT:C after the reversal
	}{
		{"before payout", false, "0", "0"},
		{"after payout", true, "-25", "25"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			brokerTree(t, f)
			res := f.post(t, affiliate.TradeCreated, trade("t-1", "D", "100"), trade("t-2", "D", "40"))
			f.wantBalances(t, map[string]string{"208:USDT:C": "35", "208:USDT:B": "14", "208:USDT:A": "7", "605:USDT": "84", "101:USDT": "0"})
			if tt.payout {
				// A payout-like debit of C's accrued commission of t-1,
				// written as the engine (payout is its kind).
				_, err := f.ledger.Post(ctx, []ledger.NewEntry{{IdempotencyKey: "payout-C", Kind: "payout", Postings: []ledger.NewPosting{
					{Account: "208:USDT:C", Side: accounts.Debit, Amount: "25"},
					{Account: "201:USDT:C", Side: accounts.Credit, Amount: "25"},
				}}}, ledger.Options{Atomic: true, Owner: affiliate.Owner})
				must(t, "payout entry", err)
			}
			rev, err := f.svc.ReverseTrade(ctx, "t-1", "ops")
			must(t, "ReverseTrade", err)
			// t-2 (fee 40: C 10, B 4, A 2, platform 24) is all that is left.
			f.wantBalances(t, map[string]string{
				"208:USDT:C": addDec(tt.want208, "10"), "201:USDT:C": tt.want201,
				"208:USDT:B": "4", "208:USDT:A": "2", "605:USDT": "24", "101:USDT": "0", "202:USDT:D": "-40",
			})
			// The reversal entries mirror the originals and reference them.
			for _, pair := range [][2]string{{rev.FeeReversalID, res[0].FeeEntryID}, {rev.CommissionReversalID, res[0].CommissionEntryID}} {
				e, _, err := f.ledger.GetEntry(ctx, pair[0])
				must(t, "GetEntry", err)
				if e.Reverses != pair[1] || e.Kind != ledger.KindReversal {
					t.Errorf("reversal %s: kind %s reverses %s, want reversal of %s", pair[0], e.Kind, e.Reverses, pair[1])
				}
			}
			if got, want := f.entryPostings(t, rev.CommissionReversalID), []string{"credit 101:USDT 100", "debit 208:USDT:C 25", "debit 208:USDT:B 10", "debit 208:USDT:A 5", "debit 605:USDT 60"}; !sameSet(got, want) {
				t.Errorf("commission reversal postings = %v, want %v", got, want)
			}
			// Negative accrual rows, one per original, referencing it.
			info, err := f.svc.GetTrade(ctx, "t-1")
			must(t, "GetTrade", err)
			if !info.Reversed {
				t.Error("GetTrade(t-1).Reversed = false, want true")
			}
			orig := map[string]affiliate.Accrual{}
			for _, a := range info.Accruals {
				if a.Source == "trade" {
					orig[a.ID] = a
				}
			}
			var reversals int
			for _, a := range info.Accruals {
				if a.Source != "reversal" {
					continue
				}
				reversals++
				o, ok := orig[a.Reverses]
				var neg = o.Amount
				neg.Negative = !neg.Negative
				switch {
				case !ok:
					t.Errorf("reversal accrual %s references %q, not an accrual of the trade", a.ID, a.Reverses)
				case a.Amount.Cmp(&neg) != 0 || a.Beneficiary != o.Beneficiary || a.Level != o.Level || a.EntryID != rev.CommissionReversalID:
					t.Errorf("reversal accrual %+v does not mirror %+v", a, o)
				}
			}
			if reversals != 3 || len(orig) != 3 {
				t.Errorf("t-1 has %d accruals and %d reversal rows, want 3 and 3", len(orig), reversals)
			}
			// Reversing twice is refused; an unknown trade is not found.
			_, err = f.svc.ReverseTrade(ctx, "t-1", "ops")
			wantCode(t, "second reversal", err, folio.EREVERSED)
			_, err = f.svc.ReverseTrade(ctx, "ghost", "ops")
			wantCode(t, "reversal of an unknown trade", err, folio.ENOTFOUND)
			// The trade id stays taken: a replay still answers exists.
			f.post(t, affiliate.TradeExists, trade("t-1", "D", "100"))
			f.verify(t)
		})
	}
}

func addDec(a, b string) string {
	x, y := d(a), d(b)
	var s = x
	_, _ = ledger.Decimal.Add(&s, &x, &y)
	return ledger.Format(&s)
}

// sameSet reports whether two string slices hold the same elements.
func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	seen := map[string]int{}
	for _, s := range a {
		seen[s]++
	}
	for _, s := range b {
		seen[s]--
		if seen[s] < 0 {
			return false
		}
	}
	return true
}
