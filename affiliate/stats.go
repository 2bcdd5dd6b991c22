package affiliate

import (
	"context"
	"fmt"
	"time"

	"github.com/cockroachdb/apd/v3"
	"github.com/folioledger/folio"
	"github.com/folioledger/folio/ledger"
	"github.com/jackc/pgx/v5"
)

// Statistics intervals and groupings (docs/CONTRACT.md §4).
var (
	StatsIntervals = []string{"hour", "day", "week", "month"}
	StatsGroupings = []string{"level", "market", "code", "referee", "country", "program", "currency"}
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

// Stats is the answer to a StatsQuery.
type Stats struct {
	Affiliate  string
	From, To   time.Time
	Currency   string // reporting currency
	Totals     StatsFigures
	Referrals  ReferralCounts
	ByCurrency []CurrencyCommission
	Series     []StatsPoint
	Groups     []StatsPoint
}

// groupColumn is the rollup column of each grouping (the hourly and the
// daily rollups have the same columns).
var groupColumn = map[string]string{"level": "level::text", "market": "market", "code": "code", "country": "country", "program": "program_id", "currency": "currency"}

const figureSums = `coalesce(sum(commission_reporting), 0)::text, coalesce(sum(fees_reporting), 0)::text, coalesce(sum(volume_reporting), 0)::text,
	coalesce(sum(trades), 0), coalesce(sum(accruals), 0)`

// Stats answers from the rollups maintained with the accruals — never by
// scanning accrual rows — so its cost depends on the number of hours and
// dimensions in the range, not on the number of accruals.
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
		// Whole-day ranges read the daily rollup (the hourly rows summed
		// per day, 24 times fewer); others the hourly one.
		daily := q.Interval != "hour" && q.GroupBy != "referee" && from.Equal(from.Truncate(24*time.Hour)) && to.Equal(to.Truncate(24*time.Hour))
		table, tcol := "affiliate_stats_hourly", "hour"
		if daily {
			table, tcol = "affiliate_stats_day", "day"
		}
		where := ` FROM ` + table + ` WHERE affiliate_id = $1 AND ` + tcol + ` >= $2 AND ` + tcol + ` < $3`
		row := tx.QueryRow(ctx, `SELECT `+figureSums+where, q.Affiliate, from, to)
		if err := scanFigures(row, &st.Totals); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT currency, sum(commission)::text, sum(commission_reporting)::text`+where+` GROUP BY currency ORDER BY currency`,
			q.Affiliate, from, to)
		if err != nil {
			return err
		}
		st.ByCurrency = nil
		for rows.Next() {
			var c CurrencyCommission
			var a, b string
			if err := rows.Scan(&c.Currency, &a, &b); err != nil {
				rows.Close()
				return err
			}
			if c.Commission, err = ledger.ParseStored(a); err != nil {
				rows.Close()
				return err
			}
			if c.Reporting, err = ledger.ParseStored(b); err != nil {
				rows.Close()
				return err
			}
			st.ByCurrency = append(st.ByCurrency, c)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if q.Interval != "" {
			if st.Series, err = statsPoints(ctx, tx, `SELECT date_trunc('`+q.Interval+`', `+tcol+` AT TIME ZONE 'UTC'), `+figureSums+where+
				` GROUP BY 1 ORDER BY 1`, true, q.Affiliate, from, to); err != nil {
				return err
			}
		}
		switch {
		case q.GroupBy == "referee":
			st.Groups, err = statsPoints(ctx, tx, `SELECT referee_id, `+figureSums+` FROM affiliate_referee_daily
				WHERE affiliate_id = $1 AND day >= $2 AND day < $3 GROUP BY 1 ORDER BY 1`, false, q.Affiliate, from, to)
		case q.GroupBy != "":
			st.Groups, err = statsPoints(ctx, tx, `SELECT `+groupColumn[q.GroupBy]+`, `+figureSums+where+` GROUP BY 1 ORDER BY 1`, false, q.Affiliate, from, to)
		}
		if err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `SELECT count(*), count(kyc_verified_at), count(first_deposit_at), count(first_trade_at),
				count(*) FILTER (WHERE registered_at >= $2 AND registered_at < $3)
			FROM users WHERE referrer_id = $1`, q.Affiliate, from, to).Scan(&st.Referrals.Total, &st.Referrals.Verified,
			&st.Referrals.Deposited, &st.Referrals.FirstTrade, &st.Referrals.RegisteredInPeriod); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `SELECT count(DISTINCT d.referee_id) FROM affiliate_referee_daily d
			JOIN users u ON u.id = d.referee_id AND u.referrer_id = $1
			WHERE d.affiliate_id = $1 AND d.day >= $2 AND d.day < $3 AND d.trades > 0`, q.Affiliate, from.Truncate(24*time.Hour), to).Scan(&st.Referrals.TradedInPeriod); err != nil {
			return err
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return st, nil
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
