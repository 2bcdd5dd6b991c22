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
	"github.com/jackc/pgx/v5"
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
// rows. q is a transaction of db.
func (r *rollup) write(ctx context.Context, db *schema.DB, q schema.Querier) error {
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
	// Every rollup key of a round is looked up one by one, whatever the
	// table's size (schema.DB.IndexProbes; for the rest of q's
	// transaction: the volume rollups after them too). The planner's
	// choice, a hash join, reads and hashes the whole table every round:
	// on a 25k-row hourly table, a 3,300-key round (two thirds found) took
	// 74 ms hashed and 42 ms probed; the referee rows, ~85% of them new,
	// 99.7 against 38.6 ms.
	if err := db.IndexProbes(ctx, q); err != nil {
		return err
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
	sqlHourly = dimensionsSQL("affiliate_stats_hourly", "hour")
	sqlDaily  = dimensionsSQL("affiliate_stats_day", "day")
)

// dimensionsSQL is the write of such a rollup table, whose bucket
// column is tcol.
func dimensionsSQL(table, tcol string) rollupSQL {
	return newRollupSQL(table, []column{{"affiliate_id", "text"}, {tcol, "timestamptz"}, {"level", "bigint"}, {"market", "text"},
		{"code", "text"}, {"currency", "text"}, {"program_id", "text"}, {"country", "text"}}, figureColumnList)
}

// writeDimensions writes rows with sql, one of the dimension writes.
func writeDimensions(ctx context.Context, q schema.Querier, sql rollupSQL, rows map[hourKey]*rollupFigures) error {
	hks := make([]hourKey, 0, len(rows))
	for k := range rows {
		hks = append(hks, k)
	}
	sort.Slice(hks, func(i, j int) bool { return hks[i].less(&hks[j]) })
	n := len(hks)
	aff, mkt, code, cur, prog, country := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	hours, levels := make([]time.Time, n), make([]int64, n)
	fc := newFigureColumns(n)
	for i, k := range hks {
		aff[i], hours[i], levels[i], mkt[i], code[i], cur[i], prog[i], country[i] = k.affiliate, k.hour, int64(k.level), k.market, k.code, k.currency, k.program, k.country
		fc.add(rows[k])
	}
	return sql.write(ctx, q, n, append([]any{aff, hours, levels, mkt, code, cur, prog, country}, fc.args()...))
}

// rollupSQL is the write of a rollup table's rows: an UPDATE that adds the
// figures to the rows that exist, returning which they were, then an
// INSERT of the others. An upsert (INSERT … ON CONFLICT DO UPDATE) wrote
// two WAL records a row: a lock and the update of a row that existed, or a
// speculative insert and its confirmation of one that did not.
//
// Only the folder writes the rollups, one round at a time per process. Two
// servers' folders may meet on a row: an UPDATE waits for the other's
// (and, under SERIALIZABLE, retries), and an INSERT of a row the other has
// just inserted fails with a unique violation, which the fold reports as
// raced (errFoldRaced): it is folded again at the next round.
type rollupSQL struct {
	update, insert string
}

// column is a rollup table's column and its type; a numeric one is bound
// as text (exact decimals) and cast.
type column struct{ name, typ string }

// figureColumnList is the figure columns every rollup table shares, in
// the order figureColumns.args binds them.
var figureColumnList = []column{{"commission", "numeric"}, {"commission_reporting", "numeric"}, {"fees", "numeric"}, {"fees_reporting", "numeric"},
	{"volume_reporting", "numeric"}, {"trades", "bigint"}, {"accruals", "bigint"}, {"unpriced_commission", "numeric"}, {"unpriced_fees", "numeric"}}

// newRollupSQL is the write of table keyed by keys, whose figures the
// UPDATE adds to.
func newRollupSQL(table string, keys, figures []column) rollupSQL {
	var arrays, names, vals, match, sets, cols []string
	for i, c := range append(append([]column{}, keys...), figures...) {
		name, typ, val := fmt.Sprintf("c%d", i+1), c.typ, fmt.Sprintf("c%d", i+1)
		if typ == "numeric" {
			typ, val = "text", val+"::numeric"
		}
		arrays, names, vals, cols = append(arrays, fmt.Sprintf("$%d::%s[]", i+1, typ)), append(names, name), append(vals, val), append(cols, c.name)
		if i < len(keys) {
			match = append(match, fmt.Sprintf("s.%s = u.%s", c.name, name))
		} else {
			sets = append(sets, fmt.Sprintf("%s = s.%s + u.%s", c.name, c.name, val))
		}
	}
	return rollupSQL{
		update: `UPDATE ` + table + ` AS s SET ` + strings.Join(sets, ", ") + `
		FROM ` + schema.ZipNumbered(strings.Join(arrays, ", "), strings.Join(names, ", "), "i") + ` AS u
		WHERE ` + strings.Join(match, " AND ") + ` RETURNING u.i`,
		insert: `INSERT INTO ` + table + ` (` + strings.Join(cols, ", ") + `)
		SELECT ` + strings.Join(vals, ", ") + ` FROM ` + schema.Zip(strings.Join(arrays, ", "), strings.Join(names, ", ")) + ` AS u`,
	}
}

// write adds the figures to n rows: cols are the key columns then the
// figure columns, one slice of n each ([]string, []int64 or []time.Time),
// rows in key order. The UPDATE goes first, then the INSERT of the rows it did
// not find. Both are planned for their arguments each time (a generic plan
// made while the table was small would seq-scan it).
func (rs rollupSQL) write(ctx context.Context, q schema.Querier, n int, cols []any) error {
	rows, err := q.Query(ctx, rs.update, append([]any{schema.PlanEachTime}, cols...)...)
	if err != nil {
		return err
	}
	found, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return err
	}
	keep := make([]bool, n)
	if len(found) == len(keep) {
		return nil
	}
	for i := range keep {
		keep[i] = true
	}
	for _, i := range found {
		keep[i-1] = false // ordinality counts from 1
	}
	args := []any{schema.PlanEachTime}
	for _, col := range cols {
		args = append(args, keepRows(col, keep))
	}
	_, err = q.Exec(ctx, rs.insert, args...)
	if _, ok := schema.UniqueViolation(err); ok {
		return errFoldRaced
	}
	return err
}

