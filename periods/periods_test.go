package periods_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/folioledger/folio"
	"github.com/folioledger/folio/affiliate"
	"github.com/folioledger/folio/affiliate/affiliatetest"
	"github.com/folioledger/folio/periods"
	"github.com/folioledger/folio/schema/schematest"
)

func TestMain(m *testing.M) { os.Exit(schematest.Main(m)) }

type fixture struct {
	env *affiliatetest.Env
	svc *periods.Service
	now time.Time
	n   int
}

func newFixture(t *testing.T) *fixture {
	f := &fixture{now: time.Date(2026, 3, 5, 0, 0, 0, 0, time.UTC)}
	f.env = affiliatetest.New(t, func() time.Time { return f.now })
	f.env.BrokerTree(t)
	f.svc = periods.New(f.env.App, func() time.Time { return f.now })
	return f
}

// trade books a trade of D paying fee USDT, executed at.
func (f *fixture) trade(t *testing.T, fee string, at time.Time) {
	t.Helper()
	f.n++
	tr := affiliatetest.Trade(fmt.Sprintf("t-%d", f.n), "D", fee)
	tr.ExecutedAt = at
	res, err := f.env.Svc.PostTrades(context.Background(), []affiliate.NewTrade{tr})
	if err != nil || res[0].Status != affiliate.TradeCreated {
		t.Fatalf("trade: %v %+v", err, res)
	}
}

func month(t *testing.T, s string) periods.Month {
	m, err := periods.ParseMonth(s)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// close closes m by two people.
func (f *fixture) close(t *testing.T, m periods.Month) {
	t.Helper()
	ctx := context.Background()
	if _, err := f.svc.Close(ctx, m, periods.Actor{ID: "k1", Person: "p1"}); err != nil {
		t.Fatalf("close %s: %v", m, err)
	}
	if p, err := f.svc.ConfirmClose(ctx, m, periods.Actor{ID: "k2", Person: "p2"}); err != nil || p.State != periods.Closed {
		t.Fatalf("confirm close %s: %+v %v", m, p, err)
	}
}

// fees is the USDT fees booked in m's reconciliation, and whether it was
// stored.
func (f *fixture) fees(t *testing.T, m periods.Month) (string, bool) {
	t.Helper()
	body, stored, err := f.svc.Reconciliation(context.Background(), m)
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		OK         bool `json:"ok"`
		Currencies []struct {
			Currency   string `json:"currency"`
			FeesBooked string `json:"fees_booked"`
		} `json:"currencies"`
		Discrepancies []any `json:"discrepancies"`
	}
	if err := json.Unmarshal(body, &rep); err != nil {
		t.Fatal(err)
	}
	if !rep.OK {
		t.Errorf("%s reconciliation has discrepancies: %v", m, rep.Discrepancies)
	}
	for _, c := range rep.Currencies {
		if c.Currency == "USDT" {
			return c.FeesBooked, stored
		}
	}
	return "0", stored
}

// TestLateTradesAcrossTwoCloses: a trade dated in March recorded after
// March's close is booked in April and stays there once April is closed
// with it; one recorded after April's close too is booked in May. Each
// period's reconciliation counts each trade once.
func TestLateTradesAcrossTwoCloses(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	mar, apr, may := month(t, "2026-03"), month(t, "2026-04"), month(t, "2026-05")
	f.trade(t, "100", f.now)
	f.now = time.Date(2026, 4, 2, 0, 0, 0, 0, time.UTC)
	f.close(t, mar)
	f.trade(t, "10", time.Date(2026, 3, 31, 12, 0, 0, 0, time.UTC)) // late for March
	f.trade(t, "1", f.now.Add(-time.Hour))                          // April's own
	f.now = time.Date(2026, 5, 3, 0, 0, 0, 0, time.UTC)
	f.close(t, apr)
	f.trade(t, "0.5", time.Date(2026, 3, 15, 0, 0, 0, 0, time.UTC)) // late for March, after April's close

	for _, tt := range []struct {
		m      periods.Month
		want   string
		stored bool
	}{{mar, "100", true}, {apr, "11", true}, {may, "0.5", false}} {
		if got, stored := f.fees(t, tt.m); got != tt.want || stored != tt.stored {
			t.Errorf("%s fees booked = %s (stored %t), want %s (stored %t)", tt.m, got, stored, tt.want, tt.stored)
		}
	}
	_, adj, _, err := f.svc.Adjustments(ctx, mar)
	if err != nil {
		t.Fatal(err)
	}
	booked := map[string]int{}
	for _, a := range adj {
		booked[a.BookedIn.String()]++
	}
	// Each late trade is a trade_fee and a commission entry.
	if len(adj) != 4 || booked["2026-04"] != 2 || booked["2026-05"] != 2 {
		t.Errorf("March's adjustments booked in %v, want 2 entries in April and 2 in May", booked)
	}
	if _, adj, _, err := f.svc.Adjustments(ctx, apr); err != nil || len(adj) != 0 {
		t.Errorf("April's adjustments = %d, %v; want none (the late trade is dated in March)", len(adj), err)
	}
}

