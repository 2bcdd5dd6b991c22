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
// countries and codes, a reversal and signup bounties. One trade in five
// is booked late (executed up to 40 hours before it is booked), so business
// time and recorded time differ; the earliest of those were executed before
// any rate was in force, so they are unpriced.
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
			if rng.IntN(5) == 0 {
				tr.ExecutedAt = f.now.Add(-time.Duration(1+rng.IntN(40*60)) * time.Minute)
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

// TestStatsMatchBruteForce compares statistics with sums over the accrual
// rows bucketed by the trade's executed_at (business time), with the folder
// stopped, half-way, caught up, and after unpriced accruals were revalued:
// the answers never depend on the folder's progress.
func TestStatsMatchBruteForce(t *testing.T) {
	f := newFixture(t)
	start := f.now.Add(-48 * time.Hour).Truncate(time.Hour)
	statsActivity(t, f)
	end := f.now.Add(time.Hour)
	ctx := context.Background()
	var total, folded int
	countFolded := func() {
		t.Helper()
		if err := f.db.Admin.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE coalesce(a.seq, t.seq) <= coalesce((SELECT m.seq FROM stats_fold_marks m
				WHERE m.shard = coalesce(a.shard, t.shard)), 0))
			FROM accruals_whole a LEFT JOIN trades t ON a.source = 'trade' AND t.id = a.trade_id`).Scan(&total, &folded); err != nil {
			t.Fatal(err)
		}
	}
	countFolded()
	if folded != 0 {
		t.Fatalf("%d of %d accruals folded before the folder ran", folded, total)
	}
	checkStatsBruteForce(t, f, start, end, "folder stopped")
	// A round capped by its batch says so: RunFolder starts the next one at
	// once instead of waiting for its idle period.
	if _, more, err := f.svc.FoldRound(ctx, total/6); err != nil || !more { // about half of the trades
		t.Fatalf("a half batch round: more %v, %v; want more", more, err)
	}
	countFolded()
	if folded == 0 || folded == total {
		t.Fatalf("%d of %d accruals folded after one half batch, want some but not all", folded, total)
	}
	checkStatsBruteForce(t, f, start, end, "folder half-way")
	if err := f.svc.FoldAllStats(ctx); err != nil {
		t.Fatal(err)
	}
	if n, more, err := f.svc.FoldRound(ctx, 0); err != nil || more || n != 0 {
		t.Fatalf("a round after FoldAllStats: %d folded, more %v, %v; want 0, false", n, more, err)
	}
	countFolded()
	if folded != total {
		t.Fatalf("%d of %d accruals folded after FoldAllStats", folded, total)
	}
	var unpriced int
	if err := f.db.Admin.QueryRow(ctx, `SELECT count(*) FROM accruals_whole WHERE reporting_amount IS NULL`).Scan(&unpriced); err != nil {
		t.Fatal(err)
	}
	if unpriced == 0 {
		t.Fatal("no unpriced accruals: the generator should book some trades before the rates")
	}
	checkStatsBruteForce(t, f, start, end, "folder caught up")
	checkDayRollup(t, f, 24)
	// A rate back-dated before every trade arrives: the folder revalues the
	// unpriced accruals, folded ones included.
	if err := f.svc.PutRate(ctx, "USDT", "USD", "old", *apd.New(1, 0), start.Add(-time.Hour), "t"); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.PutRate(ctx, "BTC", "USD", "old", *apd.New(50000, 0), start.Add(-time.Hour), "t"); err != nil {
		t.Fatal(err)
	}
	checkStatsBruteForce(t, f, start, end, "rate arrived, not revalued yet")
	if err := f.svc.FoldAllStats(ctx); err != nil {
		t.Fatal(err)
	}
	var left int
	if err := f.db.Admin.QueryRow(ctx, `SELECT count(*) FROM accruals_whole a WHERE reporting_amount IS NULL
		AND NOT EXISTS (SELECT 1 FROM accrual_revaluations r WHERE r.accrual_id = a.id)`).Scan(&left); err != nil {
		t.Fatal(err)
	}
	if left != 0 {
		t.Fatalf("%d accruals still unpriced after the revaluation pass", left)
	}
	checkStatsBruteForce(t, f, start, end, "revalued")
}

// checkStatsBruteForce runs 40 random statistics queries and compares them
// with sums over accrual rows, by business time: the trade's executed_at
// (a reversal's trade's too), else the time recorded (bounties). Reporting
// amounts are the accrual's or its revaluation's; unpriced ones count 0
// and are reported per currency.
func checkStatsBruteForce(t *testing.T, f *fixture, start, end time.Time, state string) {
	t.Helper()
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(3, 5))
	groupCol := map[string]string{"level": "level::text", "market": "market", "code": "code", "country": "country", "program": "program_id",
		"currency": "currency", "referee": "trader_id"}
	const biz = `coalesce((SELECT executed_at FROM trades t WHERE t.id = a.trade_id), a.recorded_at)`
	const rep = `(SELECT r.reporting_amount FROM accrual_revaluations r WHERE r.accrual_id = a.id)`
	const feeRep = `(SELECT r.fee_reporting FROM accrual_revaluations r WHERE r.accrual_id = a.id)`
	nonEmpty, unpricedSeen := 0, 0
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
		brute := func() map[string]string {
			col := "''"
			if group != "" {
				col = groupCol[group]
			}
			rows, err := f.db.Admin.Query(ctx, `SELECT `+col+`, coalesce(sum(coalesce(reporting_amount, `+rep+`)), 0)::text,
					coalesce(sum(coalesce(fee_reporting, `+feeRep+`)), 0)::text, coalesce(sum(volume_reporting), 0)::text,
					sum(CASE source WHEN 'trade' THEN 1 WHEN 'reversal' THEN -1 ELSE 0 END), sum(CASE source WHEN 'reversal' THEN -1 ELSE 1 END)
				FROM accruals_whole a WHERE beneficiary = $1 AND `+biz+` >= $2 AND `+biz+` < $3 GROUP BY 1`, aff, from, to)
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
		want := brute()
		if group != "" {
			got := map[string]string{}
			for _, g := range st.Groups {
				got[g.Key] = fig(g.StatsFigures)
			}
			if len(want) > 0 {
				nonEmpty++
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("%s, case %d: %s group_by=%s [%s, %s): got %v, want %v", state, i, aff, group, from, to, got, want)
			}
		}
		total := "0/0/0/0/0"
		if v, ok := want[""]; ok && group == "" {
			total = v
		}
		if group == "" && fig(st.Totals) != total {
			t.Fatalf("%s, case %d: totals %s, want %s", state, i, fig(st.Totals), total)
		}
		if group == "" && total != "0/0/0/0/0" {
			nonEmpty++
		}
		// Unpriced per currency.
		rows, err := f.db.Admin.Query(ctx, `SELECT currency, sum(amount)::text, coalesce(sum(trade_fee), 0)::text FROM accruals_whole a
			WHERE beneficiary = $1 AND `+biz+` >= $2 AND `+biz+` < $3 AND reporting_amount IS NULL AND `+rep+` IS NULL
			GROUP BY 1 HAVING sum(amount) <> 0 OR coalesce(sum(trade_fee), 0) <> 0 ORDER BY 1`, aff, from, to)
		if err != nil {
			t.Fatal(err)
		}
		var wantUp []string
		for rows.Next() {
			var c, a, fe string
			if err := rows.Scan(&c, &a, &fe); err != nil {
				t.Fatal(err)
			}
			wantUp = append(wantUp, c+" "+norm(a)+" "+norm(fe))
		}
		rows.Close()
		var gotUp []string
		for _, u := range st.Unpriced {
			gotUp = append(gotUp, u.Currency+" "+ledger.Format(&u.Commission)+" "+ledger.Format(&u.Fees))
		}
		if fmt.Sprint(gotUp) != fmt.Sprint(wantUp) {
			t.Fatalf("%s, case %d: %s [%s, %s): unpriced %v, want %v", state, i, aff, from, to, gotUp, wantUp)
		}
		unpricedSeen += len(wantUp)
		var series affiliate.StatsFigures
		for _, p := range st.Series {
			_, _ = apd.BaseContext.Add(&series.Commission, &series.Commission, &p.Commission)
			_, _ = apd.BaseContext.Add(&series.Volume, &series.Volume, &p.Volume)
			series.Trades += p.Trades
		}
		if series.Commission.Cmp(&st.Totals.Commission) != 0 || series.Volume.Cmp(&st.Totals.Volume) != 0 || series.Trades != st.Totals.Trades {
			t.Fatalf("%s, case %d: the series sums to %s/%s/%d, the totals are %s/%s/%d", state, i, ledger.Format(&series.Commission), ledger.Format(&series.Volume),
				series.Trades, ledger.Format(&st.Totals.Commission), ledger.Format(&st.Totals.Volume), st.Totals.Trades)
		}
	}
	if nonEmpty < 10 {
		t.Fatalf("%s: only %d of 40 cases compared non-empty figures; the generator or ranges are off", state, nonEmpty)
	}
	t.Logf("%s: %d unpriced currency figures compared", state, unpricedSeen)
}

func norm(s string) string {
	d, err := ledger.ParseStored(s)
	if err != nil {
		return s
	}
	return ledger.Format(&d)
}

// TestFoldersRunConcurrently: two folders (as two `folio serve` processes
// would run) fold in small batches while trades are booked; once caught
// up, every accrual was folded exactly once: the rollups' sums equal the
// accruals' (and the referred volume the trades'), and the watermark is at
// the journal's head.
func TestFoldersRunConcurrently(t *testing.T) {
	f := newFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	errs := make(chan error, 2)
	for i := 0; i < 2; i++ {
		go func() {
			for ctx.Err() == nil {
				if _, err := f.svc.FoldStats(ctx, 7); err != nil && ctx.Err() == nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	statsActivity(t, f)
	cancel()
	for i := 0; i < 2; i++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if err := f.svc.FoldAllStats(context.Background()); err != nil {
		t.Fatal(err)
	}
	sums := func(sql string) string {
		t.Helper()
		var out string
		if err := f.db.Admin.QueryRow(context.Background(), sql).Scan(&out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	for _, c := range []struct{ name, got, want string }{
		{"hourly", `SELECT string_agg(x, ' ' ORDER BY x) FROM (SELECT currency || ':' || sum(commission)::float8 || '/' || sum(trades) || '/' || sum(accruals) AS x
			FROM affiliate_stats_hourly GROUP BY currency) s`,
			`SELECT string_agg(x, ' ' ORDER BY x) FROM (SELECT currency || ':' || sum(amount)::float8 || '/' ||
				sum(CASE source WHEN 'trade' THEN 1 WHEN 'reversal' THEN -1 ELSE 0 END) || '/' || sum(CASE source WHEN 'reversal' THEN -1 ELSE 1 END) AS x
			FROM accruals_whole GROUP BY currency) s`},
		{"daily and the hours past its mark", `SELECT (coalesce((SELECT sum(commission) FROM affiliate_stats_day), 0) +
				coalesce((SELECT sum(commission) FROM affiliate_stats_hourly WHERE hour >= coalesce((SELECT hour FROM stats_day_marks), '-infinity')), 0))::text`,
			`SELECT sum(amount)::text FROM accruals_whole`},
		{"referee", `SELECT sum(commission)::text FROM affiliate_referee_daily`, `SELECT sum(amount)::text FROM accruals_whole`},
		{"referred volume", `SELECT sum(trades)::text FROM referred_volume_daily`,
			`SELECT count(*)::text FROM trades t JOIN users u ON u.id = t.user_id WHERE u.referrer_id IS NOT NULL AND t.volume_amount IS NOT NULL`},
		{"watermark", `SELECT coalesce(max(seq), 0)::text FROM stats_fold_marks`, `SELECT max(seq)::text FROM entries`},
	} {
		if got, want := sums(c.got), sums(c.want); norm(got) != norm(want) || got == "" {
			t.Errorf("%s: rollups %s, accruals %s", c.name, got, want)
		}
	}
	checkDayRollup(t, f, 24)
}

// checkDayRollup checks the daily rollup against the hourly one: every day
// row is the sum of its day's hourly rows before the day mark, no such
// hourly row is missing from its day, and at least minHours hours were
// rolled (the mark moved as the clock passed them).
func checkDayRollup(t *testing.T, f *fixture, minHours int) {
	t.Helper()
	ctx := context.Background()
	const hourly = `SELECT affiliate_id, date_trunc('day', hour AT TIME ZONE 'UTC') AS day, level, market, code, currency, program_id, country,
			sum(commission) AS c, sum(commission_reporting) AS cr, sum(fees) AS f, sum(fees_reporting) AS fr, sum(volume_reporting) AS v,
			sum(trades) AS t, sum(accruals) AS n, sum(unpriced_commission) AS uc, sum(unpriced_fees) AS uf
		FROM affiliate_stats_hourly WHERE hour < (SELECT hour FROM stats_day_marks) GROUP BY 1, 2, 3, 4, 5, 6, 7, 8`
	const daily = `SELECT affiliate_id, day AT TIME ZONE 'UTC', level, market, code, currency, program_id, country,
			commission, commission_reporting, fees, fees_reporting, volume_reporting, trades::numeric, accruals::numeric, unpriced_commission, unpriced_fees
		FROM affiliate_stats_day`
	var diff, hours int
	if err := f.db.Admin.QueryRow(ctx, `SELECT (SELECT count(*) FROM ((`+hourly+` EXCEPT `+daily+`) UNION ALL (`+daily+` EXCEPT `+hourly+`)) x),
		(SELECT count(DISTINCT hour) FROM affiliate_stats_hourly WHERE hour < (SELECT hour FROM stats_day_marks))`).Scan(&diff, &hours); err != nil {
		t.Fatal(err)
	}
	if diff != 0 {
		t.Errorf("%d rows differ between the daily rollup and the hourly rows before its mark", diff)
	}
	if hours < minHours {
		t.Errorf("%d hours with rows rolled into the daily rollup, want at least %d", hours, minHours)
	}
}
