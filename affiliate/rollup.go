package affiliate

import (
	"context"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/cockroachdb/apd/v3"
	"github.com/folioledger/folio/ledger"
	"github.com/jackc/pgx/v5"
)

// rollupFigures are the summed figures of one rollup row.
type rollupFigures struct {
	commission, commissionRep, fees, feesRep, volumeRep apd.Decimal
	trades, accruals                                    int64
}

func (f *rollupFigures) add(r *accrualRow, rep, feeRep *apd.Decimal) error {
	for _, x := range []struct{ dst, v *apd.Decimal }{
		{&f.commission, &r.amount}, {&f.commissionRep, rep}, {&f.fees, r.fee}, {&f.feesRep, feeRep}, {&f.volumeRep, r.volumeRep},
	} {
		if x.v == nil {
			continue
		}
		if _, err := exact.Add(x.dst, x.dst, x.v); err != nil {
			return err
		}
	}
	f.trades += r.trades
	if r.source == "reversal" {
		f.accruals--
	} else {
		f.accruals++
	}
	return nil
}

type hourKey struct {
	affiliate                                string
	hour                                     time.Time
	level                                    int
	market, code, currency, program, country string
}

type dayKey struct {
	affiliate, referee string
	day                time.Time
	currency           string
}

type dimKey struct {
	affiliate  string
	day        time.Time
	dim, value string
	currency   string
}

// The key orders below are the ones the upserts have always used (rows are
// written in key order so that concurrent writers lock them in the same
// order): field by field, strings byte-wise. They compare fields directly;
// building "a\x00b\x00…" strings per comparison was most of the sort's cost.

func (a *hourKey) less(b *hourKey) bool {
	if c := strings.Compare(a.affiliate, b.affiliate); c != 0 {
		return c < 0
	}
	if !a.hour.Equal(b.hour) {
		return a.hour.Before(b.hour)
	}
	if a.level != b.level {
		return a.level < b.level
	}
	return lessStrings([]string{a.market, a.code, a.currency, a.program, a.country}, []string{b.market, b.code, b.currency, b.program, b.country})
}

func (a *dayKey) less(b *dayKey) bool {
	if c := strings.Compare(a.affiliate, b.affiliate); c != 0 {
		return c < 0
	}
	if c := strings.Compare(a.referee, b.referee); c != 0 {
		return c < 0
	}
	if !a.day.Equal(b.day) {
		return a.day.Before(b.day)
	}
	return a.currency < b.currency
}

func (a *dimKey) less(b *dimKey) bool {
	if c := strings.Compare(a.affiliate, b.affiliate); c != 0 {
		return c < 0
	}
	if c := strings.Compare(a.dim, b.dim); c != 0 {
		return c < 0
	}
	if !a.day.Equal(b.day) {
		return a.day.Before(b.day)
	}
	if c := strings.Compare(a.value, b.value); c != 0 {
		return c < 0
	}
	return a.currency < b.currency
}

// lessStrings compares a and b field by field: the same order as their
// NUL-joined strings (fields never contain NUL).
func lessStrings(a, b []string) bool {
	for i := range a {
		if c := strings.Compare(a[i], b[i]); c != 0 {
			return c < 0
		}
	}
	return false
}

// rollup aggregates one transaction's accruals into the statistics rows.
type rollup struct {
	hours map[hourKey]*rollupFigures
	days  map[dayKey]*rollupFigures
	dims  map[dimKey]*rollupFigures
}

func newRollup() *rollup {
	return &rollup{hours: map[hourKey]*rollupFigures{}, days: map[dayKey]*rollupFigures{}, dims: map[dimKey]*rollupFigures{}}
}