// TestConfirmCloseRace: several people confirm one requested close at
// once; exactly one close is stored, the others are refused, and the
// requester is refused whatever key it uses.
func TestConfirmCloseRace(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	mar := month(t, "2026-03")
	f.trade(t, "100", f.now)
	f.now = time.Date(2026, 4, 2, 0, 0, 0, 0, time.UTC)
	if _, err := f.svc.Close(ctx, mar, periods.Actor{ID: "k1", Person: "p1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.ConfirmClose(ctx, mar, periods.Actor{ID: "k1-minted", Person: "p1"}); folio.ErrorCode(err) != folio.EFORBIDDEN {
		t.Fatalf("confirm by the requester's person = %v, want forbidden", err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 6)
	for i := range errs {
		wg.Go(func() {
			_, errs[i] = f.svc.Close(ctx, mar, periods.Actor{ID: fmt.Sprintf("k%d", i+10), Person: fmt.Sprintf("p%d", i+10)})
		})
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case folio.ErrorCode(err) != folio.ECONFLICT:
			t.Errorf("a concurrent confirmation failed with %v, want conflict", err)
		}
	}
	if ok != 1 {
		t.Errorf("%d concurrent confirmations succeeded, want 1: %v", ok, errors.Join(errs...))
	}
	var n int
	if err := f.env.DB.Admin.QueryRow(ctx, `SELECT count(*) FROM period_snapshots`).Scan(&n); err != nil || n != 1 {
		t.Errorf("period_snapshots holds %d rows (%v), want 1", n, err)
	}
	p, err := f.svc.Get(ctx, mar)
	if err != nil || p.State != periods.Closed || len(p.Events) != 2 {
		t.Errorf("March = %+v, %v; want closed after two events", p, err)
	}
}

// TestOrderRules: no later period closes while an earlier one is closing,
// and a reopen requested before a later period closed cannot be confirmed
// after (that period's snapshot holds the entries the reopen would take
// back).
func TestOrderRules(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	feb, mar, apr := month(t, "2026-02"), month(t, "2026-03"), month(t, "2026-04")
	f.now = time.Date(2026, 5, 2, 0, 0, 0, 0, time.UTC)
	p1, p2 := periods.Actor{ID: "k1", Person: "p1"}, periods.Actor{ID: "k2", Person: "p2"}
	if _, err := f.svc.Close(ctx, mar, p1); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Close(ctx, apr, p1); folio.ErrorCode(err) != folio.ECONFLICT {
		t.Fatalf("close April while March is closing = %v, want conflict", err)
	}
	if _, err := f.svc.Close(ctx, mar, p2); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Close(ctx, feb, p1); folio.ErrorCode(err) != folio.ECONFLICT {
		t.Fatalf("close February after March = %v, want conflict", err)
	}
	if _, err := f.svc.Reopen(ctx, mar, p1, "late invoice"); err != nil {
		t.Fatal(err)
	}
	f.close(t, apr)
	if _, err := f.svc.ConfirmReopen(ctx, mar, p2); folio.ErrorCode(err) != folio.ECONFLICT {
		t.Fatalf("confirm March's reopen after April closed = %v, want conflict", err)
	}
	if p, _ := f.svc.Get(ctx, mar); p.State != periods.Reopening {
		t.Errorf("March = %s, want still reopening (closed)", p.State)
	}
}
