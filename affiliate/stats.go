package affiliate

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/cockroachdb/apd/v3"
	"github.com/folioledger/folio"
	"github.com/folioledger/folio/ledger"
	"github.com/jackc/pgx/v5"
)

// Statistics intervals and groupings (docs/CONTRACT.md §4).
var (
	StatsIntervals = []string{"hour", "day", "week", "month"}
	StatsGroupings = []string{"level", "market", "code", "referee", "country", "program", "currency", "product", "campaign"}
)

// StatsQuery selects an affiliate's statistics. From and To are rounded
// out to whole hours (whole days when grouping by referee).
type StatsQuery struct {
	Affiliate string
	From, To  time.Time
	Interval  string // "" = no series
	GroupBy   string // "" = no groups
}

// StatsFigures are summed rollup figures; money in the reporting currency.
type StatsFigures struct {
	Commission apd.Decimal
	Fees       apd.Decimal
	Volume     apd.Decimal
	Trades     int64
	Accruals   int64
}

// StatsPoint is one bucket of a series or one group.
type StatsPoint struct {
	Start time.Time // series
	Key   string    // groups
	StatsFigures
}

// CurrencyCommission is the commission in one accrual currency.
type CurrencyCommission struct {
	Currency   string
	Commission apd.Decimal
	Reporting  apd.Decimal
}

// ReferralCounts are Binance-style summary counts of direct referees.
type ReferralCounts struct {
	Total, Verified, Deposited, FirstTrade int64
	RegisteredInPeriod                     int64
	// TradedInPeriod counts direct referees with trades in the period.
	TradedInPeriod int64
}

// UnpricedAmount is what a statistics answer could not convert into the
// reporting currency, in one accrual currency: the commission and fees of
// accruals with no FX rate in force at their business time (they count 0
// in the reporting-currency figures until the folder revalues them).
type UnpricedAmount struct {
	Currency   string
	Commission apd.Decimal
	Fees       apd.Decimal
}

// Stats is the answer to a StatsQuery.
type Stats struct {
	Affiliate  string
	From, To   time.Time
	Currency   string // reporting currency
	Totals     StatsFigures
	Referrals  ReferralCounts
	ByCurrency []CurrencyCommission
	Unpriced   []UnpricedAmount // by currency; empty when everything is priced
	Series     []StatsPoint
	Groups     []StatsPoint
}

// groupColumn is the rollup column of each grouping (the hourly and the
// daily rollups have the same columns).
var groupColumn = map[string]string{"level": "level::text", "market": "market", "code": "code", "country": "country", "program": "program_id", "currency": "currency"}

// statsSource is the FROM clause of a statistics read over the rollups,
// bound to ($1 affiliate, $2 from, $3 to, $4 split): the daily rows of the
// days in [from, split) and the hourly rows of [split, to), as rows of the
// same columns with their bucket's start in t. split is from for a read of
// the hourly rollup alone; for whole days, the end of the days the daily
// rollup holds whole (dayEnd), since the hours past its mark are only in
// the hourly one.
var statsSource = ` FROM (SELECT day AS t, level, market, code, currency, program_id, country, ` + figureNames + `
		FROM affiliate_stats_day WHERE affiliate_id = $1 AND day >= $2::timestamptz AND day < least($3::timestamptz, $4::timestamptz)
	UNION ALL
	SELECT hour, level, market, code, currency, program_id, country, ` + figureNames + `
		FROM affiliate_stats_hourly WHERE affiliate_id = $1 AND hour >= greatest($2::timestamptz, $4::timestamptz) AND hour < $3::timestamptz) s`

const figureSums = `coalesce(sum(commission_reporting), 0)::text, coalesce(sum(fees_reporting), 0)::text, coalesce(sum(volume_reporting), 0)::text,
	coalesce(sum(trades), 0), coalesce(sum(accruals), 0)`

