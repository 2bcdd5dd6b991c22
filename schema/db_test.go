package schema_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/folioledger/folio"
	"github.com/folioledger/folio/schema"
	"github.com/folioledger/folio/schema/schematest"
)

// runnerEnv is a fresh database with scratch tables for the runner tests,
// and a pool connected as the app role.
type runnerEnv struct {
	db  *schematest.DB
	app *schema.DB
}

func newRunnerEnv(t *testing.T) *runnerEnv {
	t.Helper()
	ctx := context.Background()
	db := schematest.New(t, schema.Migrate)
	for _, sql := range []string{
		`CREATE TABLE runner_counter (id BIGINT PRIMARY KEY, n BIGINT NOT NULL)`,
		`INSERT INTO runner_counter (id, n) VALUES (1, 0)`,
		`CREATE TABLE runner_log (attempt BIGINT NOT NULL)`,
		`CREATE TABLE runner_on_call (id BIGINT PRIMARY KEY, on_call BOOLEAN NOT NULL)`,
		`INSERT INTO runner_on_call (id, on_call) VALUES (1, true), (2, true)`,
		`GRANT SELECT, INSERT, UPDATE, DELETE ON runner_counter, runner_log, runner_on_call TO ` + schema.AppRole,
	} {
		if _, err := db.Admin.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	app, err := schema.Open(ctx, db.URL, schema.OpenOptions{Role: schema.AppRole})
	if err != nil {
		t.Fatalf("open as %s: %v", schema.AppRole, err)
	}
	t.Cleanup(app.Close)
	return &runnerEnv{db: db, app: app}
}

func (e *runnerEnv) loggedAttempts(t *testing.T) []int64 {
	t.Helper()
	rows, err := e.db.Admin.Query(context.Background(), `SELECT attempt FROM runner_log ORDER BY attempt`)
	if err != nil {
		t.Fatal(err)
	}
	got, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestTxRetriesConflicts(t *testing.T) {
	t.Parallel()
	for _, code := range []string{"40001", "40P01"} {
		t.Run(code, func(t *testing.T) {
			t.Parallel()
			e := newRunnerEnv(t)
			ctx := context.Background()
			attempts := 0
			err := e.app.Tx(ctx, func(tx pgx.Tx) error {
				attempts++
				if _, err := tx.Exec(ctx, `INSERT INTO runner_log (attempt) VALUES ($1)`, attempts); err != nil {
					return err
				}
				if attempts <= 2 {
					return fmt.Errorf("attempt %d: %w", attempts, &pgconn.PgError{Code: code, Message: "injected"})
				}
				return nil
			})
			if err != nil || attempts != 3 {
				t.Fatalf("Tx = %v after %d attempts, want nil after 3", err, attempts)
			}
			// The failed attempts were rolled back; only the third committed.
			if got := e.loggedAttempts(t); len(got) != 1 || got[0] != 3 {
				t.Errorf("committed attempts = %v, want [3]", got)
			}
		})
	}
}

func TestTxReturnsOtherErrorsAtOnce(t *testing.T) {
	t.Parallel()
	e := newRunnerEnv(t)
	ctx := context.Background()
	sentinel := errors.New("boom")
	unique := &pgconn.PgError{Code: "23505", ConstraintName: "x_pkey"}
	domain := folio.Errorf(folio.ECONFLICT, "refused")
	tests := []struct {
		name    string
		fn      func(tx pgx.Tx) error
		wantErr error  // matched with errors.Is, when set
		wantPG  string // SQLSTATE of the returned error, when set
	}{
		{name: "plain error", fn: func(pgx.Tx) error { return sentinel }, wantErr: sentinel},
		{name: "unique violation", fn: func(pgx.Tx) error { return unique }, wantErr: unique},
		{name: "domain error", fn: func(pgx.Tx) error { return domain }, wantErr: domain},
		{name: "SQL error", fn: func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, `SELECT * FROM no_such_table`)
			return err
		}, wantPG: "42P01"},
		{name: "retryable code hidden behind a non-wrapping error", fn: func(pgx.Tx) error {
			return folio.Errorf(folio.EINTERNAL, "%v", &pgconn.PgError{Code: "40001"})
		}},
	}
	for _, tt := range tests {
		attempts := 0
		err := e.app.Tx(ctx, func(tx pgx.Tx) error {
			attempts++
			if _, err := tx.Exec(ctx, `INSERT INTO runner_log (attempt) VALUES ($1)`, attempts); err != nil {
				return err
			}
			return tt.fn(tx)
		})
		if err == nil || attempts != 1 {
			t.Errorf("%s: Tx = %v after %d attempts, want an error after 1", tt.name, err, attempts)
		}
		if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
			t.Errorf("%s: Tx = %v, want %v", tt.name, err, tt.wantErr)
		}
		var pg *pgconn.PgError
		if tt.wantPG != "" && (!errors.As(err, &pg) || pg.Code != tt.wantPG) {
			t.Errorf("%s: Tx = %v, want SQLSTATE %s", tt.name, err, tt.wantPG)
		}
	}
	if got := e.loggedAttempts(t); len(got) != 0 {
		t.Errorf("failed transactions committed %d rows, want 0", len(got))
	}
}