// keepRows returns the elements of col (a []string, []int64 or
// []time.Time) whose keep is true.
func keepRows(col any, keep []bool) any {
	switch c := col.(type) {
	case []string:
		return filterRows(c, keep)
	case []int64:
		return filterRows(c, keep)
	case []time.Time:
		return filterRows(c, keep)
	}
	panic(fmt.Sprintf("affiliate: rollup column of type %T", col))
}

func filterRows[T any](c []T, keep []bool) []T {
	out := make([]T, 0, len(c))
	for i, v := range c {
		if keep[i] {
			out = append(out, v)
		}
	}
	return out
}

// figureNames are the names of figureColumnList, for the reads.
var figureNames = func() string {
	names := make([]string, len(figureColumnList))
	for i, c := range figureColumnList {
		names[i] = c.name
	}
	return strings.Join(names, ", ")
}()

// figureColumns are the figure columns of a rollup write, one element per row.
type figureColumns struct {
	com, comRep, fees, feesRep, vol, upCom, upFees []string
	trades, accs                                   []int64
}

// newFigureColumns is figureColumns with room for n rows (appending
// row by row regrew each of the nine slices ~log2(n) times: half of add's
// time in a 64 × 1 profile).
func newFigureColumns(n int) *figureColumns {
	return &figureColumns{
		com: make([]string, 0, n), comRep: make([]string, 0, n), fees: make([]string, 0, n), feesRep: make([]string, 0, n),
		vol: make([]string, 0, n), upCom: make([]string, 0, n), upFees: make([]string, 0, n),
		trades: make([]int64, 0, n), accs: make([]int64, 0, n),
	}
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

func (r *rollup) writeReferees(ctx context.Context, q schema.Querier) error {
	ks := make([]dayKey, 0, len(r.days))
	for k := range r.days {
		ks = append(ks, k)
	}
	sort.Slice(ks, func(i, j int) bool { return ks[i].less(&ks[j]) })
	n := len(ks)
	aff, refs, cur, days := make([]string, n), make([]string, n), make([]string, n), make([]time.Time, n)
	fc := newFigureColumns(n)
	for i, k := range ks {
		aff[i], refs[i], days[i], cur[i] = k.affiliate, k.referee, k.day, k.currency
		fc.add(r.days[k])
	}
	return sqlReferees.write(ctx, q, n, append([]any{aff, refs, days, cur}, fc.args()...))
}

// sqlReferees writes the affiliate × referee × day rollup.
var sqlReferees = newRollupSQL("affiliate_referee_daily",
	[]column{{"affiliate_id", "text"}, {"referee_id", "text"}, {"day", "timestamptz"}, {"currency", "text"}}, figureColumnList)
