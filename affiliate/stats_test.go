package affiliate_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/cockroachdb/apd/v3"
	"github.com/folioledger/folio/affiliate"
	"github.com/folioledger/folio/ledger"
)

// statsActivity generates two days of trades on a broker tree with two fee
// currencies (USDT converted at 0.999, BTC at 60000), several markets,
// countries and codes, a reversal and signup bounties.
func statsActivity(t *testing.T, f *fixture) {
	t.Helper()
	ctx := context.Background()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	_, err := f.svc.PutProgram(ctx, "broker", affiliate.ProgramSpec{Kind: "levels", Levels: []string{"0.25", "0.10", "0.05"}, Default: true}, "t")
	must(err)
	_, err = f.svc.PutProgram(ctx, "viral", affiliate.ProgramSpec{Kind: "bounty", Currency: "TOKEN", Events: map[string][]json.RawMessage{"signup": {json.RawMessage(`"50"`), json.RawMessage(`"10"`)}}}, "t")
	must(err)
	must(f.svc.PutRate(ctx, "USDT", "USD", "feed", *apd.New(999, -3), f.now.Add(-time.Hour), "t"))
	must(f.svc.PutRate(ctx, "BTC", "USD", "feed", *apd.New(60000, 0), f.now.Add(-time.Hour), "t"))
	must(f.svc.PutRate(ctx, "TOKEN", "USD", "feed", *apd.New(2, -1), f.now.Add(-time.Hour), "t"))
	f.user(t, "A", "")
	f.code(t, "A", "AAAAAA")
	f.code(t, "A", "AAAAAB")
	for _, u := range []struct{ id, code, country string }{{"B", "AAAAAA", "DE"}, {"B2", "AAAAAB", "FR"}} {
		if _, _, err := f.svc.CreateUser(ctx, affiliate.NewUser{ID: u.id, ReferralCode: u.code, Country: u.country}); err != nil {
			t.Fatal(err)
		}
	}
	f.code(t, "B", "BBBBBB")
	for _, u := range []struct{ id, country string }{{"C1", "DE"}, {"C2", "US"}, {"C3", "JP"}} {
		if _, _, err := f.svc.CreateUser(ctx, affiliate.NewUser{ID: u.id, ReferralCode: "BBBBBB", Country: u.country}); err != nil {
			t.Fatal(err)
		}
	}
	rng := rand.New(rand.NewPCG(7, 11))
	traders := []string{"B", "B2", "C1", "C2", "C3"}
	markets := []string{"BTCUSDT", "ETHUSDT", "BTCEUR"}
	n := 0
	for step := 0; step < 60; step++ {
		f.now = f.now.Add(time.Duration(20+rng.IntN(40)) * time.Minute)
		var batch []affiliate.NewTrade
		for k := 0; k < 1+rng.IntN(4); k++ {
			n++
			tr := affiliate.NewTrade{ID: fmt.Sprintf("s-%d", n), UserID: traders[rng.IntN(len(traders))], Market: markets[rng.IntN(len(markets))],
				Liquidity: "taker", ExecutedAt: f.now.Add(-time.Minute),
				Fee:    &affiliate.Money{Amount: fmt.Sprintf("%d.%06d", rng.IntN(50), rng.IntN(1000000)+1), Currency: "USDT"},
				Volume: &affiliate.Money{Amount: fmt.Sprintf("%d", 100+rng.IntN(10000)), Currency: "USDT"}}
			if rng.IntN(4) == 0 {
				tr.Fee = &affiliate.Money{Amount: fmt.Sprintf("0.%08d", rng.IntN(99999999)+1), Currency: "BTC"}
			}
			batch = append(batch, tr)
		}
		res, err := f.svc.PostTrades(ctx, batch)
		must(err)
		for _, r := range res {
			if r.Err != nil {
				t.Fatalf("trade %s: %v", r.ID, r.Err)
			}
		}
		if step%17 == 5 {
			_, err := f.svc.ReverseTrade(ctx, fmt.Sprintf("s-%d", n), "t")
			must(err)
		}
	}
}

