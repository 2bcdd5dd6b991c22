package affiliate_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/folioledger/folio/affiliate"
)

// BenchmarkStats measures a 30-day statistics query (daily series, grouped
// by level) for an affiliate with 10k and with 1M accruals. The accrual rows
// are generated in SQL and the rollup built from them by aggregation (the
// same definition the write path maintains incrementally), because booking
// 1M accruals through the API would measure ingestion, not the query. The
// query reads only rollup rows, so its time should not grow with the
// number of accruals.
//
//	go test -run '^$' -bench BenchmarkStats -benchtime 50x ./affiliate/
func BenchmarkStats(b *testing.B) {
	for _, n := range []int{10_000, 1_000_000} {
		b.Run(fmt.Sprintf("accruals=%d", n), func(b *testing.B) {
			f := newFixture(b)
			ctx := context.Background()
			f.user(b, "A", "")
			start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			step := (90 * 24 * time.Hour) / time.Duration(n) // 90 days of accruals
			if _, err := f.db.Admin.Exec(ctx, `INSERT INTO accruals (id, source, trade_id, entry_id, beneficiary, trader_id, level, program_id, kind,
					amount, currency, fx_rate, reporting_amount, reporting_currency, market, code, recorded_at, trade_fee, fee_reporting, volume_reporting, country)
				SELECT gen_random_uuid(), 'trade', 'b' || i, gen_random_uuid(), 'A', 'u' || (i % 1000), 1 + i % 3, 'broker', 'levels',
					0.25, 'USDT', 0.999, 0.24975, 'USD', (ARRAY['BTCUSDT','ETHUSDT','SOLUSDT'])[1 + i % 3], 'CODE' || (i % 5),
					$1::timestamptz + (i * $2::bigint) * interval '1 microsecond', 1, 0.999, 1000, (ARRAY['DE','FR','US','JP'])[1 + i % 4]
				FROM generate_series(1, $3::bigint) AS i`, start, step.Microseconds(), n); err != nil {
				b.Fatal(err)
			}
			if _, err := f.db.Admin.Exec(ctx, `INSERT INTO affiliate_stats_hourly (affiliate_id, hour, level, market, code, currency, program_id, country,
					commission, commission_reporting, fees, fees_reporting, volume_reporting, trades, accruals)
				SELECT beneficiary, date_trunc('hour', recorded_at), level, market, code, currency, program_id, country,
					sum(amount), sum(reporting_amount), sum(trade_fee), sum(fee_reporting), sum(volume_reporting), count(*), count(*)
				FROM accruals_whole WHERE beneficiary = 'A' GROUP BY 1, 2, 3, 4, 5, 6, 7, 8`); err != nil {
				b.Fatal(err)
			}
			if _, err := f.db.Admin.Exec(ctx, `INSERT INTO affiliate_stats_day (affiliate_id, day, level, market, code, currency, program_id, country,
					commission, commission_reporting, fees, fees_reporting, volume_reporting, trades, accruals)
				SELECT affiliate_id, date_trunc('day', hour), level, market, code, currency, program_id, country,
					sum(commission), sum(commission_reporting), sum(fees), sum(fees_reporting), sum(volume_reporting), sum(trades), sum(accruals)
				FROM affiliate_stats_hourly WHERE affiliate_id = 'A' GROUP BY 1, 2, 3, 4, 5, 6, 7, 8`); err != nil {
				b.Fatal(err)
			}
			if _, err := f.db.Admin.Exec(ctx, `ANALYZE`); err != nil {
				b.Fatal(err)
			}
			q := affiliate.StatsQuery{Affiliate: "A", From: start.Add(30 * 24 * time.Hour), To: start.Add(60 * 24 * time.Hour), Interval: "day", GroupBy: "level"}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				st, err := f.svc.Stats(ctx, q)
				if err != nil {
					b.Fatal(err)
				}
				if len(st.Series) != 30 || len(st.Groups) != 3 {
					b.Fatalf("series %d, groups %d; want 30 and 3", len(st.Series), len(st.Groups))
				}
			}
		})
	}
}
