package affiliate

import (
	"context"
	"time"

	"github.com/cockroachdb/apd/v3"
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
// for the affiliate (the per-referee daily rollup plus the unfolded tail,
// refereeFigures).
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
	var sums map[string]Referral
	err = s.DB.ReadTx(ctx, func(tx pgx.Tx) error {
		var err error
		sums, err = refereeFigures(ctx, tx, affiliateID, ids)
		return err
	})
	if err != nil {
		return nil, err
	}
	out := make([]Referral, len(users))
	for i, u := range users {
		out[i] = sums[u.ID]
		out[i].User = u
	}
	return out, nil
}