func (r *rollup) add(a *accrualRow, now time.Time, rep, feeRep *apd.Decimal) error {
	hk := hourKey{a.beneficiary, now.Truncate(time.Hour), a.level, a.market, a.code, a.currency, a.program, a.country}
	dk := dayKey{a.beneficiary, a.trader, now.Truncate(24 * time.Hour), a.currency}
	if r.hours[hk] == nil {
		r.hours[hk] = &rollupFigures{}
	}
	if r.days[dk] == nil {
		r.days[dk] = &rollupFigures{}
	}
	if err := r.hours[hk].add(a, rep, feeRep); err != nil {
		return err
	}
	if err := r.days[dk].add(a, rep, feeRep); err != nil {
		return err
	}
	day := now.Truncate(24 * time.Hour)
	for _, d := range [][2]string{{"total", ""}, {"level", strconv.Itoa(a.level)}, {"market", a.market}, {"code", a.code}, {"country", a.country}, {"program", a.program}} {
		k := dimKey{a.beneficiary, day, d[0], d[1], a.currency}
		if r.dims[k] == nil {
			r.dims[k] = &rollupFigures{}
		}
		if err := r.dims[k].add(a, rep, feeRep); err != nil {
			return err
		}
	}
	return nil
}

// write upserts every touched rollup row once, in key order.
func (r *rollup) write(ctx context.Context, tx pgx.Tx) error {
	if len(r.hours) == 0 {
		return nil
	}
	hks := make([]hourKey, 0, len(r.hours))
	for k := range r.hours {
		hks = append(hks, k)
	}
	sort.Slice(hks, func(i, j int) bool { return hks[i].less(&hks[j]) })
	n := len(hks)
	aff, mkt, code, cur, prog, country := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	hours := make([]time.Time, n)
	levels, trades, accs := make([]int64, n), make([]int64, n), make([]int64, n)
	com, comRep, fees, feesRep, vol := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	for i, k := range hks {
		f := r.hours[k]
		aff[i], hours[i], levels[i], mkt[i], code[i], cur[i], prog[i], country[i] = k.affiliate, k.hour, int64(k.level), k.market, k.code, k.currency, k.program, k.country
		com[i], comRep[i], fees[i], feesRep[i], vol[i] = ledger.Format(&f.commission), ledger.Format(&f.commissionRep), ledger.Format(&f.fees), ledger.Format(&f.feesRep), ledger.Format(&f.volumeRep)
		trades[i], accs[i] = f.trades, f.accruals
	}
	if _, err := tx.Exec(ctx, `INSERT INTO affiliate_stats_hourly AS s (affiliate_id, hour, level, market, code, currency, program_id, country,
			commission, commission_reporting, fees, fees_reporting, volume_reporting, trades, accruals)
		SELECT a, h, l, m, c, cu, p, co, x1::numeric, x2::numeric, x3::numeric, x4::numeric, x5::numeric, t, n
		FROM unnest($1::text[], $2::timestamptz[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[],
			$11::text[], $12::text[], $13::text[], $14::bigint[], $15::bigint[]) AS u(a, h, l, m, c, cu, p, co, x1, x2, x3, x4, x5, t, n)
		ON CONFLICT (affiliate_id, hour, level, market, code, currency, program_id, country) DO UPDATE SET
			commission = s.commission + excluded.commission, commission_reporting = s.commission_reporting + excluded.commission_reporting,
			fees = s.fees + excluded.fees, fees_reporting = s.fees_reporting + excluded.fees_reporting,
			volume_reporting = s.volume_reporting + excluded.volume_reporting, trades = s.trades + excluded.trades, accruals = s.accruals + excluded.accruals`,
		aff, hours, levels, mkt, code, cur, prog, country, com, comRep, fees, feesRep, vol, trades, accs); err != nil {
		return err
	}
	dks := make([]dayKey, 0, len(r.days))
	for k := range r.days {
		dks = append(dks, k)
	}
	sort.Slice(dks, func(i, j int) bool { return dks[i].less(&dks[j]) })
	n = len(dks)
	aff, cur = make([]string, n), make([]string, n)
	refs := make([]string, n)
	days := make([]time.Time, n)
	trades, accs = make([]int64, n), make([]int64, n)
	com, comRep, fees, feesRep, vol = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	for i, k := range dks {
		f := r.days[k]
		aff[i], refs[i], days[i], cur[i] = k.affiliate, k.referee, k.day, k.currency
		com[i], comRep[i], fees[i], feesRep[i], vol[i] = ledger.Format(&f.commission), ledger.Format(&f.commissionRep), ledger.Format(&f.fees), ledger.Format(&f.feesRep), ledger.Format(&f.volumeRep)
		trades[i], accs[i] = f.trades, f.accruals
	}
	if err := r.writeDims(ctx, tx); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, `INSERT INTO affiliate_referee_daily AS s (affiliate_id, referee_id, day, currency,
			commission, commission_reporting, fees, fees_reporting, volume_reporting, trades, accruals)
		SELECT a, r, d, cu, x1::numeric, x2::numeric, x3::numeric, x4::numeric, x5::numeric, t, n
		FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[],
			$10::bigint[], $11::bigint[]) AS u(a, r, d, cu, x1, x2, x3, x4, x5, t, n)
		ON CONFLICT (affiliate_id, referee_id, day, currency) DO UPDATE SET
			commission = s.commission + excluded.commission, commission_reporting = s.commission_reporting + excluded.commission_reporting,
			fees = s.fees + excluded.fees, fees_reporting = s.fees_reporting + excluded.fees_reporting,
			volume_reporting = s.volume_reporting + excluded.volume_reporting, trades = s.trades + excluded.trades, accruals = s.accruals + excluded.accruals`,
		aff, refs, days, cur, com, comRep, fees, feesRep, vol, trades, accs)
	return err
}

