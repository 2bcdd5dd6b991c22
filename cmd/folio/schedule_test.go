package main

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/folioledger/folio/affiliate"
	"github.com/folioledger/folio/ledger"
	"github.com/folioledger/folio/payouts"
)

// TestPayoutScheduler: serve's scheduler loop builds the batch of a program
// on a realtime payout schedule at once, once per period, and stops with
// its context.
func TestPayoutScheduler(t *testing.T) {
	ctx := context.Background()
	_, app := appDB(t)
	now := time.Date(2026, 1, 10, 12, 0, 30, 0, time.UTC)
	l := ledger.New(app)
	l.Now = func() time.Time { return now }
	svc := affiliate.NewService(app, l)
	svc.Now = l.Now
	pay := payouts.NewService(svc)
	spec := affiliate.ProgramSpec{Kind: "levels", Levels: []string{"0.25"}, Default: true, Payout: &affiliate.PayoutPolicy{Schedule: affiliate.ScheduleRealtime}}
	if _, err := svc.PutProgram(ctx, "broker", spec, "test"); err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"A", "B"} {
		if _, _, err := svc.CreateUser(ctx, affiliate.NewUser{ID: u}); err != nil {
			t.Fatal(err)
		}
	}
	if err := svc.SetReferrer(ctx, "B", "A", "test"); err != nil {
		t.Fatal(err)
	}
	res, err := svc.PostTrades(ctx, []affiliate.NewTrade{{ID: "t1", UserID: "B", Market: "BTCUSDT", Liquidity: "taker",
		Fee: &affiliate.Money{Amount: "10", Currency: "USDT"}, ExecutedAt: now.Add(-time.Minute)}})
	if err != nil || res[0].Status != affiliate.TradeCreated {
		t.Fatalf("PostTrades = %+v, %v", res, err)
	}

	run, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		runPayoutSchedules(run, pay, time.Hour, slog.New(slog.NewTextHandler(io.Discard, nil)))
		close(done)
	}()
	var batches []*payouts.Batch
	for deadline := time.Now().Add(30 * time.Second); len(batches) == 0 && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if batches, err = pay.ListBatches(ctx, time.Time{}, "", 10); err != nil {
			t.Fatal(err)
		}
	}
	stop()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("runPayoutSchedules did not return after its context was cancelled")
	}
	if len(batches) != 1 || batches[0].CreatedBy != "scheduler" || len(batches[0].Lines) != 1 || batches[0].Lines[0].Holder != "A" {
		t.Fatalf("scheduled batches = %+v, want one built by the scheduler paying A", batches)
	}
	// The same period again builds nothing more.
	if built, err := pay.RunSchedules(ctx, "other-server"); err != nil || len(built) != 0 {
		t.Fatalf("RunSchedules in the same minute = %v, %v; want nothing", built, err)
	}
}