// Stats answers from the rollups the folder maintains (fold.go) plus the
// accruals it has not folded yet (the tail past each shard's watermark),
// so every answer is exact whatever the folder's lag, and its cost depends
// on the number of hours and dimensions in the range and on the lag, not
// on the number of accruals. Accruals are bucketed by business time (the
// trade's executed_at).
func (s *Service) Stats(ctx context.Context, q StatsQuery) (*Stats, error) {
	if q.Interval != "" && !contains(StatsIntervals, q.Interval) {
		return nil, folio.Errorf(folio.EINVALID, "interval must be one of %v", StatsIntervals)
	}
	if q.GroupBy != "" && !contains(StatsGroupings, q.GroupBy) {
		return nil, folio.Errorf(folio.EINVALID, "group_by must be one of %v", StatsGroupings)
	}
	unit := time.Hour
	if q.GroupBy == "referee" {
		unit = 24 * time.Hour
	}
	from := q.From.UTC().Truncate(unit)
	to := q.To.UTC()
	if t := to.Truncate(unit); !t.Equal(to) {
		to = t.Add(unit)
	}
	if !from.Before(to) {
		return nil, folio.Errorf(folio.EINVALID, "from must be before to")
	}
	if q.Interval == "hour" && to.Sub(from) > 31*24*time.Hour {
		return nil, folio.Errorf(folio.EINVALID, "an hourly series covers at most 31 days")
	}
	st := &Stats{Affiliate: q.Affiliate, From: from, To: to, Currency: s.reporting()}
	err := s.DB.ReadTx(ctx, func(tx pgx.Tx) error {
		if _, err := getUser(ctx, tx, q.Affiliate, false); err != nil {
			return err
		}
		heads, marks, err := foldPosition(ctx, tx)
		if err != nil {
			return err
		}
		tradeTail, tailArgs := tailWhere("t.", heads, marks, 4)
		otherTail, _ := tailWhere("a.", heads, marks, 4)
		tail, err := readFoldRows(ctx, tx, `a.beneficiary = $1 AND t.executed_at >= $2 AND t.executed_at < $3 AND `+tradeTail,
			`a.beneficiary = $1 AND a.business_at >= $2 AND a.business_at < $3 AND `+otherTail, append([]any{q.Affiliate, from, to}, tailArgs...)...)
		if err != nil {
			return err
		}
		// Whole-day ranges read the daily rollup (the hourly rows summed
		// per day, 24 times fewer) for the days it holds whole, and the
		// hourly rollup for the rest; others read the hourly one alone.
		split := from
		if q.Interval != "hour" && q.GroupBy != "referee" && from.Equal(from.Truncate(24*time.Hour)) && to.Equal(to.Truncate(24*time.Hour)) {
			mark, _, err := dayMark(ctx, tx)
			if err != nil {
				return err
			}
			split = dayEnd(mark)
		}
		args := []any{q.Affiliate, from, to, split}
		row := tx.QueryRow(ctx, `SELECT `+figureSums+statsSource, args...)
		if err := scanFigures(row, &st.Totals); err != nil {
			return err
		}
		for i := range tail {
			if err := st.Totals.add(&tail[i]); err != nil {
				return err
			}
		}
		if st.ByCurrency, st.Unpriced, err = currencyFigures(ctx, tx, statsSource, args, tail); err != nil {
			return err
		}
		if q.Interval != "" {
			if st.Series, err = statsPoints(ctx, tx, `SELECT date_trunc('`+q.Interval+`', t AT TIME ZONE 'UTC'), `+figureSums+statsSource+
				` GROUP BY 1 ORDER BY 1`, true, args...); err != nil {
				return err
			}
			if st.Series, err = mergeTail(st.Series, tail, func(f *foldRow) (string, time.Time) { return "", truncInterval(f.at, q.Interval) }); err != nil {
				return err
			}
		}
		switch {
		case q.GroupBy == "product" || q.GroupBy == "campaign":
			st.Groups, err = accrualGroups(ctx, tx, q.GroupBy, q.Affiliate, from, to)
		case q.GroupBy == "referee":
			st.Groups, err = statsPoints(ctx, tx, `SELECT referee_id, `+figureSums+` FROM affiliate_referee_daily
				WHERE affiliate_id = $1 AND day >= $2 AND day < $3 GROUP BY 1 ORDER BY 1`, false, q.Affiliate, from, to)
		case q.GroupBy != "":
			st.Groups, err = statsPoints(ctx, tx, `SELECT `+groupColumn[q.GroupBy]+`, `+figureSums+statsSource+` GROUP BY 1 ORDER BY 1`, false, args...)
		}
		if err != nil {
			return err
		}
		if q.GroupBy != "" && q.GroupBy != "product" && q.GroupBy != "campaign" {
			if st.Groups, err = mergeTail(st.Groups, tail, func(f *foldRow) (string, time.Time) { return groupKey(f, q.GroupBy), time.Time{} }); err != nil {
				return err
			}
		}
		if err := tx.QueryRow(ctx, `SELECT count(*), count(kyc_verified_at), count(first_deposit_at), count(first_trade_at),
				count(*) FILTER (WHERE registered_at >= $2 AND registered_at < $3)
			FROM users WHERE referrer_id = $1`, q.Affiliate, from, to).Scan(&st.Referrals.Total, &st.Referrals.Verified,
			&st.Referrals.Deposited, &st.Referrals.FirstTrade, &st.Referrals.RegisteredInPeriod); err != nil {
			return err
		}
		st.Referrals.TradedInPeriod, err = tradedInPeriod(ctx, tx, q.Affiliate, from.Truncate(24*time.Hour), to, tail)
		return err
	})
	if err != nil {
		return nil, err
	}
	return st, nil
}

