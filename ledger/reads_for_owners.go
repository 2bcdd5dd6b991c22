package ledger

import (
	"context"
	"errors"

	"github.com/cockroachdb/apd/v3"
	"github.com/folioledger/folio/schema"
	"github.com/jackc/pgx/v5"
)

// Reads for the packages that own other tables (payouts, …): they see the
// journal through these functions, never through its tables, and read in
// the caller's transaction so what they see is consistent with what they
// write.

// CurrentBalance returns the balance of account as q sees it: zero for an
// account that has never been posted to: the sum of its rows, one per
// shard that wrote to it. It takes no lock.
func CurrentBalance(ctx context.Context, q schema.Querier, account string) (apd.Decimal, error) {
	var s string
	err := q.QueryRow(ctx, `SELECT sum(balance)::text FROM balances WHERE account = $1 HAVING count(*) > 0`, account).Scan(&s)
	if errors.Is(err, pgx.ErrNoRows) {
		return apd.Decimal{}, nil
	}
	if err != nil {
		return apd.Decimal{}, err
	}
	return ParseStored(s)
}