func TestTxGivesUpAfterMaxRetries(t *testing.T) {
	t.Parallel()
	e := newRunnerEnv(t)
	e.app.MaxRetries = 3
	attempts := 0
	err := e.app.Tx(context.Background(), func(pgx.Tx) error {
		attempts++
		return &pgconn.PgError{Code: "40001", Message: "injected"}
	})
	if attempts != 4 {
		t.Errorf("attempts = %d, want 4 (one plus MaxRetries 3)", attempts)
	}
	if n := e.app.Retries(); n != 3 {
		t.Errorf("Retries() = %d, want 3 (every run after the first counts, for folio_tx_retries_total)", n)
	}
	if !schema.IsRetryable(err) {
		t.Errorf("Tx = %v, want the last serialization failure in its chain", err)
	}
}

func TestTxStopsWhenContextCanceled(t *testing.T) {
	t.Parallel()
	e := newRunnerEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	attempts := 0
	err := e.app.Tx(ctx, func(pgx.Tx) error {
		attempts++
		cancel()
		return &pgconn.PgError{Code: "40001", Message: "injected"}
	})
	if !errors.Is(err, context.Canceled) || attempts != 1 {
		t.Errorf("Tx = %v after %d attempts, want context.Canceled after 1", err, attempts)
	}
}

func TestTxIsolation(t *testing.T) {
	t.Parallel()
	e := newRunnerEnv(t)
	ctx := context.Background()
	show := func(tx pgx.Tx) (iso, readOnly string, err error) {
		if err := tx.QueryRow(ctx, `SHOW transaction_isolation`).Scan(&iso); err != nil {
			return "", "", err
		}
		err = tx.QueryRow(ctx, `SHOW transaction_read_only`).Scan(&readOnly)
		return iso, readOnly, err
	}
	tests := []struct {
		name         string
		run          func(context.Context, func(pgx.Tx) error) error
		wantReadOnly string
	}{
		{"Tx", e.app.Tx, "off"},
		{"ReadTx", e.app.ReadTx, "on"},
	}
	for _, tt := range tests {
		var iso, ro string
		err := tt.run(ctx, func(tx pgx.Tx) (err error) {
			iso, ro, err = show(tx)
			return err
		})
		if err != nil || iso != "serializable" || ro != tt.wantReadOnly {
			t.Errorf("%s: isolation %q, read-only %q, error %v; want serializable, %s, nil", tt.name, iso, ro, err, tt.wantReadOnly)
		}
	}

	attempts := 0
	err := e.app.ReadTx(ctx, func(tx pgx.Tx) error {
		attempts++
		_, err := tx.Exec(ctx, `UPDATE runner_counter SET n = n + 1`)
		return err
	})
	var pg *pgconn.PgError
	if !errors.As(err, &pg) || pg.Code != "25006" || attempts != 1 {
		t.Errorf("write in ReadTx = %v after %d attempts, want SQLSTATE 25006 (read_only_sql_transaction) after 1", err, attempts)
	}
}

