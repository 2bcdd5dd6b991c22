package affiliate_test

import (
	"context"
	"fmt"
	"github.com/folioledger/folio/affiliate/affiliatetest"
	"testing"
	"time"

	"github.com/folioledger/folio/affiliate"
)

func trade(id, user, fee string) affiliate.NewTrade { return affiliatetest.Trade(id, user, fee) }

// brokerTree builds A → B → C → D with the broker program (25/10/5).
func brokerTree(t *testing.T, f *fixture) { f.env.BrokerTree(t) }

func TestBrokerTradeSplit(t *testing.T) {
	f := newFixture(t)
	brokerTree(t, f)
	res, err := f.svc.PostTrades(context.Background(), []affiliate.NewTrade{trade("t-1", "D", "100")})
	if err != nil || res[0].Status != affiliate.TradeCreated {
		t.Fatalf("PostTrades = %+v, %v", res, err)
	}
	for acct, want := range map[string]string{"208:USDT:C": "25", "208:USDT:B": "10", "208:USDT:A": "5", "605:USDT": "60", "101:USDT": "0", "202:USDT:D": "-100"} {
		if got := f.balance(t, acct); got != want {
			t.Errorf("balance %s = %s, want %s", acct, got, want)
		}
	}
	again, err := f.svc.PostTrades(context.Background(), []affiliate.NewTrade{trade("t-1", "D", "100"), trade("t-1", "D", "99")})
	if err != nil || again[0].Status != affiliate.TradeExists || again[0].FeeEntryID != res[0].FeeEntryID || again[1].Status != affiliate.TradeRejected {
		t.Fatalf("replay = %+v, %v", again, err)
	}
	if _, err := f.svc.ReverseTrade(context.Background(), "t-1", "test"); err != nil {
		t.Fatal(err)
	}
	for _, acct := range []string{"208:USDT:C", "605:USDT", "101:USDT", "202:USDT:D"} {
		if got := f.balance(t, acct); got != "0" {
			t.Errorf("after reversal %s = %s, want 0", acct, got)
		}
	}
	f.verify(t)
}

func TestThousandTradeBatch(t *testing.T) {
	f := newFixture(t)
	brokerTree(t, f)
	var ts []affiliate.NewTrade
	for i := 0; i < 1000; i++ {
		ts = append(ts, trade(fmt.Sprintf("b-%d", i), "D", "1.000003"))
	}
	res, err := f.svc.PostTrades(context.Background(), ts)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Status != affiliate.TradeCreated {
			t.Fatalf("trade %s: %s %v", r.ID, r.Status, r.Err)
		}
	}
	if got := f.balance(t, "101:USDT"); got != "0" {
		t.Errorf("101 = %s, want 0", got)
	}
	f.verify(t)
}

// A trade repeated in a batch with the same content gets its first
// occurrence's outcome: "exists" with the entries just booked, or the same
// rejection.
func TestTradeRepeatedInBatch(t *testing.T) {
	f := newFixture(t)
	brokerTree(t, f)
	res, err := f.svc.PostTrades(context.Background(), []affiliate.NewTrade{
		trade("r-1", "D", "100"), trade("r-2", "nobody", "1"), trade("r-1", "D", "100"), trade("r-2", "nobody", "1"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Status != affiliate.TradeCreated || res[0].FeeEntryID == "" || res[0].CommissionEntryID == "" {
		t.Fatalf("first r-1 = %+v, want created with its entries", res[0])
	}
	if got, want := res[2], (affiliate.TradeResult{ID: "r-1", Status: affiliate.TradeExists, FeeEntryID: res[0].FeeEntryID, CommissionEntryID: res[0].CommissionEntryID}); got != want {
		t.Errorf("repeated r-1 = %+v, want %+v", got, want)
	}
	if res[1].Status != affiliate.TradeRejected || res[1].Err == nil {
		t.Fatalf("first r-2 = %+v, want rejected (no such user)", res[1])
	}
	if got := res[3]; got.Status != affiliate.TradeRejected || got.Err != res[1].Err || got.FeeEntryID != "" {
		t.Errorf("repeated r-2 = %+v, want rejected with %v", got, res[1].Err)
	}
	f.verify(t)
}

// PostTrades reads the service's clock once per transaction, the volume
// tier of a kickback program included.
func TestPostTradesReadsClockOnce(t *testing.T) {
	f := goldTier(t)
	reads := 0
	f.svc.Now = func() time.Time { reads++; return f.now }
	res, err := f.svc.PostTrades(context.Background(), []affiliate.NewTrade{trade("c-1", "T", "100"), trade("c-2", "T", "50")})
	if err != nil || res[0].Status != affiliate.TradeCreated || res[1].Status != affiliate.TradeCreated {
		t.Fatalf("PostTrades = %+v, %v", res, err)
	}
	if got := f.tradeShares(t, "c-1")["S"]; got != "20" {
		t.Errorf("S earns %s of c-1, want 20 (the program rate: below the tier)", got)
	}
	if reads != 1 {
		t.Errorf("clock read %d times, want 1", reads)
	}
}
