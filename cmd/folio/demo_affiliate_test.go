package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/folioledger/folio/ledger"
)

// TestSeedDemoAffiliate: the demo seeds the broker program, the tree
// alice → bob → carol → dave and the demo trades, splitting each fee in
// the journal (101 back at zero), and seeding again writes nothing — no
// entry, no audit record, no affiliate row.
func TestSeedDemoAffiliate(t *testing.T) {
	ctx := context.Background()
	db, app := appDB(t)
	l := ledger.New(app)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if err := seedDemo(ctx, app, l, log); err != nil {
		t.Fatalf("seedDemo: %v", err)
	}
	// dave's three fees 100 + 12.5 + 7.3 pay carol 25%, bob 10%, alice 5%;
	// carol's volume of 5000 at the 0.2% taker rate is a fee of 10 paying
	// bob 2.5 and alice 1. 605 holds alice's manual fee of 1.25 and the
	// platform's 60% and 65%.
	for acct, want := range map[string]string{
		"208:USDT:carol": "29.95", "208:USDT:bob": "14.48", "208:USDT:alice": "6.99", "208:USDT:dave": "0",
		"605:USDT": "79.63", "101:USDT": "0", "202:USDT:dave": "380.2", "202:USDT:carol": "90",
	} {
		b, err := l.GetBalance(ctx, acct, ledger.AsOf{})
		if err != nil {
			t.Fatalf("balance %s: %v", acct, err)
		}
		if got := ledger.Format(&b.Balance); got != want {
			t.Errorf("balance %s = %s, want %s", acct, got, want)
		}
	}
	count := func() string {
		var s string
		err := db.Admin.QueryRow(ctx, `SELECT concat_ws(',', (SELECT count(*) FROM entries), (SELECT count(*) FROM audit_log),
			(SELECT count(*) FROM users), (SELECT count(*) FROM referral_codes), (SELECT count(*) FROM programs),
			(SELECT count(*) FROM trades), (SELECT count(*) FROM accruals_whole), (SELECT count(*) FROM fee_schedules), (SELECT count(*) FROM fx_rates))`).Scan(&s)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	first := count()
	if want := fmt.Sprintf("%d,", len(demoEntries())+2*len(demoTrades())); !strings.HasPrefix(first, want) {
		t.Fatalf("counts after seeding = %s, want %s entries", first, want)
	}
	if err := seedDemo(ctx, app, l, log); err != nil {
		t.Fatalf("seedDemo again: %v", err)
	}
	if again := count(); again != first {
		t.Fatalf("seeding again wrote: %s, was %s", again, first)
	}
}