func (r *rollup) writeDims(ctx context.Context, tx pgx.Tx) error {
	ks := make([]dimKey, 0, len(r.dims))
	for k := range r.dims {
		ks = append(ks, k)
	}
	sort.Slice(ks, func(i, j int) bool { return ks[i].less(&ks[j]) })
	n := len(ks)
	aff, dims, vals, cur := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	days := make([]time.Time, n)
	trades, accs := make([]int64, n), make([]int64, n)
	com, comRep, fees, feesRep, vol := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	for i, k := range ks {
		f := r.dims[k]
		aff[i], days[i], dims[i], vals[i], cur[i] = k.affiliate, k.day, k.dim, k.value, k.currency
		com[i], comRep[i], fees[i], feesRep[i], vol[i] = ledger.Format(&f.commission), ledger.Format(&f.commissionRep), ledger.Format(&f.fees), ledger.Format(&f.feesRep), ledger.Format(&f.volumeRep)
		trades[i], accs[i] = f.trades, f.accruals
	}
	_, err := tx.Exec(ctx, `INSERT INTO affiliate_stats_daily AS s (affiliate_id, day, dim, value, currency,
			commission, commission_reporting, fees, fees_reporting, volume_reporting, trades, accruals)
		SELECT a, d, dm, v, cu, x1::numeric, x2::numeric, x3::numeric, x4::numeric, x5::numeric, t, n
		FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[],
			$11::bigint[], $12::bigint[]) AS u(a, d, dm, v, cu, x1, x2, x3, x4, x5, t, n)
		ON CONFLICT (affiliate_id, dim, day, value, currency) DO UPDATE SET
			commission = s.commission + excluded.commission, commission_reporting = s.commission_reporting + excluded.commission_reporting,
			fees = s.fees + excluded.fees, fees_reporting = s.fees_reporting + excluded.fees_reporting,
			volume_reporting = s.volume_reporting + excluded.volume_reporting, trades = s.trades + excluded.trades, accruals = s.accruals + excluded.accruals`,
		aff, days, dims, vals, cur, com, comRep, fees, feesRep, vol, trades, accs)
	return err
}
