package affiliate

import (
	"context"
	"time"

	"github.com/cockroachdb/apd/v3"
	"github.com/folioledger/folio/ledger"
	"github.com/jackc/pgx/v5"
)

// Referral is one direct referee of an affiliate with its milestones and
// what it generated (reporting currency, from the rollups).
type Referral struct {
	User       *User
	Volume     apd.Decimal
	Commission apd.Decimal
	Trades     int64
}

// Referrals lists an affiliate's direct referees in registration order
// after the cursor, with the volume, commission and trades each generated
// for the affiliate (read from the per-referee daily rollup).
func (s *Service) Referrals(ctx context.Context, affiliateID string, afterAt time.Time, afterID string, limit int) ([]Referral, error) {
	if _, err := s.GetUser(ctx, affiliateID); err != nil {
		return nil, err
	}
	users, err := s.DirectReferees(ctx, affiliateID, afterAt, afterID, limit)
	if err != nil || len(users) == 0 {
		return nil, err
	}
	ids := make([]string, len(users))
	for i, u := range users {
		ids[i] = u.ID
	}
	rows, err := s.DB.Pool.Query(ctx, `SELECT referee_id, sum(volume_reporting)::text, sum(commission_reporting)::text, sum(trades)
		FROM affiliate_referee_daily WHERE affiliate_id = $1 AND referee_id = ANY($2) GROUP BY 1`, affiliateID, ids)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	sums := map[string]Referral{}
	for rows.Next() {
		var id, v, c string
		var r Referral
		if err := rows.Scan(&id, &v, &c, &r.Trades); err != nil {
			return nil, err
		}
		if r.Volume, err = ledger.ParseStored(v); err != nil {
			return nil, err
		}
		if r.Commission, err = ledger.ParseStored(c); err != nil {
			return nil, err
		}
		sums[id] = r
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out := make([]Referral, len(users))
	for i, u := range users {
		out[i] = sums[u.ID]
		out[i].User = u
	}
	return out, nil
}

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
		rows, err := tx.Query(ctx, `SELECT l.holder, coalesce(sum(a.reporting_amount), 0)::text, count(*) FILTER (WHERE a.reporting_amount IS NULL),
				coalesce(bool_or(u.tax_id IS NOT NULL), false)
			FROM payout_lines l JOIN payout_batches b ON b.id = l.batch_id JOIN payout_accruals pa ON pa.line_id = l.id
			JOIN accruals a ON a.id = pa.accrual_id LEFT JOIN users u ON u.id = l.holder
			WHERE l.status = 'paid' AND b.executed_at >= $1 AND b.executed_at < $2
			GROUP BY l.holder ORDER BY coalesce(sum(a.reporting_amount), 0) DESC, l.holder`, start, start.AddDate(1, 0, 0))
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			t := TaxTotal{Year: year}
			var amt string
			if err := rows.Scan(&t.Holder, &amt, &t.Unpriced, &t.HasTaxID); err != nil {
				return err
			}
			if t.Amount, err = ledger.ParseStored(amt); err != nil {
				return err
			}
			if overThreshold && (t.HasTaxID || t.Amount.Cmp(&rules.taxThreshold) <= 0) {
				continue
			}
			out = append(out, t)
		}
		return rows.Err()
	})
	return out, err
}
