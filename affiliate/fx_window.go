package affiliate

import (
	"context"
	"sort"
	"time"

	"github.com/cockroachdb/apd/v3"
	"github.com/folioledger/folio/ledger"
	"github.com/folioledger/folio/schema"
)

// ratePoint is one stored rate of a pair.
type ratePoint struct {
	source string
	at     time.Time
	rate   apd.Decimal
}

// rateWindow fills cache with the rate base→quote in force at each of
// times (the same figures fxRate computes), reading each direction of the
// pair once: every source's latest rate at or before the earliest time and
// every rate between the earliest and the latest. A batch of trades
// executed at many different times so costs two reads per pair instead of
// two per trade.
func rateWindow(ctx context.Context, q schema.Querier, cache rateCache, base, quote string, times []time.Time) error {
	if base == quote || len(times) == 0 {
		return nil
	}
	lo, hi := times[0].UTC(), times[0].UTC()
	for _, t := range times[1:] {
		if t.Before(lo) {
			lo = t.UTC()
		}
		if t.After(hi) {
			hi = t.UTC()
		}
	}
	direct, err := loadRatePoints(ctx, q, base, quote, lo, hi)
	if err != nil {
		return err
	}
	inverse, err := loadRatePoints(ctx, q, quote, base, lo, hi)
	if err != nil {
		return err
	}
	for _, t := range times {
		k := rateKey{base, quote, t.UTC()}
		if _, ok := cache[k]; ok {
			continue
		}
		r, err := averageRate(ratesInForce(direct, t))
		if err != nil {
			return err
		}
		if r == nil {
			inv, err := averageRate(ratesInForce(inverse, t))
			if err != nil {
				return err
			}
			if r, err = invertRate(inv); err != nil {
				return err
			}
		}
		cache[k] = r
	}
	return nil
}

// loadRatePoints reads the rates of a pair that can be in force between lo
// and hi, ordered by time.
func loadRatePoints(ctx context.Context, q schema.Querier, base, quote string, lo, hi time.Time) ([]ratePoint, error) {
	rows, err := q.Query(ctx, `SELECT source, at, rate::text FROM fx_rates WHERE base = $1 AND quote = $2 AND at > $3 AND at <= $4
		UNION ALL
		(SELECT DISTINCT ON (source) source, at, rate::text FROM fx_rates WHERE base = $1 AND quote = $2 AND at <= $3 ORDER BY source, at DESC)`,
		base, quote, lo, hi)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []ratePoint
	for rows.Next() {
		var p ratePoint
		var s string
		if err := rows.Scan(&p.source, &p.at, &s); err != nil {
			return nil, err
		}
		if p.rate, err = ledger.ParseStored(s); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool { return out[i].at.Before(out[j].at) })
	return out, nil
}

// ratesInForce is each source's latest rate at or before t, in source
// order.
func ratesInForce(points []ratePoint, t time.Time) []apd.Decimal {
	latest := map[string]*ratePoint{}
	for i := range points {
		if points[i].at.After(t) {
			break
		}
		latest[points[i].source] = &points[i]
	}
	sources := make([]string, 0, len(latest))
	for s := range latest {
		sources = append(sources, s)
	}
	sort.Strings(sources)
	out := make([]apd.Decimal, len(sources))
	for i, s := range sources {
		out[i] = latest[s].rate
	}
	return out
}