// add adds one accrual's figures (an unpriced one adds 0 in the reporting
// currency).
func (f *StatsFigures) add(r *foldRow) error {
	for _, x := range []struct{ dst, v *apd.Decimal }{{&f.Commission, r.rep}, {&f.Fees, r.feeRep}, {&f.Volume, r.volumeRep}} {
		if x.v == nil {
			continue
		}
		if _, err := exact.Add(x.dst, x.dst, x.v); err != nil {
			return err
		}
	}
	f.Trades += r.trades
	if r.source == "reversal" {
		f.Accruals--
	} else {
		f.Accruals++
	}
	return nil
}

// currencyFigures returns the commission per accrual currency and the
// unpriced amounts per currency of the rollup rows matching where, plus
// the tail's.
func currencyFigures(ctx context.Context, tx pgx.Tx, where string, args []any, tail []foldRow) ([]CurrencyCommission, []UnpricedAmount, error) {
	rows, err := tx.Query(ctx, `SELECT currency, sum(commission)::text, sum(commission_reporting)::text, sum(unpriced_commission)::text, sum(unpriced_fees)::text`+
		where+` GROUP BY currency ORDER BY currency`, args...)
	if err != nil {
		return nil, nil, err
	}
	type figs struct{ com, rep, upCom, upFees apd.Decimal }
	by := map[string]*figs{}
	var order []string
	for rows.Next() {
		var cur string
		var t [4]string
		if err := rows.Scan(&cur, &t[0], &t[1], &t[2], &t[3]); err != nil {
			rows.Close()
			return nil, nil, err
		}
		f := &figs{}
		for i, dst := range []*apd.Decimal{&f.com, &f.rep, &f.upCom, &f.upFees} {
			if *dst, err = ledger.ParseStored(t[i]); err != nil {
				rows.Close()
				return nil, nil, err
			}
		}
		by[cur] = f
		order = append(order, cur)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, nil, err
	}
	for i := range tail {
		r := &tail[i]
		f := by[r.currency]
		if f == nil {
			f = &figs{}
			by[r.currency] = f
			order = append(order, r.currency)
		}
		adds := []struct{ dst, v *apd.Decimal }{{&f.com, &r.amount}, {&f.rep, r.rep}}
		if r.rep == nil {
			adds = append(adds, struct{ dst, v *apd.Decimal }{&f.upCom, &r.amount}, struct{ dst, v *apd.Decimal }{&f.upFees, r.fee})
		}
		for _, x := range adds {
			if x.v == nil {
				continue
			}
			if _, err := exact.Add(x.dst, x.dst, x.v); err != nil {
				return nil, nil, err
			}
		}
	}
	sort.Strings(order)
	var cc []CurrencyCommission
	up := []UnpricedAmount{}
	for _, cur := range order {
		f := by[cur]
		cc = append(cc, CurrencyCommission{Currency: cur, Commission: f.com, Reporting: f.rep})
		if !f.upCom.IsZero() || !f.upFees.IsZero() {
			up = append(up, UnpricedAmount{Currency: cur, Commission: f.upCom, Fees: f.upFees})
		}
	}
	return cc, up, nil
}

// mergeTail adds the tail's figures to points by key (the group key, or
// the series bucket's start) and returns them in key order.
func mergeTail(points []StatsPoint, tail []foldRow, key func(*foldRow) (string, time.Time)) ([]StatsPoint, error) {
	if len(tail) == 0 {
		return points, nil
	}
	type pk struct {
		k string
		t time.Time
	}
	idx := map[pk]int{}
	for i := range points {
		idx[pk{points[i].Key, points[i].Start}] = i
	}
	added := false
	for i := range tail {
		k, t := key(&tail[i])
		j, ok := idx[pk{k, t}]
		if !ok {
			points = append(points, StatsPoint{Key: k, Start: t})
			j = len(points) - 1
			idx[pk{k, t}] = j
			added = true
		}
		if err := points[j].add(&tail[i]); err != nil {
			return nil, err
		}
	}
	if added {
		sort.SliceStable(points, func(a, b int) bool {
			if !points[a].Start.Equal(points[b].Start) {
				return points[a].Start.Before(points[b].Start)
			}
			return points[a].Key < points[b].Key
		})
	}
	return points, nil
}