// TestTxConcurrentIncrements runs read-modify-write increments of one row
// from two goroutines: SERIALIZABLE turns every lost update into a
// serialization failure, which the runner retries.
func TestTxConcurrentIncrements(t *testing.T) {
	t.Parallel()
	e := newRunnerEnv(t)
	ctx := context.Background()
	const workers, increments = 2, 200
	var wg sync.WaitGroup
	var mu sync.Mutex
	attempts := 0
	errs := make(chan error, workers)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range increments {
				err := e.app.Tx(ctx, func(tx pgx.Tx) error {
					mu.Lock()
					attempts++
					mu.Unlock()
					var n int64
					if err := tx.QueryRow(ctx, `SELECT n FROM runner_counter WHERE id = 1`).Scan(&n); err != nil {
						return err
					}
					_, err := tx.Exec(ctx, `UPDATE runner_counter SET n = $1 WHERE id = 1`, n+1)
					return err
				})
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("increment: %v", err)
	}
	var n int64
	if err := e.db.Admin.QueryRow(ctx, `SELECT n FROM runner_counter WHERE id = 1`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != workers*increments {
		t.Errorf("counter = %d, want %d", n, workers*increments)
	}
	t.Logf("%d increments took %d attempts", workers*increments, attempts)
}

// TestTxRetriesCommitFailure provokes a serialization failure at COMMIT with
// the classic write skew: two transactions each read both on-call rows and
// take a different one off call. PostgreSQL lets the first committer win and
// cancels the other while it commits ("Canceled on identification as a
// pivot, during commit attempt"). The runner must see that COMMIT error and
// retry; crdbpgx.ExecuteTx would drop it.
func TestTxRetriesCommitFailure(t *testing.T) {
	t.Parallel()
	e := newRunnerEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	wrote := make(chan struct{})     // the runner's first attempt has read and written
	committed := make(chan error, 1) // the rival transaction's outcome
	go func() {
		select {
		case <-wrote:
		case <-ctx.Done():
			committed <- ctx.Err()
			return
		}
		committed <- pgx.BeginTxFunc(ctx, e.db.Admin, pgx.TxOptions{IsoLevel: pgx.Serializable}, func(tx pgx.Tx) error {
			var n int
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM runner_on_call WHERE on_call`).Scan(&n); err != nil {
				return err
			}
			if n < 2 {
				return fmt.Errorf("rival sees %d on call, want 2", n)
			}
			_, err := tx.Exec(ctx, `UPDATE runner_on_call SET on_call = false WHERE id = 2`)
			return err
		})
	}()

	var results []error // what fn returned, per attempt
	var onCall []int    // what each attempt saw
	err := e.app.Tx(ctx, func(tx pgx.Tx) error {
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM runner_on_call WHERE on_call`).Scan(&n); err != nil {
			results = append(results, err)
			return err
		}
		onCall = append(onCall, n)
		if n >= 2 {
			if _, err := tx.Exec(ctx, `UPDATE runner_on_call SET on_call = false WHERE id = 1`); err != nil {
				results = append(results, err)
				return err
			}
		}
		if len(results) == 0 {
			close(wrote)
			if err := <-committed; err != nil {
				return fmt.Errorf("rival transaction: %w", err)
			}
		}
		results = append(results, nil)
		return nil
	})
	if err != nil {
		t.Fatalf("Tx = %v, want nil", err)
	}
	// Every attempt's fn returned nil, so the first attempt can only have
	// failed at COMMIT.
	if len(results) != 2 || results[0] != nil || results[1] != nil {
		t.Fatalf("fn results per attempt = %v, want [<nil> <nil>] (first attempt failing at COMMIT, then retried)", results)
	}
	if onCall[0] != 2 || onCall[1] != 1 {
		t.Errorf("on call seen per attempt = %v, want [2 1]", onCall)
	}
	var n int
	if err := e.db.Admin.QueryRow(ctx, `SELECT count(*) FROM runner_on_call WHERE on_call`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Errorf("on call after both transactions = %d, want 1 (write skew prevented)", n)
	}
}

// TestTxReturnsCommitError checks that a non-retryable error raised by
// COMMIT itself (here a deferred unique constraint) reaches the caller.
func TestTxReturnsCommitError(t *testing.T) {
	t.Parallel()
	e := newRunnerEnv(t)
	ctx := context.Background()
	for _, sql := range []string{
		`CREATE TABLE runner_deferred (k BIGINT, CONSTRAINT runner_deferred_k UNIQUE (k) DEFERRABLE INITIALLY DEFERRED)`,
		`GRANT SELECT, INSERT ON runner_deferred TO ` + schema.AppRole,
	} {
		if _, err := e.db.Admin.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	attempts := 0
	var fnErr error
	err := e.app.Tx(ctx, func(tx pgx.Tx) error {
		attempts++
		_, fnErr = tx.Exec(ctx, `INSERT INTO runner_deferred (k) VALUES (1), (1)`)
		return fnErr
	})
	if fnErr != nil {
		t.Fatalf("insert inside the transaction: %v (the constraint should only be checked at COMMIT)", fnErr)
	}
	if name, ok := schema.UniqueViolation(err); !ok || name != "runner_deferred_k" || attempts != 1 {
		t.Errorf("Tx = %v after %d attempts, want the COMMIT's unique violation of runner_deferred_k after 1", err, attempts)
	}
	var n int
	if err := e.db.Admin.QueryRow(ctx, `SELECT count(*) FROM runner_deferred`).Scan(&n); err != nil || n != 0 {
		t.Errorf("runner_deferred has %d rows (%v), want 0", n, err)
	}
}

func TestIsRetryable(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"plain", errors.New("40001"), false},
		{"serialization failure", &pgconn.PgError{Code: "40001"}, true},
		{"deadlock", &pgconn.PgError{Code: "40P01"}, true},
		{"wrapped", fmt.Errorf("post: %w", &pgconn.PgError{Code: "40001"}), true},
		{"wrapped twice", fmt.Errorf("a: %w", fmt.Errorf("b: %w", &pgconn.PgError{Code: "40P01"})), true},
		{"unique violation", &pgconn.PgError{Code: "23505"}, false},
		{"transaction rollback class, other code", &pgconn.PgError{Code: "40002"}, false},
		{"no rows", pgx.ErrNoRows, false},
		{"domain error", folio.Errorf(folio.ECONFLICT, "x"), false},
		{"context canceled", context.Canceled, false},
	}
	for _, tt := range tests {
		if got := schema.IsRetryable(tt.err); got != tt.want {
			t.Errorf("%s: IsRetryable(%v) = %v, want %v", tt.name, tt.err, got, tt.want)
		}
	}
}

