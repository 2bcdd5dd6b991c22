package affiliate

import (
	"context"
	"time"

	"github.com/cockroachdb/apd/v3"
	"github.com/folioledger/folio/schema"
)

// What the payouts package reads of the engine's tables (users, programs,
// trades), in the caller's transaction.

// ListProgramsTx is ListPrograms read through q.
func (s *Service) ListProgramsTx(ctx context.Context, q schema.Querier) ([]StoredProgram, error) {
	return listPrograms(ctx, q, s.Rules)
}

// GetUserTx returns a user read through q, without locking it (not_found
// for an unknown id).
func GetUserTx(ctx context.Context, q schema.Querier, id string) (*User, error) {
	return getUser(ctx, q, id, false)
}

// DirectRefereesTx returns every direct referee of a user, read through q,
// in registration order.
func DirectRefereesTx(ctx context.Context, q schema.Querier, id string) ([]*User, error) {
	return directReferees(ctx, q, id, time.Time{}, "", 1<<30)
}

// CounterpartyCounts counts, among the trades tradeIDs that carry a
// counterparty id, by trading user: how many there are, and how many have
// the affiliate or one of referees as counterparty.
func CounterpartyCounts(ctx context.Context, q schema.Querier, tradeIDs []string, affiliate string, referees []string) (map[string][2]int64, error) {
	rows, err := q.Query(ctx, `SELECT t.user_id, count(*), sum(CASE WHEN t.counterparty_id = $2 OR t.counterparty_id = ANY($3) THEN 1 ELSE 0 END)
		FROM trades t WHERE t.id = ANY($1) AND t.counterparty_id IS NOT NULL GROUP BY t.user_id`, tradeIDs, affiliate, referees)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string][2]int64{}
	for rows.Next() {
		var u string
		var n, m int64
		if err := rows.Scan(&u, &n, &m); err != nil {
			return nil, err
		}
		out[u] = [2]int64{n, m}
	}
	return out, rows.Err()
}

// ParseAmountField parses a non-negative decimal of configuration (at most
// 18 places and 20 integer digits); errors are invalid and name field.
func ParseAmountField(field, s string) (apd.Decimal, error) { return parseAmountField(field, s) }

// TaxIDsOnFile returns which of the users ids have a tax id on file
// (unknown ids have none).
func TaxIDsOnFile(ctx context.Context, q schema.Querier, ids []string) (map[string]bool, error) {
	out := map[string]bool{}
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := q.Query(ctx, `SELECT id FROM users WHERE id = ANY($1) AND tax_id IS NOT NULL`, ids)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out[id] = true
	}
	return out, rows.Err()
}