func TestStatsMatchBruteForce(t *testing.T) {
	f := newFixture(t)
	start := f.now.Truncate(time.Hour)
	statsActivity(t, f)
	end := f.now.Add(time.Hour)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(3, 5))
	groupCol := map[string]string{"level": "level::text", "market": "market", "code": "code", "country": "country", "program": "program_id",
		"currency": "currency", "referee": "trader_id"}
	nonEmpty := 0
	for i := 0; i < 40; i++ {
		aff := []string{"A", "B"}[rng.IntN(2)]
		group := []string{"", "level", "market", "code", "country", "program", "currency", "referee"}[rng.IntN(8)]
		unit := time.Hour
		if group == "referee" || rng.IntN(2) == 0 { // whole days read the daily rollup
			unit = 24 * time.Hour
		}
		hours := int(end.Sub(start) / time.Hour)
		from := start.Add(time.Duration(rng.IntN(hours)) * time.Hour).Truncate(unit)
		to := from.Add(time.Duration(1+rng.IntN(hours)) * time.Hour)
		if t2 := to.Truncate(unit); !t2.Equal(to) {
			to = t2.Add(unit)
		}
		st, err := f.svc.Stats(ctx, affiliate.StatsQuery{Affiliate: aff, From: from, To: to, Interval: "day", GroupBy: group})
		if err != nil {
			t.Fatal(err)
		}
		brute := func(cond string, args ...any) map[string]string {
			col := "''"
			if group != "" {
				col = groupCol[group]
			}
			rows, err := f.db.Admin.Query(ctx, `SELECT `+col+`, coalesce(sum(reporting_amount), 0)::text, coalesce(sum(fee_reporting), 0)::text,
					coalesce(sum(volume_reporting), 0)::text,
					sum(CASE source WHEN 'trade' THEN 1 WHEN 'reversal' THEN -1 ELSE 0 END), sum(CASE source WHEN 'reversal' THEN -1 ELSE 1 END)
				FROM accruals WHERE beneficiary = $1 AND recorded_at >= $2 AND recorded_at < $3 `+cond+` GROUP BY 1`, append([]any{aff, from, to}, args...)...)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			out := map[string]string{}
			for rows.Next() {
				var k, c, fe, v string
				var tr, ac int64
				if err := rows.Scan(&k, &c, &fe, &v, &tr, &ac); err != nil {
					t.Fatal(err)
				}
				out[k] = fmt.Sprintf("%s/%s/%s/%d/%d", norm(c), norm(fe), norm(v), tr, ac)
			}
			return out
		}
		fig := func(p affiliate.StatsFigures) string {
			return fmt.Sprintf("%s/%s/%s/%d/%d", ledger.Format(&p.Commission), ledger.Format(&p.Fees), ledger.Format(&p.Volume), p.Trades, p.Accruals)
		}
		if group != "" {
			want := brute("")
			got := map[string]string{}
			for _, g := range st.Groups {
				got[g.Key] = fig(g.StatsFigures)
			}
			if len(want) > 0 {
				nonEmpty++
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("case %d: %s group_by=%s [%s, %s): got %v, want %v", i, aff, group, from, to, got, want)
			}
		}
		total := "0/0/0/0/0"
		for k, v := range brute("") {
			if group == "" && k == "" {
				total = v
			}
		}
		if group == "" && fig(st.Totals) != total {
			t.Fatalf("case %d: totals %s, want %s", i, fig(st.Totals), total)
		}
		if group == "" && total != "0/0/0/0/0" {
			nonEmpty++
		}
		var series affiliate.StatsFigures
		for _, p := range st.Series {
			_, _ = apd.BaseContext.Add(&series.Commission, &series.Commission, &p.Commission)
			_, _ = apd.BaseContext.Add(&series.Volume, &series.Volume, &p.Volume)
			series.Trades += p.Trades
		}
		if series.Commission.Cmp(&st.Totals.Commission) != 0 || series.Volume.Cmp(&st.Totals.Volume) != 0 || series.Trades != st.Totals.Trades {
			t.Fatalf("case %d: the series sums to %s/%s/%d, the totals are %s/%s/%d", i, ledger.Format(&series.Commission), ledger.Format(&series.Volume),
				series.Trades, ledger.Format(&st.Totals.Commission), ledger.Format(&st.Totals.Volume), st.Totals.Trades)
		}
	}
	if nonEmpty < 10 {
		t.Fatalf("only %d of 40 cases compared non-empty figures; the generator or ranges are off", nonEmpty)
	}
}

func norm(s string) string {
	d, err := ledger.ParseStored(s)
	if err != nil {
		return s
	}
	return ledger.Format(&d)
}
