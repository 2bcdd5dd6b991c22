package ledger

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cockroachdb/apd/v3"
	"github.com/folioledger/folio"
	"github.com/folioledger/folio/accounts"
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
	err := q.QueryRow(ctx, `SELECT sum(balance)::text FROM balances_current WHERE account = $1 HAVING count(*) > 0`, account).Scan(&s)
	if errors.Is(err, pgx.ErrNoRows) {
		return apd.Decimal{}, nil
	}
	if err != nil {
		return apd.Decimal{}, err
	}
	return ParseStored(s)
}

// Position is an entry's place in the journal and its chain hash: what a
// seal records of a shard's head and what the Merkle log's leaf of the
// entry states (package seal).
type Position struct {
	ID    string
	Shard int
	Seq   int64
	Hash  []byte
}

// ShardPositions returns the positions of one shard's entries with
// after < seq <= through, in seq order (callers page by seq).
func ShardPositions(ctx context.Context, q schema.Querier, shard int, after, through int64) ([]Position, error) {
	rows, err := q.Query(ctx, `SELECT id::text, shard, seq, hash FROM entries WHERE shard = $1 AND seq > $2 AND seq <= $3 ORDER BY seq`,
		shard, after, through)
	if err != nil {
		return nil, fmt.Errorf("read entry positions: %w", err)
	}
	defer rows.Close()
	var out []Position
	for rows.Next() {
		var p Position
		if err := rows.Scan(&p.ID, &p.Shard, &p.Seq, &p.Hash); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// PositionOf returns the position of entry id, or not_found.
func PositionOf(ctx context.Context, q schema.Querier, id string) (Position, error) {
	p := Position{}
	if !ValidUUID(id) {
		return p, folio.Errorf(folio.ENOTFOUND, "entry %q not found", truncate(id))
	}
	err := q.QueryRow(ctx, `SELECT id::text, shard, seq, hash FROM entries WHERE id = $1::uuid`, id).Scan(&p.ID, &p.Shard, &p.Seq, &p.Hash)
	if errors.Is(err, pgx.ErrNoRows) {
		return p, folio.Errorf(folio.ENOTFOUND, "entry %s not found", id)
	}
	return p, err
}

// AccountBalance is one account's posted balance on its normal side.
type AccountBalance struct {
	Account accounts.Key
	Balance apd.Decimal
}

// ClosingBalancesAt returns every account's posted balance on its normal
// side counting the postings effective before before whose entries lie
// within cut (seq at or below their shard's seq in it): the closing
// balances of an accounting period ending at before, as the journal stood
// at cut (package periods). An account with such a posting is listed even
// when its balance is zero. In account order. It reads the postings of
// the whole cut once (no stored chain is by effective time at a cut).
func ClosingBalancesAt(ctx context.Context, q schema.Querier, before time.Time, cut Cut) ([]AccountBalance, error) {
	chart, err := accounts.LoadChart(ctx, q)
	if err != nil {
		return nil, err
	}
	rows, err := q.Query(ctx, `SELECT account, sum(CASE WHEN side = 'debit' THEN amount ELSE -amount END)::text FROM lines
		WHERE seq <= coalesce(($1::bigint[])[shard + 1], 0) AND effective_at < $2 AND NOT pending
		GROUP BY account ORDER BY account`, []int64(cut), before)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []AccountBalance
	for rows.Next() {
		var name, sum string
		if err := rows.Scan(&name, &sum); err != nil {
			return nil, err
		}
		var b AccountBalance
		if b.Account, err = accounts.ParseKey(name); err != nil {
			return nil, err
		}
		if b.Balance, err = ParseStored(sum); err != nil {
			return nil, err
		}
		if c, ok := chart.Code(b.Account.Code); ok && c.Normal == accounts.Credit {
			b.Balance.Neg(&b.Balance)
		}
		out = append(out, b)
	}
	return out, rows.Err()
}
