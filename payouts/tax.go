package payouts

import (
	"context"
	"time"

	"github.com/cockroachdb/apd/v3"
	"github.com/folioledger/folio/affiliate"
	"github.com/folioledger/folio/ledger"
	"github.com/jackc/pgx/v5"
)

// TaxTotal is an affiliate's payouts in one calendar year, converted into
// the reporting currency at the rates stored on the accruals paid.
type TaxTotal struct {
	Holder   string
	Year     int
	Amount   apd.Decimal
	HasTaxID bool
	Unpriced int64 // accruals paid without a reporting-currency amount
}

// TaxTotals returns payout totals per affiliate for a calendar year (by
// batch execution time), largest first; with overThreshold only those above
// the fraud rules' tax threshold that have no tax id on file.
func (s *Service) TaxTotals(ctx context.Context, year int, overThreshold bool) ([]TaxTotal, error) {
	var out []TaxTotal
	err := s.DB.ReadTx(ctx, func(tx pgx.Tx) error {
		out = nil
		rules, err := s.fraudRules(ctx, tx)
		if err != nil {
			return err
		}
		start := time.Date(year, 1, 1, 0, 0, 0, 0, time.UTC)
		rows, err := tx.Query(ctx, `SELECT l.holder, coalesce(sum(a.reporting_amount), 0)::text, count(*) FILTER (WHERE a.reporting_amount IS NULL)
			FROM payout_lines l JOIN payout_batches b ON b.id = l.batch_id JOIN payout_accruals pa ON pa.line_id = l.id
			JOIN accruals_whole a ON a.id = pa.accrual_id
			WHERE l.status = 'paid' AND b.executed_at >= $1 AND b.executed_at < $2
			GROUP BY l.holder ORDER BY coalesce(sum(a.reporting_amount), 0) DESC, l.holder`, start, start.AddDate(1, 0, 0))
		if err != nil {
			return err
		}
		var all []TaxTotal
		var holders []string
		for rows.Next() {
			t := TaxTotal{Year: year}
			var amt string
			if err := rows.Scan(&t.Holder, &amt, &t.Unpriced); err != nil {
				rows.Close()
				return err
			}
			if t.Amount, err = ledger.ParseStored(amt); err != nil {
				rows.Close()
				return err
			}
			all = append(all, t)
			holders = append(holders, t.Holder)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		withTaxID, err := affiliate.TaxIDsOnFile(ctx, tx, holders)
		if err != nil {
			return err
		}
		for _, t := range all {
			t.HasTaxID = withTaxID[t.Holder]
			if overThreshold && (t.HasTaxID || t.Amount.Cmp(&rules.taxThreshold) <= 0) {
				continue
			}
			out = append(out, t)
		}
		return nil
	})
	return out, err
}
