package payouts_test

import (
	"context"
	"sync"
	"testing"

	"github.com/folioledger/folio"
	"github.com/folioledger/folio/affiliate"
	"github.com/folioledger/folio/payouts"
)

func TestPayoutBuildApproveExecute(t *testing.T) {
	f := newFixture(t)
	brokerTree(t, f)
	ctx := context.Background()
	if _, err := f.svc.PostTrades(ctx, []affiliate.NewTrade{trade("p-1", "D", "100"), trade("p-2", "D", "10")}); err != nil {
		t.Fatal(err)
	}
	b, created, err := f.pay.BuildBatch(ctx, payouts.BuildOptions{}, "admin-1")
	if err != nil || !created || len(b.Lines) != 3 {
		t.Fatalf("BuildBatch = %+v, %v, %v; want 3 lines", b, created, err)
	}
	if _, _, err := f.pay.BuildBatch(ctx, payouts.BuildOptions{}, "admin-1"); folio.ErrorCode(err) != folio.ENOTFOUND {
		t.Fatalf("second build err = %v, want nothing payable (accruals never offered twice)", err)
	}
	if _, err := f.pay.ApproveBatch(ctx, b.ID, "admin-1"); folio.ErrorCode(err) != folio.EFORBIDDEN {
		t.Fatalf("self-approval err = %v, want forbidden", err)
	}
	if _, err := f.pay.ApproveBatch(ctx, b.ID, "admin-2"); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	replays := make([]bool, 2)
	errs := make([]error, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, replays[i], errs[i] = f.pay.ExecuteBatch(ctx, b.ID, "admin-2")
		}()
	}
	wg.Wait()
	if errs[0] != nil || errs[1] != nil || replays[0] == replays[1] {
		t.Fatalf("concurrent executes = %v %v, replays %v; want one execution and one replay", errs[0], errs[1], replays)
	}
	for acct, want := range map[string]string{"208:USDT:C": "0", "201:USDT:C": "27.5", "201:USDT:B": "11", "201:USDT:A": "5.5"} {
		if got := f.balance(t, acct); got != want {
			t.Errorf("%s = %s, want %s", acct, got, want)
		}
	}
	var entries int
	if err := f.db.Admin.QueryRow(ctx, `SELECT count(*) FROM entries WHERE kind = 'payout'`).Scan(&entries); err != nil || entries != 1 {
		t.Fatalf("payout entries = %d, %v; want 1", entries, err)
	}
	f.verify(t)
}