func TestUniqueViolation(t *testing.T) {
	tests := []struct {
		name     string
		err      error
		wantName string
		wantOK   bool
	}{
		{"nil", nil, "", false},
		{"plain", errors.New("23505"), "", false},
		{"unique violation", &pgconn.PgError{Code: "23505", ConstraintName: "entries_idempotency_key"}, "entries_idempotency_key", true},
		{"wrapped", fmt.Errorf("insert: %w", &pgconn.PgError{Code: "23505", ConstraintName: "c"}), "c", true},
		{"foreign key violation", &pgconn.PgError{Code: "23503", ConstraintName: "fk"}, "", false},
		{"serialization failure", &pgconn.PgError{Code: "40001"}, "", false},
	}
	for _, tt := range tests {
		name, ok := schema.UniqueViolation(tt.err)
		if name != tt.wantName || ok != tt.wantOK {
			t.Errorf("%s: UniqueViolation(%v) = %q, %v, want %q, %v", tt.name, tt.err, name, ok, tt.wantName, tt.wantOK)
		}
	}

	// And the error the server really returns.
	t.Run("from PostgreSQL", func(t *testing.T) {
		t.Parallel()
		db := schematest.New(t, schema.Migrate)
		ctx := context.Background()
		insert := `INSERT INTO currencies (id, precision) VALUES ('USD', 2)`
		if _, err := db.Admin.Exec(ctx, insert); err != nil {
			t.Fatal(err)
		}
		_, err := db.Admin.Exec(ctx, insert)
		if name, ok := schema.UniqueViolation(err); !ok || name != "currencies_pkey" {
			t.Errorf("UniqueViolation(%v) = %q, %v, want currencies_pkey, true", err, name, ok)
		}
	})
}

