package schema

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cockroachdb/cockroach-go/v2/crdb"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/sync/semaphore"

	"github.com/folioledger/folio"
)

// AppRole is the database role the server runs as. Migrations grant it
// SELECT and INSERT only on the append-only tables (entries, postings,
// audit_log), so the server cannot update or delete history even if its code
// tried to.
const AppRole = "folio_app"

// Querier is what both a pool and a transaction offer; read helpers take it.
type Querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// DB is a connection pool with the retrying transaction runner.
type DB struct {
	Pool *pgxpool.Pool
	// MaxRetries bounds whole-transaction retries on 40001/40P01 (default 50).
	MaxRetries int

	// Mode is the journal writers' transaction mode (ModeAuto,
	// ModePostgres or ModeCockroach; see WriterTx).
	Mode string

	dialectOnce sync.Once
	cockroach   bool
	// timeOrdered is whether NewID gives version 7 UUIDs: the dialect was
	// asked (at Open) and is PostgreSQL.
	timeOrdered atomic.Bool
	randomIDs   atomic.Bool // RandomIDs was called

	retries     atomic.Int64 // whole-transaction retries so far (Retries)
	prioritized atomic.Int64 // writer attempts that ran alone (Prioritized)

	gateOnce sync.Once
	gate     *semaphore.Weighted // journal writers' priority gate (writerGate)
}

// Retries is how many times a transaction of db was run again (a
// serialization failure, a deadlock, or a unique violation a writer
// retries) since db was opened: the cost of contention, which /metrics
// exports as folio_tx_retries_total.
func (db *DB) Retries() int64 { return db.retries.Load() }

// OpenOptions configure Open.
type OpenOptions struct {
	// Role, when set, is assumed with SET ROLE on every new connection.
	// The server uses AppRole so that its privileges are the app role's even
	// when the URL names a superuser (the embedded database, tests).
	Role     string
	MaxConns int32
}

// Open connects a pool to url and checks that the database answers.
func Open(ctx context.Context, url string, opts OpenOptions) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parse database url: %w", err)
	}
	if opts.MaxConns > 0 {
		cfg.MaxConns = opts.MaxConns
	}
	// After an outage the pool holds dead connections. pgxpool pings a
	// connection idle for over a second before handing it out and drops
	// one that failed on release; the health check also drops idle dead
	// ones within healthCheckPeriod, and a ping never waits longer than
	// pingTimeout for a server that stopped answering.
	cfg.HealthCheckPeriod = healthCheckPeriod
	cfg.PingTimeout = pingTimeout
	role := ""
	if opts.Role != "" {
		role = pgx.Identifier{opts.Role}.Sanitize()
	}
	cfg.AfterConnect = func(ctx context.Context, c *pgx.Conn) error {
		registerFlatArrays(c.TypeMap())
		if role != "" {
			if _, err := c.Exec(ctx, "SET ROLE "+role); err != nil {
				return err
			}
		}
		return tunePlanner(ctx, c)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("reach database: %w", err)
	}
	db := &DB{Pool: pool}
	// The dialect is asked now, on an idle pool: NewID runs inside
	// transactions, where asking would wait for a second connection.
	db.isCockroach(ctx)
	return db, nil
}

// RandomPageCost is the planner's random_page_cost on the server's
// PostgreSQL connections (see tunePlanner).
const RandomPageCost = "1.1"

// JIT is the jit setting on the server's PostgreSQL connections (see
// tunePlanner).
const JIT = "off"

// tunePlanner sets random_page_cost to RandomPageCost and jit to JIT for
// the session of c, each when the server still has PostgreSQL's built-in
// default. random_page_cost's is 4, a figure for
// spinning disks): a value the operator chose (postgresql.conf, the command
// line, ALTER DATABASE or ALTER ROLE … SET) is kept. Folio's data is in
// memory or on SSDs, where 1.1 is the usual figure. With 4 the planner
// judges an index probe per key too dear: it seq-scanned trades to look up a
// batch's 2,000 trade ids, and it plans the batch writes (UPDATE balances …
// FROM unnest, the rollups' UPDATE … FROM unnest) as a hash join over a
// sequential scan of the whole table, which spills to temporary files once
// the table outgrows work_mem (TestBalanceWritePlansIndexLookups; figures in
// README, "Measured figures, dated"). Until 2026-12-06 only the private
// cluster had 1.1 (on its command line); a database of the operator's got
// these plans. JIT compilation (on by default) pays off for long analytic
// queries, not for Folio's: a read as of a position over every balance row
// (a trial balance) is estimated dear because of the inline accounts'
// branch it never runs for other rows (ledger/lines.go), and PostgreSQL
// then spent ~0.7 s compiling it for a ~0.5 s run (2026-12-07, 100k
// trades). CockroachDB has neither setting (its optimizer costs lookups
// itself): a connection whose server reports crdb_version is left as it is.
func tunePlanner(ctx context.Context, c *pgx.Conn) error {
	if c.PgConn().ParameterStatus("crdb_version") != "" {
		return nil
	}
	_, err := c.Exec(ctx, `SELECT set_config(p.name, s.value, false) FROM pg_settings p
		JOIN unnest($1::text[], $2::text[]) AS s(name, value) ON s.name = p.name WHERE p.source = 'default'`,
		[]string{"random_page_cost", "jit"}, []string{RandomPageCost, JIT})
	return err
}

