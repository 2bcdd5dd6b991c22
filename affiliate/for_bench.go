package affiliate

import (
	"context"
	"time"

	"github.com/folioledger/folio/schema"
)

// InsertForestUsers inserts users straight into the users table in one
// multi-row statement, for `folio bench`, whose referral forest of 100k
// users would otherwise measure signup rather than trading. ids,
// referrers, programs and rates are parallel (a nil referrer, program or
// rate is none; rates are decimal text); every user is registered and
// created at at, in country DE. It skips everything CreateUser does besides
// the row — validation, codes, signup events and bounties, the audit log —
// so it is for a fresh benchmark database only. New users need no cache
// invalidation: a trade loads the users its cache lacks.
func InsertForestUsers(ctx context.Context, q schema.Querier, ids []string, referrers, programs, rates []*string, at time.Time) error {
	_, err := q.Exec(ctx, `INSERT INTO users (id, referrer_id, signup_referrer, program_id, rate, registered_at, created_at, country)
			SELECT id, ref, ref, prog, rate::numeric, $5, $5, 'DE' FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS u(id, ref, prog, rate)`,
		ids, referrers, programs, rates, at)
	return err
}