// TestWriterTxPrioritizesStarvedWriter: a journal writer that lost
// StarvedAfter attempts runs its next attempt while no other writer's
// attempt is in flight, and the others carry on afterwards.
func TestWriterTxPrioritizesStarvedWriter(t *testing.T) {
	t.Parallel()
	e := newRunnerEnv(t)
	ctx := context.Background()

	var inFlight, done atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				err := e.app.WriterTx(ctx, func(tx pgx.Tx) error {
					inFlight.Add(1)
					defer inFlight.Add(-1)
					_, err := tx.Exec(ctx, `SELECT pg_sleep(0.002)`)
					return err
				})
				if err != nil {
					t.Errorf("busy writer: %v", err)
					return
				}
				done.Add(1)
			}
		})
	}
	t.Cleanup(func() { close(stop); wg.Wait() })

	attempts, beside := 0, int64(0)
	err := e.app.WriterTx(ctx, func(tx pgx.Tx) error {
		attempts++
		if attempts <= schema.StarvedAfter {
			if inFlight.Load() > 0 {
				beside++
			}
			return fmt.Errorf("attempt %d: %w", attempts, &pgconn.PgError{Code: "40001", Message: "injected"})
		}
		// The prioritized attempt: nobody else's attempt runs meanwhile.
		for range 20 {
			if n := inFlight.Load(); n != 0 {
				return folio.Errorf(folio.ECONFLICT, "%d other writer attempts in flight beside the prioritized one", n)
			}
			time.Sleep(time.Millisecond)
		}
		return nil
	})
	if err != nil || attempts != schema.StarvedAfter+1 {
		t.Fatalf("starved writer: %v after %d attempts, want nil after %d", err, attempts, schema.StarvedAfter+1)
	}
	if beside == 0 {
		t.Errorf("the losing attempts never ran beside another writer: the test did not exercise the gate")
	}
	if got := e.app.Prioritized(); got != 1 {
		t.Errorf("Prioritized() = %d, want 1", got)
	}
	// The others were held back, not stopped.
	before := done.Load()
	deadline := time.Now().Add(5 * time.Second)
	for done.Load() < before+10 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if done.Load() < before+10 {
		t.Errorf("busy writers committed %d transactions in 5 s after the prioritized one, want ≥ 10", done.Load()-before)
	}
}

// TestNewIDOnPostgres checks that on PostgreSQL the server's keys are
// version 7 UUIDs, increasing from one to the next (in both writer modes:
// the choice is by the database, not the mode), so new rows append at the
// right edge of their primary keys; and that NewID never waits for a
// connection: writers call it inside their transactions, and with every
// connection of the pool held by one it must still answer.
func TestNewIDOnPostgres(t *testing.T) {
	ctx := context.Background()
	e := newRunnerEnv(t)
	var held []*pgxpool.Conn
	for range e.app.Pool.Config().MaxConns {
		c, err := e.app.Pool.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
	}
	defer func() {
		for _, c := range held {
			c.Release()
		}
	}()
	for _, mode := range []string{schema.ModePostgres, schema.ModeCockroach} {
		e.app.Mode = mode
		prev := ""
		for range 10000 {
			id := e.app.NewID()
			u, err := uuid.Parse(id)
			if err != nil || u.Version() != 7 || id <= prev {
				t.Fatalf("%s mode: NewID = %s (version %d, %v) after %s; want a version 7 UUID greater than the last", mode, id, u.Version(), err, prev)
			}
			prev = id
		}
	}
	if u, err := uuid.Parse((&schema.DB{Pool: e.app.Pool}).NewID()); err != nil || u.Version() != 4 {
		t.Fatalf("NewID of a DB whose dialect is unknown = version %d, %v; want a random (version 4) UUID", u.Version(), err)
	}
}

