package affiliate_test

import (
	"testing"
	"time"

	"github.com/folioledger/folio/affiliate"
	"github.com/jackc/pgx/v5"
)

// A batch prepared in a snapshot (PrepareTrades) is stale once a group
// booked after the snapshot changed what it read: its trade ids, the
// referred volume behind a volume tier it read; a batch whose reads no
// later group touched is booked as prepared (BookPreparedTx), once.
func TestPreparedStale(t *testing.T) {
	f := goldTier(t)
	f.user(t, "R", "")
	f.code(t, "R", "RPLAN2")
	f.user(t, "U", "RPLAN2")
	withVolume := func(id, user, volume string) affiliate.NewTrade {
		tr := trade(id, user, "100")
		tr.Volume = &affiliate.Money{Amount: volume, Currency: "USDT"}
		tr.ExecutedAt = f.now.Add(-time.Hour)
		return tr
	}
	f.post(t, affiliate.TradeCreated, withVolume("v-1", "T", "6000"))

	prepare := func(trades ...affiliate.NewTrade) *affiliate.Prepared {
		t.Helper()
		var p *affiliate.Prepared
		err := f.svc.DB.SnapshotTx(ctx, func(tx pgx.Tx) error {
			var err error
			p, err = f.svc.PrepareTrades(ctx, tx, trades)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	book := func(fn func(tx pgx.Tx) (affiliate.Booked, error)) (affiliate.Booked, error) {
		var b affiliate.Booked
		err := f.svc.Ledger.JournalTx(ctx, func(tx pgx.Tx) error {
			var err error
			b, err = fn(tx)
			return err
		})
		if err == nil {
			b.Committed()
		}
		return b, err
	}
	// Prepared before v-3: S's referred volume is 6000 (below gold).
	tier := prepare(withVolume("v-2", "T", "1"))
	unrelated := prepare(withVolume("u-1", "U", "1"))
	sameID := prepare(withVolume("v-3", "T", "6000"))

	// v-3 takes S to 12000.
	n, err := book(func(tx pgx.Tx) (affiliate.Booked, error) {
		return f.svc.BookTradesTx(ctx, tx, []affiliate.NewTrade{withVolume("v-3", "T", "6000")})
	})
	if err != nil || n.Results[0].Status != affiliate.TradeCreated {
		t.Fatalf("book v-3: %+v, %v", n.Results, err)
	}
	since := []*affiliate.Touched{n.Touched()}
	for _, c := range []struct {
		name  string
		p     *affiliate.Prepared
		since []*affiliate.Touched
		stale bool
	}{
		{"the tier of S, whose referred volume grew", tier, since, true},
		{"a trade id booked since", sameID, since, true},
		{"another affiliate's trader", unrelated, since, false},
		{"no group booked since", tier, nil, false},
		{"a group whose changes are unknown", unrelated, []*affiliate.Touched{nil}, true},
	} {
		if got := c.p.Stale(c.since); got != c.stale {
			t.Errorf("%s: Stale = %v, want %v", c.name, got, c.stale)
		}
	}

	// Not stale: booked as prepared, once.
	b, err := book(func(tx pgx.Tx) (affiliate.Booked, error) { return f.svc.BookPreparedTx(ctx, tx, unrelated) })
	if err != nil || b.Results[0].Status != affiliate.TradeCreated {
		t.Fatalf("book u-1 as prepared: %+v, %v", b.Results, err)
	}
	if _, err := book(func(tx pgx.Tx) (affiliate.Booked, error) { return f.svc.BookPreparedTx(ctx, tx, unrelated) }); err == nil {
		t.Fatal("a prepared batch was booked twice")
	}
	// Stale: prepared again in the write transaction, v-2 sees gold.
	f.post(t, affiliate.TradeCreated, withVolume("v-2", "T", "1"))
	if got := f.tradeShares(t, "v-2")["S"]; got != "30" {
		t.Errorf("v-2: S earns %s, want 30 (gold, after v-3)", got)
	}
	if got := f.tradeShares(t, "u-1")["R"]; got != "20" {
		t.Errorf("u-1: R earns %s, want 20", got)
	}
	f.verify(t)
}
