package ingest_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/apd/v3"
	"github.com/folioledger/folio/affiliate"
	"github.com/folioledger/folio/ingest"
	"github.com/jackc/pgx/v5"
)

// With Options.Overlap and a deep queue, groups are prepared while the
// previous one commits, and each trade still earns the volume tier that
// the trades booked in earlier groups give it. One trader T, referred by
// S, trades 1,000 USDT sixty times at once, in groups of at most 4; S's
// kickback program pays 20%, and 30% from 10,000 USD of referred volume.
// A trade sees the volume of every earlier group: it earns 20% only if
// at most 9 trades came before its group, so only at positions 1 to 13
// (the trades at or before i−4 are in earlier groups), and 30% only
// from position 11 on; once 30%, always. A group prepared before the
// previous one committed, and booked without the stale check, would pay
// 20% later than position 13.
func TestOverlapVolumeTier(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if _, err := f.svc.PutProgram(ctx, "bn", affiliate.ProgramSpec{Kind: "kickback", Rate: "0.20", Default: true,
		Tiers: []affiliate.TierSpec{{Name: "gold", MinVolume: "10000", Rate: "0.30"}}}, "test"); err != nil {
		t.Fatal(err)
	}
	one, _, _ := apd.NewFromString("1")
	if err := f.svc.PutRate(ctx, "USDT", "USD", "oracle", *one, f.now.Add(-60*24*time.Hour), "test"); err != nil {
		t.Fatal(err)
	}
	f.user(t, "S", "")
	f.code(t, "S", "SPLAN2")
	f.user(t, "T", "SPLAN2")
	shards, err := f.ledger.Shards(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ing := ingest.New(f.svc.DB, f.svc, f.ledger, ingest.Options{MaxItems: 4, MaxWait: 5 * time.Millisecond, Shards: shards, Overlap: true})
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	go ing.Run(runCtx)

	const n = 60
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			tr := trade(fmt.Sprintf("v-%02d", i), "T", "10")
			tr.Volume = &affiliate.Money{Amount: "1000", Currency: "USDT"}
			tr.ExecutedAt = f.now.Add(-time.Hour)
			res, err := ing.SubmitTrades(ctx, []affiliate.NewTrade{tr})
			if err == nil && res[0].Status != affiliate.TradeCreated {
				err = fmt.Errorf("trade %s: %s %v", tr.ID, res[0].Status, res[0].Err)
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	rows, err := f.db.Admin.Query(ctx, `SELECT a.rate::text FROM trades t JOIN accruals_whole a ON a.trade_id = t.id AND a.beneficiary = 'S'
		ORDER BY t.seq`)
	if err != nil {
		t.Fatal(err)
	}
	rates, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || len(rates) != n {
		t.Fatalf("S's accruals: %d rates, %v; want %d", len(rates), err, n)
	}
	gold := false
	for i, r := range rates {
		pos := i + 1
		switch {
		case r == "0.300000000000000000":
			if pos < 11 {
				t.Errorf("trade at position %d earns gold with %d trades before it", pos, i)
			}
			gold = true
		case r == "0.200000000000000000" && (gold || pos > 13):
			t.Errorf("trade at position %d earns 20%% after %d trades of 1,000 (gold: %v)", pos, i, gold)
		case r != "0.200000000000000000":
			t.Errorf("trade at position %d: S's rate %s", pos, r)
		}
	}
	c := ing.Overlap()
	if c.Again == 0 {
		t.Fatalf("no group was prepared ahead and then again (%+v): the queue never ran deep enough to overlap", c)
	}
	t.Logf("group transactions: prepared ahead %d, again %d, in the write transaction %d", c.Ahead, c.Again, c.InTx)
	f.verify(t)
}