// TestOpenTunesPlanner checks random_page_cost and jit: PostgreSQL's
// defaults on a plain connection (the test cluster, like the private one,
// sets nothing), RandomPageCost and JIT on the connections of a pool made
// by Open, and the operator's values once they are set for the database.
func TestOpenTunesPlanner(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := schematest.New(t, schema.Migrate)
	db.PostgresOnly(t, "a planner setting; on CockroachDB Open sets nothing")
	show := func(q schema.Querier) string {
		t.Helper()
		var v string
		if err := q.QueryRow(ctx, `SELECT current_setting('random_page_cost') || ' ' || current_setting('jit')`).Scan(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	opened := func() string {
		t.Helper()
		app, err := schema.Open(ctx, db.URL, schema.OpenOptions{Role: schema.AppRole})
		if err != nil {
			t.Fatal(err)
		}
		defer app.Close()
		return show(app.Pool)
	}
	if got := show(db.Admin); got != "4 on" {
		t.Errorf("random_page_cost and jit on a plain connection = %s, want PostgreSQL's defaults 4 on", got)
	}
	if got, want := opened(), schema.RandomPageCost+" "+schema.JIT; got != want {
		t.Errorf("random_page_cost and jit on Open's connections = %s, want %s", got, want)
	}
	for _, set := range []string{`SET random_page_cost = 2.5`, `SET jit = on`} {
		if _, err := db.Admin.Exec(ctx, `ALTER DATABASE `+pgx.Identifier{db.Name}.Sanitize()+` `+set); err != nil {
			t.Fatal(err)
		}
	}
	if got := opened(); got != "2.5 on" {
		t.Errorf("random_page_cost and jit with the database's own settings = %s, want 2.5 on (kept)", got)
	}
}

// TestGroupWriterTxPlansGeneric: in the postgres mode a GroupWriterTx runs
// READ COMMITTED with plan_cache_mode force_generic_plan, for its own
// transaction only (the connection is back to the default afterwards) and
// commits what it writes; in the cockroach mode it is a WriterTx
// (SERIALIZABLE, the default plan mode).
func TestGroupWriterTxPlansGeneric(t *testing.T) {
	env := newRunnerEnv(t)
	env.db.PostgresOnly(t, "plan_cache_mode is PostgreSQL's")
	ctx := context.Background()
	one, err := schema.Open(ctx, env.db.URL, schema.OpenOptions{Role: schema.AppRole, MaxConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(one.Close)
	for i, c := range []struct{ mode, plans, iso string }{
		{schema.ModePostgres, "force_generic_plan", "read committed"},
		{schema.ModeCockroach, "auto", "serializable"},
	} {
		one.Mode = c.mode
		var plans, iso string
		err := one.GroupWriterTx(ctx, func(tx pgx.Tx) error {
			if err := tx.QueryRow(ctx, `SELECT current_setting('plan_cache_mode'), current_setting('transaction_isolation')`).Scan(&plans, &iso); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO runner_log (attempt) VALUES ($1)`, int64(100+i))
			return err
		})
		if err != nil || plans != c.plans || iso != c.iso {
			t.Fatalf("%s mode: plan_cache_mode %q, isolation %q, %v; want %q, %q", c.mode, plans, iso, err, c.plans, c.iso)
		}
		var after string
		if err := one.Pool.QueryRow(ctx, `SHOW plan_cache_mode`).Scan(&after); err != nil || after != "auto" {
			t.Fatalf("%s mode: the connection's plan_cache_mode after the transaction = %q, %v", c.mode, after, err)
		}
	}
	if got := env.loggedAttempts(t); fmt.Sprint(got) != "[100 101]" {
		t.Fatalf("committed rows %v, want [100 101]", got)
	}
}

// TestGroupWriterTxRetriesUniqueViolation: a group writer's transaction
// that fails on a unique key — a trade another writer committed after the
// group's booked ids were read, in this transaction or, with the
// ingester's overlap, in an earlier snapshot — runs again in both modes,
// and the new attempt commits.
func TestGroupWriterTxRetriesUniqueViolation(t *testing.T) {
	e := newRunnerEnv(t)
	ctx := context.Background()
	for _, sql := range []string{
		`CREATE TABLE runner_unique (k TEXT PRIMARY KEY)`,
		`GRANT SELECT, INSERT ON runner_unique TO ` + schema.AppRole,
		`INSERT INTO runner_unique (k) VALUES ('booked')`,
	} {
		if _, err := e.db.Admin.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	for _, mode := range []string{schema.ModePostgres, schema.ModeCockroach} {
		e.app.Mode = mode
		attempts := 0
		err := e.app.GroupWriterTx(ctx, func(tx pgx.Tx) error {
			attempts++
			k := "booked" // what a stale read did not see
			if attempts > 1 {
				k = mode // the retry reads again and writes what is new
			}
			_, err := tx.Exec(ctx, `INSERT INTO runner_unique (k) VALUES ($1)`, k)
			return err
		})
		if err != nil || attempts != 2 {
			t.Errorf("%s mode: GroupWriterTx = %v after %d attempts; want nil after 2", mode, err, attempts)
		}
	}
}

// IndexProbes turns hash and merge joins off for the rest of its
// transaction only, and the planner then probes the primary key of a table
// it would otherwise hash whole.
func TestIndexProbes(t *testing.T) {
	env := newRunnerEnv(t)
	ctx := context.Background()
	if _, err := env.db.Admin.Exec(ctx, `INSERT INTO runner_counter (id, n) SELECT g, g FROM generate_series(2, 20000) AS g`); err != nil {
		t.Fatal(err)
	}
	if _, err := env.db.Admin.Exec(ctx, `ANALYZE runner_counter`); err != nil {
		t.Fatal(err)
	}
	plan := func(tx pgx.Tx) string {
		t.Helper()
		ids := make([]int64, 3000)
		for i := range ids {
			ids[i] = int64(7*i + 2)
		}
		rows, err := tx.Query(ctx, `EXPLAIN UPDATE runner_counter AS c SET n = c.n + 1 FROM unnest($1::bigint[]) AS u(id) WHERE c.id = u.id`,
			schema.PlanEachTime, ids)
		if err != nil {
			t.Fatal(err)
		}
		lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		return strings.Join(lines, "\n")
	}
	var before, probed, after string
	var hash string
	if err := env.app.Tx(ctx, func(tx pgx.Tx) error {
		before = plan(tx)
		if err := env.app.IndexProbes(ctx, tx); err != nil {
			return err
		}
		probed = plan(tx)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := env.app.Tx(ctx, func(tx pgx.Tx) error {
		after = plan(tx)
		return tx.QueryRow(ctx, `SHOW enable_hashjoin`).Scan(&hash)
	}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(probed, "Nested Loop") || !strings.Contains(probed, "Index Scan") || strings.Contains(probed, "Hash Join") {
		t.Errorf("with IndexProbes the plan does not probe the key:\n%s", probed)
	}
	if hash != "on" || after != before {
		t.Errorf("the setting outlived its transaction: enable_hashjoin %s, plan\n%s\nthen\n%s", hash, before, after)
	}
	t.Logf("the planner's own plan:\n%s", before)
}