// Pool health settings (see Open).
const (
	healthCheckPeriod = 5 * time.Second
	pingTimeout       = 5 * time.Second
)

// Close closes the pool.
func (db *DB) Close() { db.Pool.Close() }

// retryable is an error the runner retries: serialization failures (40001)
// and deadlocks (40P01). Deadlocks are reported to crdb as 40001 so that its
// retry loop treats them alike.
type retryable struct{ err error }

func (r retryable) Error() string    { return r.err.Error() }
func (r retryable) Unwrap() error    { return r.err }
func (r retryable) SQLState() string { return "40001" }

// hasState reports whether err is a PostgreSQL error with one of states.
func hasState(err error, states []string) bool {
	var pg *pgconn.PgError
	if len(states) == 0 || !errors.As(err, &pg) {
		return false
	}
	for _, s := range states {
		if pg.Code == s {
			return true
		}
	}
	return false
}

// IsRetryable reports whether err is a transaction conflict worth retrying.
func IsRetryable(err error) bool {
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		return pg.Code == "40001" || pg.Code == "40P01"
	}
	return false
}

// Tx runs fn in a SERIALIZABLE transaction and retries the whole transaction
// on serialization failures and deadlocks, with jittered exponential backoff.
// fn must have no side effects outside the database until Tx returns, since
// it may run several times. The COMMIT error is returned (and retried) like
// any other.
func (db *DB) Tx(ctx context.Context, fn func(pgx.Tx) error) error {
	return db.tx(ctx, pgx.TxOptions{IsoLevel: pgx.Serializable}, fn)
}

// Modes of the journal writers' transactions (DB.Mode).
const (
	// ModeAuto is ModeCockroach on CockroachDB and ModePostgres elsewhere.
	ModeAuto = ""
	// ModePostgres runs journal writers at READ COMMITTED with row locks:
	// each writer's first lock (SELECT … FOR UPDATE of its shard heads)
	// waits for the shard's previous writer, and every later statement sees
	// everything committed before it. See ledger/doc.go, "Transactions",
	// for why this keeps the journal's invariants.
	ModePostgres = "postgres"
	// ModeCockroach is the CockroachDB path, also runnable on PostgreSQL
	// (FOLIO_DB_MODE=cockroach): SERIALIZABLE, row locks, no LOCK TABLE,
	// whole-transaction retries on 40001.
	ModeCockroach = "cockroach"
)

// RandomIDs makes NewID give random (version 4) UUIDs from now on, as on
// CockroachDB, whatever the dialect: for tests of code that must not
// depend on ids growing with time.
func (db *DB) RandomIDs() { db.randomIDs.Store(true) }

// WriterMode returns the mode journal writers run in: db.Mode, or on
// ModeAuto the one of the database's dialect.
func (db *DB) WriterMode(ctx context.Context) string {
	switch {
	case db.Mode != ModeAuto:
		return db.Mode
	case db.isCockroach(ctx):
		return ModeCockroach
	default:
		return ModePostgres
	}
}

// IndexProbes makes the rest of transaction tx, on PostgreSQL, join by index probes
// rather than hash or merge joins (SET LOCAL enable_hashjoin and
// enable_mergejoin off); on CockroachDB it does nothing. For a transaction
// that writes a batch of keys into a table that only grows (the
// statistics folder's UPDATE … FROM unnest(…) of the rollups): the planner
// prices one primary-key probe per key above hashing the whole table, and
// so reads every row of the table every round, a cost that grows with the
// table, where the probes' cost is the batch's (README, "Measured figures,
// dated").
func (db *DB) IndexProbes(ctx context.Context, tx Execer) error {
	if db.isCockroach(ctx) {
		return nil
	}
	_, err := tx.Exec(ctx, `SELECT set_config('enable_hashjoin', 'off', true), set_config('enable_mergejoin', 'off', true)`)
	return err
}

// isCockroach reports whether the database is CockroachDB (asked once).
func (db *DB) isCockroach(ctx context.Context) bool {
	db.dialectOnce.Do(func() {
		var err error
		db.cockroach, err = IsCockroach(ctx, db.Pool)
		db.timeOrdered.Store(err == nil && !db.cockroach)
	})
	return db.cockroach
}

