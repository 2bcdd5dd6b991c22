package affiliate

import (
	"context"
	"time"

	"github.com/cockroachdb/apd/v3"
	"github.com/folioledger/folio/ledger"
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
