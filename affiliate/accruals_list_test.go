package affiliate_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/folioledger/folio/affiliate"
	"github.com/folioledger/folio/ledger"
)

// TestListAccrualsThroughLines: since migration 049 a trade's compact
// accruals have no entry in the beneficiary index and ListAccruals finds
// them through the beneficiary's 208 lines. Against the view read whole
// (every accrual of the beneficiary sorted by recorded time and id), every
// filter lists the same accruals in the same order, whole and page by page
// at every page size, over three shards, with many accruals recorded at
// one time (a fixed clock: two batches a time) in two currencies, whole
// rows (a reversal's) and compact rows stored with a recorded time (as
// before the migration). The journal's clock runs 1 ms after the
// service's, so a trade recorded at the service's time would be found at
// the wrong place. Ids are random, as on CockroachDB: within a recorded
// time a shard's lines are not in id order.
func TestListAccrualsThroughLines(t *testing.T) {
	f := newFixture(t)
	must(t, "three shards", ledger.SetShards(ctx, f.env.App, 3))
	f.ledger.Now = func() time.Time { return f.now.Add(time.Millisecond) }
	f.env.App.RandomIDs() // as on CockroachDB: a shard's lines are not in id order
	brokerTree(t, f)
	for i := range 6 {
		f.user(t, fmt.Sprintf("T%d", i), []string{"CCCCCC", "BBBBBB"}[i%2])
	}
	start, n := f.now, 0
	for batch := range 6 {
		f.now = start.Add(time.Duration(batch/2) * time.Minute)
		var ts []affiliate.NewTrade
		for i := range 7 {
			n++
			id, u := fmt.Sprintf("x%02d", n), fmt.Sprintf("T%d", (batch+i)%6)
			if i%3 == 0 {
				ts = append(ts, feeTrade(id, u, "0.001", "BTC"))
			} else {
				ts = append(ts, trade(id, u, "10"))
			}
		}
		f.post(t, affiliate.TradeCreated, ts...)
	}
	f.now = start.Add(3 * time.Minute)
	_, err := f.svc.ReverseTrade(ctx, "x03", "ops")
	must(t, "ReverseTrade", err)
	if _, err := f.db.Admin.Exec(ctx, `UPDATE accruals x SET recorded_at = t.recorded_at FROM trades t
		WHERE x.trade_id = t.id AND x.trader_id IS NULL AND t.id IN ('x01', 'x08', 'x20')`); err != nil {
		t.Fatal(err)
	}
	if got := f.count(t, `SELECT count(*) FROM accruals WHERE trader_id IS NULL AND recorded_at IS NULL`); got < 50 {
		t.Fatalf("%d compact accruals stored without a recorded time, want them all but three trades'", got)
	}
	// Nothing writes the rates column (migration 051): NULL, read as '{}'.
	if got := f.count(t, `SELECT count(*) FROM accruals WHERE rates IS NOT NULL`); got != 0 {
		t.Fatalf("%d accruals store rates", got)
	}
	if got := f.count(t, `SELECT count(*) FROM accruals_whole WHERE rates IS DISTINCT FROM '{}'::jsonb`); got != 0 {
		t.Fatalf("%d accruals read rates other than {}", got)
	}
	if got := f.count(t, `SELECT count(*) FROM trades t JOIN entries e ON e.id = t.commission_entry_id WHERE t.recorded_at <> e.recorded_at`); got != 0 {
		t.Fatalf("%d trades recorded at another time than their entries", got)
	}

	brute := func(fl affiliate.AccrualFilter) string {
		to := fl.To
		if to.IsZero() {
			to = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)
		}
		rows, err := f.db.Admin.Query(ctx, `SELECT id::text FROM accruals_whole WHERE beneficiary = $1 AND ($2 = '' OR currency = $2)
			AND ($3 = '' OR trade_id = $3) AND ($4 = '' OR source = $4) AND recorded_at >= $5 AND recorded_at < $6 ORDER BY recorded_at, id`,
			fl.Beneficiary, fl.Currency, fl.TradeID, fl.Source, fl.From, to)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var ids []string
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, id)
		}
		return strings.Join(ids, " ")
	}
	ids := func(as []affiliate.Accrual) string {
		var out []string
		for _, a := range as {
			out = append(out, a.ID)
		}
		return strings.Join(out, " ")
	}
	minute := func(m int) time.Time { return start.Add(time.Duration(m)*time.Minute + time.Millisecond) }
	for _, fl := range []affiliate.AccrualFilter{
		{Beneficiary: "C"},
		{Beneficiary: "B"},
		{Beneficiary: "A"},
		{Beneficiary: "C", Currency: "BTC"},
		{Beneficiary: "B", Currency: "USDT"},
		{Beneficiary: "A", Source: "trade"},
		{Beneficiary: "A", Source: "reversal"},
		{Beneficiary: "B", TradeID: "x03"},
		{Beneficiary: "C", From: minute(1)},
		{Beneficiary: "B", From: minute(1), To: minute(2)},
		{Beneficiary: "A", To: minute(1)},
		{Beneficiary: "D"},
	} {
		want := brute(fl)
		if fl.Beneficiary != "D" && want == "" {
			t.Fatalf("%+v: the view has no accruals: the fixture is broken", fl)
		}
		for _, limit := range []int{1, 2, 3, 5, 8, 1000} {
			var got []affiliate.Accrual
			page := fl
			page.Limit = limit
			for i := 0; ; i++ {
				as, err := f.svc.ListAccruals(ctx, page)
				must(t, "ListAccruals", err)
				if len(as) > limit {
					t.Fatalf("%+v: %d accruals, want at most %d", page, len(as), limit)
				}
				got = append(got, as...)
				if len(as) < limit || i > 200 {
					break
				}
				page.AfterAt, page.AfterID = as[len(as)-1].RecordedAt, as[len(as)-1].ID
			}
			if g := ids(got); g != want {
				t.Errorf("ListAccruals %+v limit %d =\n%s\nwant\n%s", fl, limit, g, want)
			}
		}
	}
	f.verify(t)
}