// NewID returns a new UUID for a key the server chooses (entries,
// accruals). On PostgreSQL it is a version 7 UUID, whose leading 48 bits
// are the time in milliseconds (google/uuid keeps them increasing within a
// process): a new row's key lands at the right edge of its primary-key
// index, as a sequence's would, where a random key lands on a random leaf
// page (more pages touched and split, and after each checkpoint written
// whole to the WAL). On CockroachDB it is random (version 4), whatever the
// writer mode: keys that grow with time would send every insert to the one
// range holding the newest. Both are UUIDs to every reader. It never asks
// the database (it runs inside writers' transactions, which hold their
// connection): a DB not made by Open, whose dialect is not known yet, gets
// random ids.
func (db *DB) NewID() string {
	if db.timeOrdered.Load() && !db.randomIDs.Load() {
		return uuid.Must(uuid.NewV7()).String()
	}
	return uuid.NewString()
}

// WriterTx runs fn as a journal writer's transaction, retried as a whole
// like Tx. In ModeCockroach it is Tx (SERIALIZABLE). In ModePostgres it is
// READ COMMITTED: the writer serializes with the other writers of its
// shards through the heads' row locks, taken by fn; a unique violation
// (23505) — two writers of different shards inserting the same trade id
// or idempotency key, which the loser had looked up before the winner
// committed — is retried too, and the retry finds the winner's row.
//
// A writer that lost StarvedAfter attempts in a row runs its next attempts
// alone among this process's writers (writerGate).
func (db *DB) WriterTx(ctx context.Context, fn func(pgx.Tx) error) error {
	if db.WriterMode(ctx) == ModeCockroach {
		return db.writerTx(ctx, pgx.TxOptions{IsoLevel: pgx.Serializable}, fn)
	}
	return db.writerTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted}, fn, "23505")
}

// The journal writers' priority gate. Under SERIALIZABLE on PostgreSQL a
// writer that waits for a shard head's row lock fails with 40001 once the
// holder commits (the row changed after its snapshot), so a writer of
// several shards can lose to single-shard writers attempt after attempt:
// TestConcurrentWriters on four shards in the CockroachDB mode once saw a
// writer give up after 50 attempts. CockroachDB raises the priority of a
// transaction each time it retries; this gate does the same within a
// process. Every attempt holds one unit of the gate; once it has lost
// StarvedAfter attempts, a writer takes all of it for the next ones, so it
// waits for the attempts in flight, new ones queue behind it (the
// semaphore is FIFO), and it runs alone. An ordinary attempt waits at
// most gateWait for the gate and then runs anyway, so a writer transaction
// begun inside another's function can never deadlock on it. Writers of other processes are not held back: a
// second server's writers can still make one lose (then CockroachDB's own
// priorities, or PostgreSQL's lock queue in the postgres mode, decide).
const (
	// StarvedAfter is how many attempts a journal writer loses in a row
	// before it runs alone.
	StarvedAfter = 16
	gateWeight   = 1 << 20
	gateWait     = time.Second
)

func (db *DB) writerGate() *semaphore.Weighted {
	db.gateOnce.Do(func() { db.gate = semaphore.NewWeighted(gateWeight) })
	return db.gate
}

// writerTx is tx for journal writers: each attempt passes the priority
// gate before it begins.
func (db *DB) writerTx(ctx context.Context, opts pgx.TxOptions, fn func(pgx.Tx) error, alsoRetry ...string) error {
	return db.run(ctx, opts, fn, db.passGate, alsoRetry...)
}

// passGate lets a writer's attempt-th attempt through the priority gate and
// returns what releases it.
func (db *DB) passGate(ctx context.Context, attempt int) (release func(), err error) {
	gate := db.writerGate()
	if attempt > StarvedAfter {
		if err := gate.Acquire(ctx, gateWeight); err != nil {
			return nil, err
		}
		db.prioritized.Add(1)
		return func() { gate.Release(gateWeight) }, nil
	}
	wctx, cancel := context.WithTimeout(ctx, gateWait)
	defer cancel()
	if err := gate.Acquire(wctx, 1); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return func() {}, nil // waited long enough: run beside the prioritized one
	}
	return func() { gate.Release(1) }, nil
}

// Prioritized is how many writer attempts ran alone after StarvedAfter
// lost ones (see writerGate) since db was opened.
func (db *DB) Prioritized() int64 { return db.prioritized.Load() }

// ReadTx runs fn in a read-only SERIALIZABLE transaction (retried like Tx),
// giving reports a consistent snapshot.
func (db *DB) ReadTx(ctx context.Context, fn func(pgx.Tx) error) error {
	return db.tx(ctx, pgx.TxOptions{IsoLevel: pgx.Serializable, AccessMode: pgx.ReadOnly}, fn)
}

