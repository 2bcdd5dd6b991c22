// Package schema is Folio's database layer: the embedded migrations and
// [Migrate], [Open] and the retrying transaction runner every write goes
// through, dialect detection, and the private PostgreSQL cluster that tests
// and `folio serve` start when no database URL is given. PostgreSQL 15 is
// what development and tests run on; CockroachDB is the production target
// (docs/CONTRACT.md §7), so everything here stays inside what both accept.
//
// # Migrations
//
// Migrations are SQL files embedded from migrations/, named NNN_name.sql
// and applied in version order. Each statement of a file (a statement ends
// with ';' at the end of a line; comment-only lines are dropped, see
// [SplitStatements]) is one [Step], identified by (version, index in the
// file). Migrate runs every step not yet recorded in schema_migrations on its
// own, outside any transaction, and records it right after; a step
// interrupted between the two is run again on the next call, so every step
// must be idempotent (CREATE … IF NOT EXISTS, INSERT … ON CONFLICT DO
// NOTHING); docs/CONTRACT.md §7 asks for one DDL statement per step. Steps are recorded
// by position, so a released file is never edited: a change is a new file.
//
// Migrate needs a URL whose user may create tables and roles (the superuser
// on the embedded database). It bootstraps its two bookkeeping tables,
// creates the app role if missing, then takes the migration lock. The lock is
// a lease on the single row of schema_lock, not an advisory lock (CockroachDB
// has none): an UPDATE claims the row when it is free or its lease (five
// minutes) has expired, a waiting migrator polls every 100 ms for up to five
// minutes, and the row is released when Migrate returns. The lease is not
// renewed, so a run that lasts longer than five minutes can be overtaken by
// a second migrator; a crashed migrator blocks others for at most five
// minutes. Concurrent calls (several replicas starting at once) therefore
// apply each step once and all succeed; the one holding the lock does the
// work and the others find nothing left to do. Under the lock, Migrate then
// re-applies grants.sql on every run, so that tables added by new migrations
// get the app role's privileges too. [PendingSteps] reports how many steps
// the database lacks; the server refuses to start, and its readiness probe
// reports not ready, while it is above zero.
//
// # The app role
//
// [AppRole] (folio_app) is the role the server works as. It is created
// without LOGIN; [Open] with OpenOptions.Role assumes it with SET ROLE on
// every new connection, so the server has the role's privileges even when its
// URL names a superuser (the embedded database, tests). A dedicated database
// user needs GRANT folio_app TO that user. grants.sql gives the role exactly
// what the code does, table by table, in one transaction that first revokes
// everything (so a database migrated before keeps no old privilege):
//
//   - history — entries, postings, audit_log, user_events, bounty_awards,
//     trades, trade_reversals, accruals, scheduler_runs — SELECT and INSERT
//     only: corrections are new rows (reversals, negative accruals);
//   - working tables — SELECT, INSERT and UPDATE of only the columns the
//     code updates, granted column by column (GRANT UPDATE (col, …)): a
//     balance row's figures and last_seq but not its account, a payout
//     line's status but not its amount, a user's referrer and rates but not
//     their signup data; fx_rates, though history, keeps UPDATE of rate,
//     because putting a rate again for the same source and instant corrects
//     it (audit-logged); journal_head has table-level UPDATE, which LOCK
//     TABLE (ledger.JournalTx) requires, and no INSERT; cache_versions UPDATE of
//     version only;
//   - DELETE only on revenue_shares, whose rows a user's table replaces;
//   - only SELECT on schema_migrations and schema_lock; TRUNCATE nowhere.
//
// A bug or an injected statement in the server cannot rewrite history or
// the columns it never writes; an attempt fails with SQLSTATE 42501.
// TestAppRoleGrants lists the decision for every table and fails for a table
// without one, so a migration that adds a table must add its grants here.
//
// CockroachDB has table-level privileges only (no column lists,
// cockroachdb/cockroach#72766). On CockroachDB, Migrate applies grants.sql
// with the column lists dropped ([GrantStatements]): table-level UPDATE on
// every working table listed here, still nothing but SELECT and INSERT on
// history. There the column restrictions rest on review and on
// ledger.Verify for the journal's balances. TestCockroachGrants runs that
// variant on PostgreSQL.
//
// # The transaction runner
//
// [DB.Tx] runs a function in a SERIALIZABLE transaction and [DB.ReadTx] in
// a read-only SERIALIZABLE one. Both wrap pgx.BeginTxFunc (BEGIN, fn, then
// COMMIT or ROLLBACK, returning the COMMIT error) in cockroach-go's
// crdb.ExecuteCtx, which re-runs the whole transaction while it fails with
// SQLSTATE 40001 (serialization failure); the runner maps 40P01 (deadlock)
// to the same treatment. Before each retry it sleeps a jittered,
// exponentially growing delay: 100 µs plus a random duration below 2^n ms
// after n attempts, the bound capped at 128 ms. After MaxRetries retries (default 50) it gives up
// with crdb's MaxRetriesExceededError, which still wraps the last error
// ([IsRetryable] reports true for it); a cancelled context stops it at once.
// Journal writers (DB.WriterTx) also pass a priority gate: one that lost 16
// attempts in a row runs its next ones alone among the process's writers,
// as CockroachDB raises a retried transaction's priority. Without it,
// TestConcurrentWriters on four shards in the CockroachDB mode on
// PostgreSQL (where a writer waiting for a shard head's row lock fails as
// soon as the holder commits) had calls of 2.5 s and, once, a writer that
// gave up after 50 attempts; with it the slowest call was ~1 s
// (2026-12-05, three runs each).
// Consequences for callers: fn may run several times, so it must have no side
// effects outside the database until Tx returns; and fn must wrap database
// errors with %w (or return them as they are) for a conflict to be
// recognised. A *folio.Error does not wrap, so converting a conflict into one
// inside fn turns it into a final error.
//
// Serialization failures on PostgreSQL are raised by statements and also by
// COMMIT itself: SSI often detects a write skew only when the second
// transaction commits. That is why the runner is not crdbpgx.ExecuteTx from
// the same module. ExecuteTx follows CockroachDB's client-side retry
// protocol: it runs fn after SAVEPOINT cockroach_restart, treats RELEASE
// SAVEPOINT as the commit, retries with ROLLBACK TO SAVEPOINT inside the same
// transaction, and then calls COMMIT ignoring its error. On PostgreSQL,
// RELEASE commits nothing, so a COMMIT refused with 40001 is silently
// dropped and the caller believes a write that never happened; and a
// serialization failure cannot be cured inside the same transaction, which
// PostgreSQL requires to be retried as a whole. Our runner returns, and
// retries, the COMMIT error like any other; a test provokes exactly that
// failure with a write skew and checks that it is retried.
//
// [DB.LockTx] is Tx for transactions that all lock one row of a table, such
// as the journal's head row (ledger.JournalTx runs every journal write
// through it). On PostgreSQL a writer waiting for that row would otherwise
// fail with 40001 as soon as the holder commits (its snapshot predates the
// commit) and be retried, possibly many times under load. LockTx therefore
// starts with LOCK TABLE … IN SHARE ROW EXCLUSIVE MODE, before the first
// query takes the snapshot, so writers queue and each runs once (a ledger
// test shows 8 writers × 25 commits in exactly 200 attempts). This is a
// table lock, not an advisory lock, and it is issued only on PostgreSQL:
// CockroachDB has no LOCK TABLE, and its SELECT … FOR UPDATE already queues
// writers on the row.
//
// [IsRetryable] and [UniqueViolation] classify errors for callers that
// translate them into domain errors (23505 → conflict). [IsCockroach] tells
// the two dialects apart from version().
//
// # Planner settings
//
// [Open] sets random_page_cost to [RandomPageCost] (1.1) on each new
// PostgreSQL connection unless the operator set a value of their own
// (postgresql.conf, the command line, ALTER DATABASE or ALTER ROLE … SET):
// with the default of 4 a batch's look-ups and writes by key (a batch's
// trade ids, UPDATE … FROM unnest of a few thousand balance or rollup
// keys) are planned as sequential scans and hash joins over whole tables,
// which spill to temporary files once a table outgrows work_mem. The
// private cluster used to set 1.1 on its command line, so only a database
// of the operator's got those plans; now every database gets the same
// through Open, and the private cluster runs with PostgreSQL's defaults.
// TestBalanceWritePlansIndexLookups shows the plan it avoids. It sets jit
// to [JIT] (off) the same way: JIT compilation pays off for long analytic
// queries, and Folio's reads are short; a trial balance as of a position
// was compiled for ~0.7 s to run for ~0.5 s. CockroachDB connections are
// left as they are.
//
// # Array parameters
//
// The batch statements take their rows as arrays, a Go slice a column.
// Open registers on each connection an array codec (arrays.go) that
// encodes []string, []int64 and []time.Time as text[], int8[] and
// timestamptz[] directly, in pgx's binary format byte for byte; pgx's own
// codec boxed every element into an interface first. Everything else is
// encoded by pgx. The same holds on CockroachDB (the same wire format).
//
// # Generic plans for the group commit
//
// The ingester's batch statements over growing tables are [Sized]: their
// text names the journal's size generation, so each connection prepares
// and plans them again whenever the journal doubles, and [DB.GroupWriterTx]
// runs them on their generic plans (plan_cache_mode force_generic_plan for
// its transaction) instead of planning them every call ([PlanEachTime]),
// which was ~14% of PostgreSQL's CPU with small groups (plans.go).
//
// # Outages
//
// [IsUnavailable] recognises connection-level failures: the server cannot
// be reached (connect errors, refused or reset connections, any net.Error),
// the connection broke (io.EOF or io.ErrUnexpectedEOF, a connection pgx
// closed), or the server refuses work while shutting down, crashed,
// starting or out of connection slots (SQLSTATE class 08, 57P01, 57P02,
// 57P03, 53300). [Translate] turns them into [ErrUnavailable] (code
// unavailable, HTTP 503 with Retry-After) while still wrapping the original
// for logs. The runner translates every transaction's error, and does not
// retry it: the database may stay down for seconds, and the HTTP client is
// the one to wait. The API translates whatever error it answers, so plain
// pool reads need no care of their own.
//
// Such a failure during COMMIT leaves the transaction's outcome unknown: it
// may have committed. That is safe because every write Folio accepts from a
// client is idempotent — trades by trade id, entries by idempotency key — so
// a client that resends the same request after a 503 (or a broken HTTP
// connection) gets what was committed as "exists" and the rest booked now:
// each item exactly once. A 503 never carries per-item results, so a client
// cannot mistake an unknown outcome for a rejection and drop the item.
//
// [Open]'s pool survives an outage: pgxpool pings a connection idle for over
// a second before handing it out and drops connections that failed, the
// health check (every 5 s) drops idle dead ones, and new connections are
// made once the server is back.
//
// # CockroachDB rules
//
// Both databases must accept the SQL (docs/CONTRACT.md §7): SERIALIZABLE transactions
// retried as a whole as above; UUID keys from gen_random_uuid(), BIGINT
// (never bare INT, which is 32-bit on PostgreSQL and 64-bit on CockroachDB),
// NUMERIC(38,18) for amounts, TIMESTAMPTZ, JSONB, BYTEA; no SERIAL,
// sequences, identity columns, triggers, stored functions or PL/pgSQL, DO
// blocks, advisory locks, LISTEN/NOTIFY or deferrable constraints; bulk
// writes as multi-row INSERT … SELECT FROM unnest($1::…[], …), never COPY;
// one idempotent DDL statement per migration step. [LintSQL] checks SQL text
// for the constructs that can be recognised in it (the types and features
// above, COPY, and CREATE TABLE, CREATE INDEX or ADD COLUMN without IF NOT
// EXISTS), ignoring comments, string literals, quoted identifiers and
// dollar-quoted bodies, and a test runs it over every migration and
// grants.sql. The rules about transactions and bulk writes are kept by the
// runner and by review. docs/CONTRACT.md §7 places CockroachDB-only DDL (hash-sharded
// indexes, TTL, changefeeds) in separate .crdb.sql overlay files; none exists
// yet, and [Steps] rejects any file not named NNN_name.sql, so Migrate must
// learn to select overlays by dialect before the first one is added.
//
// # The private PostgreSQL cluster
//
// [StartPostgres] runs a PostgreSQL cluster of the machine's own binaries
// ([FindPostgresBin]: the newest /usr/lib/postgresql/*/bin, else initdb on
// PATH) in a data directory: initdb on first use (superuser postgres, trust
// authentication, UTF-8, collation C with C.UTF-8 character classes: text
// compares byte by byte, in the order Go and CockroachDB use, sparing every
// text index a locale-aware comparison per step), then pg_ctl start listening on
// 127.0.0.1 only, on
// a free port (retried if another process takes it first) unless one is
// given, with its Unix socket and log inside the data directory; its URL
// ([Postgres.URL]) is the socket's, cheaper per round trip than TCP. An existing
// cluster is reused, and a server left running on it by a dead process is
// stopped first. As root, the binaries run as the postgres OS user, so every
// parent of the data directory must be traversable by others. A durable
// cluster gets shared_buffers of a quarter of the memory the process may
// use (128 MB to 8 GB), max_wal_size of an eighth of the free disk (1 to
// 16 GB), checkpoint_timeout 30 min and compressed full-page images: with
// the defaults, checkpoints' full-page images and evicted index pages slowed
// trades as the journal grew. pg_ctl waits up to 10 minutes for a start
// (crash recovery replays up to max_wal_size of WAL) or a fast stop. Every cluster
// plans with random_page_cost 1.1 (its pages are in memory or on local
// SSD): with the default 4, batch look-ups of 2,000 keys seq-scanned whole
// tables instead of probing their indexes. Fast turns off
// fsync, synchronous_commit and full_page_writes, for tests only. `folio
// serve` without a database URL uses this in its --data-dir.
//
// [Postgres.Supervise] keeps such a cluster up; `folio serve` runs it for the
// cluster it started (never for an external database). Every 100 ms it
// checks the postmaster's pid; once the process is gone (or a zombie) it
// waits for the pid to be reaped, removes the stale postmaster.pid and
// starts the server again with the same port and settings, PostgreSQL's
// crash recovery replaying the WAL. Failed starts (backends of the dead
// server still holding its shared memory, the port taken) are retried after
// 100 ms doubling to 5 s. Deaths, failed attempts and restarts are logged.
// The time until a killed cluster answers again is mostly PostgreSQL's own
// crash recovery (fsync of the data directory, WAL replay, the
// end-of-recovery checkpoint); README, "Measured figures, dated", has it.
//
// # Tests
//
// The schematest package gives each test its own database: a clone of a
// template database migrated once per test process with Migrate, on a
// private Fast cluster started in a temporary directory on first use and
// removed by schematest.Main, which every package using it must call from
// TestMain. Setting FOLIO_TEST_DATABASE_URL runs the tests on that server
// instead (its user must be allowed to CREATE DATABASE). It is how the
// suite is run against CockroachDB, opt-in since no CockroachDB binary can
// be installed on the development machines: CockroachDB has no template
// databases, so each test database is created empty and migrated from
// scratch. FOLIO_TEST_KEEP_DB=1 keeps the databases for inspection. A test
// that cannot get its database fails; none is skipped.
package schema
