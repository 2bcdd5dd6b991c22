package reconcile_test

import (
	"context"
	"testing"
	"time"

	"github.com/cockroachdb/apd/v3"
	"github.com/folioledger/folio/affiliate"
	"github.com/folioledger/folio/ledger"
	"github.com/folioledger/folio/reconcile"
)

// Trades executed in March and booked in April (an exchange replaying its
// history): March's statistics and business-time reconciliation, statement
// and trial balance include them; the recorded-time reports put them in
// April. Statistics agree whether or not the folder has run.
func TestMarchTradesBookedInApril(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	march := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	april := time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
	may := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	// A deposit recorded on March 10 (so that the journal has a March);
	// everything else is recorded on April 2.
	f.now = march.Add(9 * 24 * time.Hour)
	if res, err := f.ledger.Post(ctx, []ledger.NewEntry{{IdempotencyKey: "deposit", Postings: []ledger.NewPosting{
		{Account: "110:USDT", Side: "debit", Amount: "500"}, {Account: "201:USDT:D", Side: "credit", Amount: "500"}}}}, ledger.Options{}); err != nil || res[0].Err != nil {
		t.Fatalf("deposit: %v %v", err, res)
	}
	f.now = april.Add(36 * time.Hour)
	brokerTree(t, f)
	if err := f.svc.PutRate(ctx, "USDT", "USD", "feed", *apd.New(2, 0), march.Add(-24*time.Hour), "t"); err != nil {
		t.Fatal(err)
	}
	at := func(tr affiliate.NewTrade, t time.Time) affiliate.NewTrade { tr.ExecutedAt = t; return tr }
	res, err := f.svc.PostTrades(ctx, []affiliate.NewTrade{
		at(trade("m-1", "D", "100"), march.Add(14*24*time.Hour+9*time.Hour)),
		at(trade("m-2", "D", "40"), march.Add(30*24*time.Hour+23*time.Hour)), // March 31, 23:00
		at(trade("a-1", "D", "8"), april.Add(30*time.Hour)),
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Status != affiliate.TradeCreated {
			t.Fatalf("trade %s: %s %v", r.ID, r.Status, r.Err)
		}
	}

	fees := func(rep *reconcile.Report) string {
		t.Helper()
		if len(rep.Discrepancies) != 0 {
			t.Fatalf("%s [%s, %s): discrepancies %+v", rep.Basis, rep.From, rep.To, rep.Discrepancies)
		}
		if len(rep.Currencies) == 0 {
			return "none"
		}
		c := rep.Currencies[0]
		return ledger.Format(&c.FeesBooked) + " distributed " + ledger.Format(&c.Distributed) + " 208 " +
			ledger.Format(&c.AccruedOpening) + "→" + ledger.Format(&c.AccruedClosing)
	}
	for _, tt := range []struct {
		basis    ledger.Basis
		from, to time.Time
		want     string
	}{
		// C earns 25%, B 10%, A 5% of each fee: 40% of 140 is 56.
		{ledger.BasisEffective, march, april, "140 distributed 56 208 0→56"},
		{ledger.BasisEffective, april, may, "8 distributed 3.2 208 56→59.2"},
		{ledger.BasisRecorded, march, april, "none"},
		{ledger.BasisRecorded, april, may, "148 distributed 59.2 208 0→59.2"},
	} {
		rep, err := reconcile.RunBasis(ctx, f.app, tt.from, tt.to, tt.basis)
		if err != nil {
			t.Fatal(err)
		}
		if got := fees(rep); got != tt.want {
			t.Errorf("reconciliation %s [%s, %s) = %s, want %s", tt.basis, tt.from.Format("01-02"), tt.to.Format("01-02"), got, tt.want)
		}
	}

	// C's statistics: March holds the two March trades in their own days.
	stats := func(from, to time.Time) string {
		t.Helper()
		st, err := f.svc.Stats(ctx, affiliate.StatsQuery{Affiliate: "C", From: from, To: to, Interval: "day"})
		if err != nil {
			t.Fatal(err)
		}
		out := ledger.Format(&st.Totals.Commission)
		for _, p := range st.Series {
			out += " " + p.Start.Format("01-02") + ":" + ledger.Format(&p.Commission)
		}
		return out
	}
	for _, folded := range []bool{false, true} {
		if folded {
			if err := f.svc.FoldAllStats(ctx); err != nil {
				t.Fatal(err)
			}
		}
		// 25% of the fee, at 2 USD per USDT.
		if got, want := stats(march, april), "70 03-15:50 03-31:20"; got != want {
			t.Errorf("March statistics (folded %v) = %s, want %s", folded, got, want)
		}
		if got, want := stats(april, may), "4 04-02:4"; got != want {
			t.Errorf("April statistics (folded %v) = %s, want %s", folded, got, want)
		}
	}

	// C's 208 account: the effective statement of March lists the March
	// trades; the recorded one has nothing in March and all three in April.
	lines := func(st *ledger.Statement, err error) string {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		out := ledger.Format(&st.Opening)
		for _, ln := range st.Lines {
			out += " +" + ledger.Format(&ln.Amount)
		}
		return out + " = " + ledger.Format(&st.Closing)
	}
	for _, tt := range []struct {
		name string
		st   func(context.Context, string, time.Time, time.Time) (*ledger.Statement, error)
		from time.Time
		to   time.Time
		want string
	}{
		{"effective March", f.ledger.Statement, march, april, "0 +25 +10 = 35"},
		{"effective April", f.ledger.Statement, april, may, "35 +2 = 37"},
		{"recorded March", f.ledger.StatementRecorded, march, april, "0 = 0"},
		{"recorded April", f.ledger.StatementRecorded, april, may, "0 +25 +10 +2 = 37"},
	} {
		if got := lines(tt.st(ctx, "208:USDT:C", tt.from, tt.to)); got != tt.want {
			t.Errorf("statement %s = %s, want %s", tt.name, got, tt.want)
		}
	}

	// The trial balance at the end of March.
	c208 := func(tb *ledger.TrialBalance, err error) string {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range tb.Currencies {
			if !c.Balanced {
				t.Errorf("trial balance %s unbalanced", c.Currency)
			}
			for _, ln := range c.Lines {
				if ln.Account.String() == "208:USDT:C" {
					return ledger.Format(&ln.Balance)
				}
			}
		}
		return "absent"
	}
	endOfMarch := april.Add(-time.Microsecond)
	if got := c208(f.ledger.TrialBalanceEffective(ctx, endOfMarch, "USDT")); got != "35" {
		t.Errorf("trial balance by effective time at the end of March: 208:USDT:C = %s, want 35", got)
	}
	if got := c208(f.ledger.TrialBalance(ctx, ledger.AsOf{Recorded: endOfMarch}, "USDT")); got != "absent" {
		t.Errorf("trial balance by recorded time at the end of March: 208:USDT:C = %s, want nothing", got)
	}
	f.verify(t)
}
