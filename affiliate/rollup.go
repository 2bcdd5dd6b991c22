package affiliate

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/cockroachdb/apd/v3"
	"github.com/folioledger/folio/ledger"
	"github.com/folioledger/folio/schema"
)

// rollupFigures are the summed figures of one rollup row. An accrual
// without a reporting amount (no FX rate in force at its business time)
// adds its amount and fee to the unpriced figures instead of 0 to the
// reporting ones, so that statistics can say what they could not price.
type rollupFigures struct {
	commission, commissionRep, fees, feesRep, volumeRep apd.Decimal
	unpricedCom, unpricedFees                           apd.Decimal
	trades, accruals                                    int64
}

func (f *rollupFigures) add(r *accrualRow, rep, feeRep *apd.Decimal) error {
	var upCom, upFee *apd.Decimal
	if rep == nil {
		upCom, upFee = &r.amount, r.fee
	}
	for _, x := range []struct{ dst, v *apd.Decimal }{
		{&f.commission, &r.amount}, {&f.commissionRep, rep}, {&f.fees, r.fee}, {&f.feesRep, feeRep}, {&f.volumeRep, r.volumeRep},
		{&f.unpricedCom, upCom}, {&f.unpricedFees, upFee},
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

// sum adds the figures of another row.
func (f *rollupFigures) sum(o *rollupFigures) error {
	for _, x := range []struct{ dst, v *apd.Decimal }{
		{&f.commission, &o.commission}, {&f.commissionRep, &o.commissionRep}, {&f.fees, &o.fees}, {&f.feesRep, &o.feesRep}, {&f.volumeRep, &o.volumeRep},
		{&f.unpricedCom, &o.unpricedCom}, {&f.unpricedFees, &o.unpricedFees},
	} {
		if _, err := exact.Add(x.dst, x.dst, x.v); err != nil {
			return err
		}
	}
	f.trades += o.trades
	f.accruals += o.accruals
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

// rollup aggregates a batch of accruals into the statistics rows, by
// business time (accrualRow.at).
type rollup struct {
	hours map[hourKey]*rollupFigures
	days  map[dayKey]*rollupFigures
}

func newRollup() *rollup {
	return &rollup{hours: map[hourKey]*rollupFigures{}, days: map[dayKey]*rollupFigures{}}
}

func (r *rollup) add(a *accrualRow, rep, feeRep *apd.Decimal) error {
	at := a.at.UTC()
	hk := hourKey{a.beneficiary, at.Truncate(time.Hour), a.level, a.market, a.code, a.currency, a.program, a.country}
	dk := dayKey{a.beneficiary, a.trader, at.Truncate(24 * time.Hour), a.currency}
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
	return nil
}

// addFigures adds figures f under a's keys (a correction, such as a
// revaluation, rather than an accrual).
func (r *rollup) addFigures(a *accrualRow, f *rollupFigures) error {
	at := a.at.UTC()
	hk := hourKey{a.beneficiary, at.Truncate(time.Hour), a.level, a.market, a.code, a.currency, a.program, a.country}
	dk := dayKey{a.beneficiary, a.trader, at.Truncate(24 * time.Hour), a.currency}
	if r.hours[hk] == nil {
		r.hours[hk] = &rollupFigures{}
	}
	if r.days[dk] == nil {
		r.days[dk] = &rollupFigures{}
	}
	if err := r.hours[hk].sum(f); err != nil {
		return err
	}
	return r.days[dk].sum(f)
}

// write upserts every touched rollup row once, in key order: the hourly
// rows, the same rows summed per day for the hours the daily rollup already
// holds (before the day mark: late trades, reversals, revaluations; the
// others reach it when their hour is rolled, rollDays), and the referee
// rows.
func (r *rollup) write(ctx context.Context, q schema.Querier) error {
	if len(r.hours) == 0 {
		return nil
	}
	mark, _, err := dayMark(ctx, q)
	if err != nil {
		return err
	}
	days := make(map[hourKey]*rollupFigures)
	for k, f := range r.hours {
		if !k.hour.Before(mark) {
			continue
		}
		if err := addDay(days, k, f); err != nil {
			return err
		}
	}
	if err := writeDimensions(ctx, q, sqlHourly, r.hours); err != nil {
		return err
	}
	if len(days) > 0 {
		if err := writeDimensions(ctx, q, sqlDaily, days); err != nil {
			return err
		}
	}
	return r.writeReferees(ctx, q)
}

// addDay adds f, the figures of hourly row k, to its day's row in days.
func addDay(days map[hourKey]*rollupFigures, k hourKey, f *rollupFigures) error {
	k.hour = k.hour.Truncate(24 * time.Hour)
	d := days[k]
	if d == nil {
		d = &rollupFigures{}
		days[k] = d
	}
	return d.sum(f)
}

// The upserts of the rollups keyed by affiliate × time bucket × level ×
// market × code × currency × program × country.
var (
	sqlHourly = dimensionsUpsert("affiliate_stats_hourly", "hour")
	sqlDaily  = dimensionsUpsert("affiliate_stats_day", "day")
)

// dimensionsUpsert is the upsert of such a rollup table, whose bucket
// column is tcol.
func dimensionsUpsert(table, tcol string) string {
	return `INSERT INTO ` + table + ` AS s (affiliate_id, ` + tcol + `, level, market, code, currency, program_id, country, ` + figureNames + `)
		SELECT a, h, l, m, c, cu, p, co, ` + figureSelect + `
		FROM unnest($1::text[], $2::timestamptz[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], ` + figureArrays(9) + `)
			AS u(a, h, l, m, c, cu, p, co, x1, x2, x3, x4, x5, t, n, x6, x7)
		ON CONFLICT (affiliate_id, ` + tcol + `, level, market, code, currency, program_id, country) DO UPDATE SET ` + figureUpsert
}

// writeDimensions upserts rows with sql, one of the dimension upserts.
func writeDimensions(ctx context.Context, w schema.Execer, sql string, rows map[hourKey]*rollupFigures) error {
	hks := make([]hourKey, 0, len(rows))
	for k := range rows {
		hks = append(hks, k)
	}
	sort.Slice(hks, func(i, j int) bool { return hks[i].less(&hks[j]) })
	n := len(hks)
	aff, mkt, code, cur, prog, country := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	hours, levels := make([]time.Time, n), make([]int64, n)
	var fc figureColumns
	for i, k := range hks {
		aff[i], hours[i], levels[i], mkt[i], code[i], cur[i], prog[i], country[i] = k.affiliate, k.hour, int64(k.level), k.market, k.code, k.currency, k.program, k.country
		fc.add(rows[k])
	}
	_, err := w.Exec(ctx, sql,
		append([]any{aff, hours, levels, mkt, code, cur, prog, country}, fc.args()...)...)
	return err
}

// The figure columns every rollup table shares, as the upserts name,
// select, bind and add them.
const (
	figureNames  = `commission, commission_reporting, fees, fees_reporting, volume_reporting, trades, accruals, unpriced_commission, unpriced_fees`
	figureSelect = `x1::numeric, x2::numeric, x3::numeric, x4::numeric, x5::numeric, t, n, x6::numeric, x7::numeric`
	figureUpsert = `commission = s.commission + excluded.commission, commission_reporting = s.commission_reporting + excluded.commission_reporting,
		fees = s.fees + excluded.fees, fees_reporting = s.fees_reporting + excluded.fees_reporting,
		volume_reporting = s.volume_reporting + excluded.volume_reporting, trades = s.trades + excluded.trades, accruals = s.accruals + excluded.accruals,
		unpriced_commission = s.unpriced_commission + excluded.unpriced_commission, unpriced_fees = s.unpriced_fees + excluded.unpriced_fees`
)

// figureArrays is the unnest argument list of the figure columns bound
// from parameter $first on.
func figureArrays(first int) string {
	return fmt.Sprintf("$%d::text[], $%d::text[], $%d::text[], $%d::text[], $%d::text[], $%d::bigint[], $%d::bigint[], $%d::text[], $%d::text[]",
		first, first+1, first+2, first+3, first+4, first+5, first+6, first+7, first+8)
}

// figureColumns are the figure columns of an upsert, one element per row.
type figureColumns struct {
	com, comRep, fees, feesRep, vol, upCom, upFees []string
	trades, accs                                   []int64
}

func (c *figureColumns) add(f *rollupFigures) {
	c.com = append(c.com, ledger.Format(&f.commission))
	c.comRep = append(c.comRep, ledger.Format(&f.commissionRep))
	c.fees = append(c.fees, ledger.Format(&f.fees))
	c.feesRep = append(c.feesRep, ledger.Format(&f.feesRep))
	c.vol = append(c.vol, ledger.Format(&f.volumeRep))
	c.trades = append(c.trades, f.trades)
	c.accs = append(c.accs, f.accruals)
	c.upCom = append(c.upCom, ledger.Format(&f.unpricedCom))
	c.upFees = append(c.upFees, ledger.Format(&f.unpricedFees))
}

func (c *figureColumns) args() []any {
	return []any{c.com, c.comRep, c.fees, c.feesRep, c.vol, c.trades, c.accs, c.upCom, c.upFees}
}

func (r *rollup) writeReferees(ctx context.Context, w schema.Execer) error {
	ks := make([]dayKey, 0, len(r.days))
	for k := range r.days {
		ks = append(ks, k)
	}
	sort.Slice(ks, func(i, j int) bool { return ks[i].less(&ks[j]) })
	n := len(ks)
	aff, refs, cur, days := make([]string, n), make([]string, n), make([]string, n), make([]time.Time, n)
	var fc figureColumns
	for i, k := range ks {
		aff[i], refs[i], days[i], cur[i] = k.affiliate, k.referee, k.day, k.currency
		fc.add(r.days[k])
	}
	_, err := w.Exec(ctx, sqlReferees,
		append([]any{aff, refs, days, cur}, fc.args()...)...)
	return err
}

// sqlReferees upserts the affiliate × referee × day rollup.
var sqlReferees = `INSERT INTO affiliate_referee_daily AS s (affiliate_id, referee_id, day, currency, ` + figureNames + `)
		SELECT a, r, d, cu, ` + figureSelect + `
		FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::text[], ` + figureArrays(5) + `) AS u(a, r, d, cu, x1, x2, x3, x4, x5, t, n, x6, x7)
		ON CONFLICT (affiliate_id, referee_id, day, currency) DO UPDATE SET ` + figureUpsert