// groupKey is an accrual's key in a grouping (groupColumn's value).
func groupKey(f *foldRow, groupBy string) string {
	switch groupBy {
	case "level":
		return strconv.Itoa(f.level)
	case "market":
		return f.market
	case "code":
		return f.code
	case "country":
		return f.country
	case "program":
		return f.program
	case "currency":
		return f.currency
	case "referee":
		return f.trader
	}
	return ""
}

// truncInterval is PostgreSQL's date_trunc(interval, t) in UTC (weeks
// start on Monday).
func truncInterval(t time.Time, interval string) time.Time {
	t = t.UTC()
	switch interval {
	case "hour":
		return t.Truncate(time.Hour)
	case "day":
		return t.Truncate(24 * time.Hour)
	case "week":
		d := t.Truncate(24 * time.Hour)
		return d.AddDate(0, 0, -((int(d.Weekday()) + 6) % 7))
	case "month":
		return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
	}
	return t
}

// tradedInPeriod counts the affiliate's direct referees with trades on a
// day of [from, to): from the referee rollup, except for referees the
// tail touches, whose (referee, day) figures are combined with the tail's.
func tradedInPeriod(ctx context.Context, tx pgx.Tx, affiliate string, from, to time.Time, tail []foldRow) (int64, error) {
	type rd struct {
		referee string
		day     time.Time
	}
	tailTrades := map[rd]int64{}
	touched := []string{} // never nil: = ANY(NULL) is not false
	seen := map[string]bool{}
	for i := range tail {
		r := &tail[i]
		tailTrades[rd{r.trader, r.at.UTC().Truncate(24 * time.Hour)}] += r.trades
		if !seen[r.trader] {
			seen[r.trader] = true
			touched = append(touched, r.trader)
		}
	}
	var n int64
	if err := tx.QueryRow(ctx, `SELECT count(DISTINCT d.referee_id) FROM affiliate_referee_daily d
			JOIN users u ON u.id = d.referee_id AND u.referrer_id = $1
			WHERE d.affiliate_id = $1 AND d.day >= $2 AND d.day < $3 AND d.trades > 0 AND NOT d.referee_id = ANY($4)`,
		affiliate, from, to, touched).Scan(&n); err != nil {
		return 0, err
	}
	if len(touched) == 0 {
		return n, nil
	}
	rows, err := tx.Query(ctx, `SELECT d.referee_id, d.day, d.trades FROM affiliate_referee_daily d
			JOIN users u ON u.id = d.referee_id AND u.referrer_id = $1
			WHERE d.affiliate_id = $1 AND d.day >= $2 AND d.day < $3 AND d.referee_id = ANY($4)`, affiliate, from, to, touched)
	if err != nil {
		return 0, err
	}
	combined := map[rd]int64{}
	for rows.Next() {
		var k rd
		var t int64
		if err := rows.Scan(&k.referee, &k.day, &t); err != nil {
			rows.Close()
			return 0, err
		}
		combined[rd{k.referee, k.day.UTC()}] += t
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	direct := map[string]bool{}
	drows, err := tx.Query(ctx, `SELECT id FROM users WHERE referrer_id = $1 AND id = ANY($2)`, affiliate, touched)
	if err != nil {
		return 0, err
	}
	ids, err := pgx.CollectRows(drows, pgx.RowTo[string])
	if err != nil {
		return 0, err
	}
	for _, id := range ids {
		direct[id] = true
	}
	for k, t := range tailTrades {
		combined[k] += t
	}
	traded := map[string]bool{}
	for k, t := range combined {
		if t > 0 && direct[k.referee] {
			traded[k.referee] = true
		}
	}
	return n + int64(len(traded)), nil
}

func scanFigures(row pgx.Row, f *StatsFigures, head ...any) error {
	var c, fe, v string
	if err := row.Scan(append(head, &c, &fe, &v, &f.Trades, &f.Accruals)...); err != nil {
		return err
	}
	var err error
	if f.Commission, err = ledger.ParseStored(c); err != nil {
		return err
	}
	if f.Fees, err = ledger.ParseStored(fe); err != nil {
		return err
	}
	f.Volume, err = ledger.ParseStored(v)
	return err
}

func statsPoints(ctx context.Context, tx pgx.Tx, sql string, series bool, args ...any) ([]StatsPoint, error) {
	rows, err := tx.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []StatsPoint
	for rows.Next() {
		var p StatsPoint
		var err error
		if series {
			err = scanFigures(rows, &p.StatsFigures, &p.Start)
			p.Start = time.Date(p.Start.Year(), p.Start.Month(), p.Start.Day(), p.Start.Hour(), 0, 0, 0, time.UTC)
		} else {
			err = scanFigures(rows, &p.StatsFigures, &p.Key)
		}
		if err != nil {
			return nil, fmt.Errorf("stats: %w", err)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
