package affiliate

import (
	"context"
	"time"

	"github.com/cockroachdb/apd/v3"
	"github.com/folioledger/folio/ledger"
	"github.com/folioledger/folio/schema"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// The daily rollup is folded from closed hours (doc.go, "Statistics:
// folded off the writer"): affiliate_stats_day holds, for every day, the
// hourly rows of the hours before the day mark (stats_day_marks). The
// folder rolls an hour into its day once the hour has been over for
// dayRollLag, one upsert per row of the day instead of one per fold round.

// dayRollLag is how long after an hour ends it is rolled into its day:
// trades booked late for it until then cost no daily upsert.
const dayRollLag = 10 * time.Minute

// maxRollHours bounds the hours one roll transaction sums (a server that
// was down catches up over several rounds). An hour is never split: a roll
// reads all of its hourly rows in one transaction, which on an exchange's
// busiest hour can be millions of rows (one per affiliate × dimensions);
// rolling an hour by ranges of affiliates would bound that, with a mark
// per range.
const maxRollHours = 24

// dayMark returns the hour up to which the daily rollup holds the hourly
// rows, and whether it was set (unset: the zero time, no hour rolled).
func dayMark(ctx context.Context, q schema.Querier) (mark time.Time, set bool, err error) {
	err = q.QueryRow(ctx, `SELECT hour FROM stats_day_marks`).Scan(&mark)
	if isNoRows(err) {
		return time.Time{}, false, nil
	}
	return mark.UTC(), err == nil, err
}

// dayEnd is the end of the days the daily rollup holds whole given its
// mark: a day is whole once every one of its hours is before the mark.
func dayEnd(mark time.Time) time.Time { return mark.Truncate(24 * time.Hour) }

// rollDays moves the day mark towards the last hour that ended dayRollLag
// before now, summing the hourly rows in between into their days, at most
// maxRollHours of them (more: call again). Hours without rows cost
// nothing: the mark jumps to the first hour that has some. Like the fold,
// the mark moves only from the value the transaction read, so two
// processes rolling at once roll each hour once.
func (s *Service) rollDays(ctx context.Context) (more bool, err error) {
	target := s.now().Add(-dayRollLag).UTC().Truncate(time.Hour)
	err = s.DB.Tx(ctx, func(tx pgx.Tx) error {
		more = false
		mark, found, err := dayMark(ctx, tx)
		if err != nil {
			return err
		}
		if !mark.Before(target) {
			return nil
		}
		var first *time.Time
		if err := tx.QueryRow(ctx, `SELECT min(hour) FROM affiliate_stats_hourly WHERE hour >= $1 AND hour < $2`, mark, target).Scan(&first); err != nil {
			return err
		}
		to := target
		if first != nil {
			if end := first.UTC().Add(maxRollHours * time.Hour); end.Before(target) {
				to, more = end, true
			}
			days, err := hourlyByDay(ctx, tx, *first, to)
			if err != nil {
				return err
			}
			if err := writeDimensions(ctx, tx, sqlDaily, days); err != nil {
				return err
			}
		}
		var tag pgconn.CommandTag
		if found {
			tag, err = tx.Exec(ctx, `UPDATE stats_day_marks SET hour = $1, rolled_at = $2 WHERE hour = $3`, to, s.now(), mark)
		} else {
			tag, err = tx.Exec(ctx, `INSERT INTO stats_day_marks (id, hour, rolled_at) VALUES (true, $1, $2) ON CONFLICT (id) DO NOTHING`, to, s.now())
		}
		if err != nil {
			return err
		}
		if tag.RowsAffected() != 1 {
			return errFoldRaced
		}
		return nil
	})
	return more, err
}

// hourlyByDay reads the hourly rows of [from, to) summed per day.
func hourlyByDay(ctx context.Context, q schema.Querier, from, to time.Time) (map[hourKey]*rollupFigures, error) {
	rows, err := q.Query(ctx, `SELECT affiliate_id, hour, level, market, code, currency, program_id, country,
			commission::text, commission_reporting::text, fees::text, fees_reporting::text, volume_reporting::text,
			trades, accruals, unpriced_commission::text, unpriced_fees::text
		FROM affiliate_stats_hourly WHERE hour >= $1 AND hour < $2`, from, to)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	days := map[hourKey]*rollupFigures{}
	for rows.Next() {
		var k hourKey
		var level int64
		var f rollupFigures
		var figs [7]string
		if err := rows.Scan(&k.affiliate, &k.hour, &level, &k.market, &k.code, &k.currency, &k.program, &k.country,
			&figs[0], &figs[1], &figs[2], &figs[3], &figs[4], &f.trades, &f.accruals, &figs[5], &figs[6]); err != nil {
			return nil, err
		}
		k.hour, k.level = k.hour.UTC(), int(level)
		for i, dst := range []*apd.Decimal{&f.commission, &f.commissionRep, &f.fees, &f.feesRep, &f.volumeRep, &f.unpricedCom, &f.unpricedFees} {
			d, err := ledger.ParseStored(figs[i])
			if err != nil {
				return nil, err
			}
			dst.Set(&d)
		}
		if err := addDay(days, k, &f); err != nil {
			return nil, err
		}
	}
	return days, rows.Err()
}