// SnapshotTx runs fn in a read-only transaction that reads one snapshot,
// retried like Tx: REPEATABLE READ in the postgres mode (PostgreSQL's
// snapshot without the bookkeeping of SERIALIZABLE, which reads that
// decide nothing on their own do not need), SERIALIZABLE in the cockroach
// mode. The ingester prepares a shard's next group of trades in one.
func (db *DB) SnapshotTx(ctx context.Context, fn func(pgx.Tx) error) error {
	if db.WriterMode(ctx) == ModeCockroach {
		return db.ReadTx(ctx, fn)
	}
	return db.tx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, fn)
}

func (db *DB) tx(ctx context.Context, opts pgx.TxOptions, fn func(pgx.Tx) error, alsoRetry ...string) error {
	return db.run(ctx, opts, fn, nil, alsoRetry...)
}

// run is tx with an optional gate that each attempt (1, 2, …) passes
// before it begins, holding it until the attempt ends.
func (db *DB) run(ctx context.Context, opts pgx.TxOptions, fn func(pgx.Tx) error,
	gate func(ctx context.Context, attempt int) (func(), error), alsoRetry ...string) error {
	retries := db.MaxRetries
	if retries <= 0 {
		retries = 50
	}
	attempt := 0
	return crdb.ExecuteCtx(crdb.WithMaxRetries(ctx, retries), func(ctx context.Context, _ ...any) error {
		if attempt > 0 {
			db.retries.Add(1)
			if err := sleepBackoff(ctx, attempt); err != nil {
				return err
			}
		}
		attempt++
		if gate != nil {
			release, err := gate(ctx, attempt)
			if err != nil {
				return err
			}
			defer release()
		}
		err := pgx.BeginTxFunc(ctx, db.Pool, opts, fn)
		if err != nil && (IsRetryable(err) || hasState(err, alsoRetry)) {
			return retryable{err}
		}
		return Translate(err)
	})
}

// ErrUnavailable is the domain error of a connection-level failure (see
// IsUnavailable): HTTP 503 with Retry-After.
var ErrUnavailable = folio.Errorf(folio.EUNAVAILABLE, "the database is unavailable; retry")

// IsUnavailable reports whether err is a connection-level failure rather
// than an answer of the database: the server could not be reached (a
// pgconn connect error, a refused or reset connection, any net.Error), the
// connection broke (io.EOF or io.ErrUnexpectedEOF from a dead connection,
// a connection pgx already closed), or the server refused the work because
// it is shutting down, crashed, starting, or has no connection slot left
// (SQLSTATE class 08, 57P01, 57P02, 57P03, 53300). A cancelled or expired
// context is not unavailability: the caller gave up.
//
// A transaction that failed so may or may not have committed (the failure
// may have hit its COMMIT): its outcome is unknown. Folio's writes are
// idempotent (trade ids, idempotency keys), so the caller resends the same
// request and gets each item booked exactly once.
func IsUnavailable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		switch pg.Code {
		case "57P01", "57P02", "57P03", "53300":
			return true
		}
		return strings.HasPrefix(pg.Code, "08")
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	return errors.As(err, &ce) || errors.As(err, &ne) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, pgconn.ErrConnClosed) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// Translate returns err as ErrUnavailable (still wrapping err, for logs and
// errors.Is) when it is a connection-level failure, else err unchanged.
// The runner applies it to every transaction's error; code that queries
// the pool directly applies it, or leaves it to the HTTP layer, which
// applies it to every error it answers.
func Translate(err error) error {
	if !IsUnavailable(err) {
		return err
	}
	var fe *folio.Error
	if errors.As(err, &fe) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrUnavailable, err)
}

// sleepBackoff waits a jittered, exponentially growing delay: up to 1ms
// doubled per attempt, capped at 128ms.
func sleepBackoff(ctx context.Context, attempt int) error {
	ceiling := time.Millisecond << min(attempt, 7)
	d := time.Duration(rand.Int64N(int64(ceiling))) + 100*time.Microsecond
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// IsCockroach reports whether q is connected to CockroachDB.
func IsCockroach(ctx context.Context, q Querier) (bool, error) {
	var v string
	if err := q.QueryRow(ctx, "SELECT version()").Scan(&v); err != nil {
		return false, err
	}
	return strings.Contains(v, "CockroachDB"), nil
}

// UniqueViolation reports whether err is a unique-constraint violation,
// returning the constraint name.
func UniqueViolation(err error) (string, bool) {
	var pg *pgconn.PgError
	if errors.As(err, &pg) && pg.Code == "23505" {
		return pg.ConstraintName, true
	}
	return "", false
}
