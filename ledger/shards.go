package ledger

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"sync/atomic"
	"time"

	"github.com/folioledger/folio"
	"github.com/folioledger/folio/schema"
	"github.com/jackc/pgx/v5"
)

// MaxShards bounds the number of journal shards.
const MaxShards = 64

// Head is one journal shard's chain head: its last seq and hash. A shard
// that has written nothing has Seq 0 and GenesisHash.
type Head struct {
	Shard      int
	Seq        int64
	Hash       []byte
	RecordedAt time.Time
	Active     bool
}

// Heads returns the head of every journal shard (active or retired), in
// shard order, as of q's snapshot (one statement, so one consistent cut
// across shards).
func Heads(ctx context.Context, q schema.Querier) ([]Head, error) {
	rows, err := q.Query(ctx, `SELECT shard, seq, hash, recorded_at, active FROM journal_shards ORDER BY shard`)
	if err != nil {
		return nil, fmt.Errorf("read journal heads: %w", err)
	}
	defer rows.Close()
	var out []Head
	for rows.Next() {
		var h Head
		if err := rows.Scan(&h.Shard, &h.Seq, &h.Hash, &h.RecordedAt, &h.Active); err != nil {
			return nil, err
		}
		h.RecordedAt = h.RecordedAt.UTC()
		out = append(out, h)
	}
	return out, rows.Err()
}

// ShardEntries returns the entries of one shard with after < seq <= through,
// in seq order, with their postings (at most through-after entries; callers
// page by seq).
func ShardEntries(ctx context.Context, q schema.Querier, shard int, after, through int64) ([]*Entry, error) {
	return queryEntries(ctx, q, `SELECT `+entryColumns+` FROM entries WHERE shard = $1 AND seq > $2 AND seq <= $3 ORDER BY seq`,
		shard, after, through)
}

// ShardOf is the shard of a routing key among n shards: FNV-1a of the key,
// modulo n. A trade's entries are routed by its trader's id, a manual
// entry by its route or idempotency key.
func ShardOf(key string, n int) int {
	if n <= 1 {
		return 0
	}
	h := fnv.New32a()
	h.Write([]byte(key))
	return int(h.Sum32() % uint32(n))
}

// ShardCount returns the number of active journal shards.
func ShardCount(ctx context.Context, q schema.Querier) (int, error) {
	var n int
	if err := q.QueryRow(ctx, `SELECT count(*) FROM journal_shards WHERE active`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count journal shards: %w", err)
	}
	return n, nil
}

// Shards returns the ledger's number of active shards, read from the
// database once (a server restarts after `folio journal-shards`).
func (l *Ledger) Shards(ctx context.Context) (int, error) { return l.shardCount(ctx, l.DB.Pool) }

// shardCount is Shards read through q (a writer's own transaction: taking
// a second pool connection while holding one could exhaust the pool).
func (l *Ledger) shardCount(ctx context.Context, q schema.Querier) (int, error) {
	l.mu.RLock()
	n := l.shards
	l.mu.RUnlock()
	if n > 0 {
		return n, nil
	}
	n, err := ShardCount(ctx, q)
	if err != nil {
		return 0, err
	}
	if n < 1 {
		return 0, errors.New("the journal has no active shard")
	}
	l.mu.Lock()
	l.shards = n
	l.mu.Unlock()
	return n, nil
}

// ErrShardsChanged is returned to a writer whose shard was retired by
// `folio journal-shards` while it ran: the server must restart to pick up
// the new count.
var ErrShardsChanged = folio.Errorf(folio.EUNAVAILABLE, "the journal's shard count changed; this server must be restarted")

// lockShards locks the heads of shards (sorted, distinct) FOR UPDATE, in
// shard order so that writers taking several never deadlock, and returns
// them by shard.
func lockShards(ctx context.Context, tx pgx.Tx, shards []int) (map[int]*head, error) {
	// One shard (every trade writer's batch) by equality: the prepared
	// statement's generic plan is then as good as any, and PostgreSQL stops
	// planning it. For `= ANY($1)` a custom plan (an array of one) always
	// looks cheaper than the generic one (an array of unknown length), so
	// the server planned it afresh on each of the two locks of every batch.
	var rows pgx.Rows
	var err error
	if len(shards) == 1 {
		rows, err = tx.Query(ctx, `SELECT shard, seq, hash, recorded_at, active FROM journal_shards WHERE shard = $1 FOR UPDATE`, shards[0])
	} else {
		rows, err = tx.Query(ctx, `SELECT shard, seq, hash, recorded_at, active FROM journal_shards WHERE shard = ANY($1) ORDER BY shard FOR UPDATE`, shards)
	}
	if err != nil {
		return nil, fmt.Errorf("lock journal shards: %w", err)
	}
	defer rows.Close()
	out := make(map[int]*head, len(shards))
	for rows.Next() {
		var h head
		var shard int
		var active bool
		if err := rows.Scan(&shard, &h.seq, &h.hash, &h.recordedAt, &active); err != nil {
			return nil, err
		}
		if !active {
			return nil, ErrShardsChanged
		}
		h.recordedAt = h.recordedAt.UTC()
		h.start, h.startHash = h.seq, h.hash
		schema.NoteGrowth(h.seq)
		out[shard] = &h
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(out) != len(shards) {
		return nil, ErrShardsChanged
	}
	return out, nil
}

// SetShards sets the number of active journal shards to n: shards 0…n-1
// are active (new ones start at seq 0 with the genesis hash), the others
// retired (their chains stay, verified, but receive no entries). It takes
// every shard's lock, so it waits for running writers; servers must be
// restarted afterwards to route by the new count (a running server whose
// shard was retired gets ErrShardsChanged). It runs as the database owner
// (`folio journal-shards N`), not as the app role.
func SetShards(ctx context.Context, db *schema.DB, n int) error {
	if n < 1 || n > MaxShards {
		return folio.Errorf(folio.EINVALID, "the number of journal shards must be between 1 and %d", MaxShards)
	}
	return db.Tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT shard FROM journal_shards ORDER BY shard FOR UPDATE`); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO journal_shards (shard, seq, hash, recorded_at, active)
			SELECT s, 0, $2, '1970-01-01T00:00:00Z', true FROM generate_series(0, $1::bigint - 1) AS s
			ON CONFLICT (shard) DO NOTHING`, n, GenesisHash); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `UPDATE journal_shards SET active = (shard < $1)`, n)
		return err
	})
}

// writerStats counts the journal batches written since the process
// started, and those that locked more than one shard (a batch of manual
// entries routed to several shards; the trade writers lock one).
var writerStats struct {
	batches, multiShard atomic.Int64
}

// WriterStats returns the journal batches this process wrote and how many
// of them took more than one shard's lock.
func WriterStats() (batches, multiShard int64) {
	return writerStats.batches.Load(), writerStats.multiShard.Load()
}
