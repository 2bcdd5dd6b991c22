package schema

import (
	"context"
	"math/bits"
	"strconv"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
)

// Sized statements: cached generic plans that follow the tables' growth.
//
// A batch statement over a growing table (`id = ANY($1)`, `JOIN
// unnest(…)`, `UPDATE … FROM unnest(…)`) must not keep a generic plan made
// while the table was small: that plan scans the whole table, and
// PostgreSQL replaces a cached plan only when an ANALYZE invalidates it,
// which autovacuum runs a minute or more apart (PlanEachTime, which plans
// every call, was the answer). Planning every call has its price: with
// groups of ~20 trades (64 clients × 1), planning and parsing those
// statements was ~14% of PostgreSQL's CPU (perf, README "Measured figures,
// dated").
//
// Sized(sql) names the statement after the journal's size generation: the
// bit length of the largest shard seq a writer of this process has locked
// (NoteGrowth, called by the ledger). pgx prepares each distinct text once
// per connection, so a statement is planned again each time the journal
// doubles, with the tables as large as they are then: a plan is never used
// on tables much more than twice the size it was made for (every table a
// trade writes grows with the journal, at most a few rows an entry), and
// the generations stop mattering once tables are large (a key look-up's
// plan no longer changes). About 25 generations cover 33M entries a
// shard; pgx's statement cache evicts old texts, and the pipe's named
// statements (a dozen a generation) stay prepared on their connection.
//
// GroupWriterTx then makes the ingester's writers (the shards' trade
// writers and the entries writer, ingest/doc.go) use the generic plans:
// in PostgreSQL's default plan_cache_mode a custom plan for a short array
// always looks cheaper than the generic plan for one of unknown length, so
// PostgreSQL would go on planning every call.

// growth is the largest journal shard seq noted by NoteGrowth.
var growth atomic.Int64

// NoteGrowth records that a journal shard has reached seq n.
func NoteGrowth(n int64) {
	for {
		cur := growth.Load()
		if n <= cur || growth.CompareAndSwap(cur, n) {
			return
		}
	}
}

// SizeGeneration is the current size generation: the bit length of the
// largest noted seq.
func SizeGeneration() int {
	return bits.Len64(uint64(max(growth.Load(), 0)))
}

// Sized returns sql named for the current size generation (a comment in
// front, which PostgreSQL ignores and pgx's statement cache keys on). Pass
// it without PlanEachTime.
func Sized(sql string) string {
	return "/* size generation " + strconv.Itoa(SizeGeneration()) + " */ " + sql
}

// GroupWriterTx is WriterTx for a group commit's batch, whose statements
// are the Sized ones and key look-ups: in ModePostgres its prepared
// statements run their generic plans (plan_cache_mode force_generic_plan,
// SET LOCAL in the transaction's BEGIN, so no extra round trip). In
// ModeCockroach it is WriterTx (SERIALIZABLE: the CockroachDB path stays as
// CockroachDB runs it) that also retries a unique violation (23505), as the
// postgres mode does: with the ingester's overlap a group's booked trade
// ids are read in an earlier snapshot, so a trade that another process's
// writer committed since fails the insert on its key rather than the
// transaction's serializability, and the retry, which reads again in its
// own transaction, finds it.
func (db *DB) GroupWriterTx(ctx context.Context, fn func(pgx.Tx) error) error {
	if db.WriterMode(ctx) == ModeCockroach {
		return db.writerTx(ctx, pgx.TxOptions{IsoLevel: pgx.Serializable}, fn, "23505")
	}
	return db.writerTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted, BeginQuery: groupBegin}, fn, "23505")
}

// groupBegin begins a GroupWriterTx on PostgreSQL (one simple-protocol
// query of two statements).
const groupBegin = `BEGIN ISOLATION LEVEL READ COMMITTED; SET LOCAL plan_cache_mode = force_generic_plan`
