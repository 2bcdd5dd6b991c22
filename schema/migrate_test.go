package schema_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/folioledger/folio/schema"
	"github.com/folioledger/folio/schema/schematest"
)

func TestMain(m *testing.M) { os.Exit(schematest.Main(m)) }

var emptyDBs atomic.Int64

// emptyDatabase creates a brand-new database that no migration has touched
// (schematest.New hands out migrated clones) and returns its superuser URL.
// It is dropped when the test ends.
func emptyDatabase(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	adminURL := schematest.AdminURL(t)
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		t.Fatalf("connect to the test server: %v", err)
	}
	defer conn.Close(ctx)
	crdb, err := schema.IsCockroach(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("folio_empty_%d_%d", os.Getpid(), emptyDBs.Add(1))
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		if os.Getenv("FOLIO_TEST_KEEP_DB") == "1" {
			return
		}
		ctx := context.Background()
		conn, err := pgx.Connect(ctx, adminURL)
		if err != nil {
			t.Errorf("drop database %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		drop := "DROP DATABASE IF EXISTS " + pgx.Identifier{name}.Sanitize()
		if !crdb {
			drop += " WITH (FORCE)"
		}
		if _, err := conn.Exec(ctx, drop); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	u, err := url.Parse(adminURL)
	if err != nil {
		t.Fatalf("parse %s: %v", adminURL, err)
	}
	u.Path, u.RawPath = "/"+name, ""
	return u.String()
}

func connect(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

type appliedStep struct {
	Version, Step int64
	Name          string
	AppliedAt     time.Time
}

func applied(t *testing.T, q schema.Querier) []appliedStep {
	t.Helper()
	rows, err := q.Query(context.Background(), `SELECT version, step, name, applied_at FROM schema_migrations ORDER BY version, step`)
	if err != nil {
		t.Fatalf("read schema_migrations: %v", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[appliedStep])
	if err != nil {
		t.Fatalf("read schema_migrations: %v", err)
	}
	return out
}

func steps(t *testing.T) []schema.Step {
	t.Helper()
	s, err := schema.Steps()
	if err != nil {
		t.Fatalf("Steps: %v", err)
	}
	if len(s) == 0 {
		t.Fatal("Steps returned no migration step")
	}
	return s
}

// checkMigrated checks that every step is recorded exactly once, that the
// lock row is free and that nothing is pending.
func checkMigrated(t *testing.T, conn *pgx.Conn) []appliedStep {
	t.Helper()
	ctx := context.Background()
	want := steps(t)
	got := applied(t, conn)
	if len(got) != len(want) {
		t.Fatalf("schema_migrations has %d rows, want %d (one per step)", len(got), len(want))
	}
	for i, s := range want {
		if got[i].Version != s.Version || got[i].Step != s.Index || got[i].Name != s.Name {
			t.Errorf("schema_migrations row %d = %d/%d %s, want %d/%d %s", i, got[i].Version, got[i].Step, got[i].Name, s.Version, s.Index, s.Name)
		}
	}
	if n, err := schema.PendingSteps(ctx, conn); err != nil || n != 0 {
		t.Errorf("PendingSteps = %d, %v, want 0, nil", n, err)
	}
	var holder string
	var expires *time.Time
	if err := conn.QueryRow(ctx, `SELECT holder, expires_at FROM schema_lock WHERE id = 1`).Scan(&holder, &expires); err != nil {
		t.Fatalf("read schema_lock: %v", err)
	}
	if holder != "" || expires != nil {
		t.Errorf("schema_lock after Migrate = holder %q, expires %v, want released (\"\", NULL)", holder, expires)
	}
	return got
}

func TestMigrateIsIdempotent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := emptyDatabase(t)
	if err := schema.Migrate(ctx, url); err != nil {
		t.Fatalf("first Migrate: %v", err)
	}
	conn := connect(t, url)
	first := checkMigrated(t, conn)

	if err := schema.Migrate(ctx, url); err != nil {
		t.Fatalf("second Migrate: %v", err)
	}
	second := checkMigrated(t, conn)
	if !reflect.DeepEqual(first, second) {
		t.Errorf("second Migrate changed schema_migrations:\n got %v\nwant %v", second, first)
	}
	var codes int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM account_codes`).Scan(&codes); err != nil || codes != 32 {
		t.Errorf("account_codes after two runs: %d rows (%v), want the 32 built-in codes (14 of 001, 18 of 031)", codes, err)
	}
}

func TestMigrateConcurrent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := emptyDatabase(t)
	const migrators = 4
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make([]error, migrators)
	for i := range migrators {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[i] = schema.Migrate(ctx, url)
		}()
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Migrate #%d: %v", i, err)
		}
	}
	checkMigrated(t, connect(t, url))
}

// TestMigrateRerunsEveryStep forgets every recorded step, as if each had
// been interrupted between running and being recorded, and migrates again:
// every step must be idempotent and leave existing data alone.
func TestMigrateRerunsEveryStep(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := schematest.New(t, schema.Migrate)
	if _, err := db.Admin.Exec(ctx, `INSERT INTO currencies (id, precision) VALUES ('USDT', 6)`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Admin.Exec(ctx, `DELETE FROM schema_migrations`); err != nil {
		t.Fatal(err)
	}
	if n, err := schema.PendingSteps(ctx, db.Admin); err != nil || n != len(steps(t)) {
		t.Fatalf("PendingSteps after forgetting every step = %d, %v, want %d, nil", n, err, len(steps(t)))
	}
	if err := schema.Migrate(ctx, db.URL); err != nil {
		t.Fatalf("Migrate re-running every step: %v", err)
	}
	conn := connect(t, db.URL)
	checkMigrated(t, conn)
	var codes, currencies int
	if err := conn.QueryRow(ctx, `SELECT (SELECT count(*) FROM account_codes), (SELECT count(*) FROM currencies)`).Scan(&codes, &currencies); err != nil {
		t.Fatal(err)
	}
	if codes != 32 || currencies != 1 {
		t.Errorf("after re-running every step: %d account codes, %d currencies, want 32 (14 of 001, 18 of 031) and 1", codes, currencies)
	}
}

func TestPendingStepsZeroAfterMigrate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := schematest.New(t, schema.Migrate)
	app, err := schema.Open(ctx, db.URL, schema.OpenOptions{Role: schema.AppRole})
	if err != nil {
		t.Fatalf("open as %s: %v", schema.AppRole, err)
	}
	defer app.Close()
	for name, q := range map[string]schema.Querier{"superuser": db.Admin, schema.AppRole: app.Pool} {
		if n, err := schema.PendingSteps(ctx, q); err != nil || n != 0 {
			t.Errorf("PendingSteps as %s = %d, %v, want 0, nil", name, n, err)
		}
	}
}

func TestStepsOrdered(t *testing.T) {
	all := steps(t)
	for i, s := range all {
		if s.SQL == "" {
			t.Errorf("%s step %d is empty", s.Name, s.Index)
		}
		if i == 0 {
			if s.Index != 1 {
				t.Errorf("first step is %s step %d, want step 1", s.Name, s.Index)
			}
			continue
		}
		prev := all[i-1]
		switch {
		case s.Version < prev.Version:
			t.Errorf("%s (version %d) comes after %s (version %d)", s.Name, s.Version, prev.Name, prev.Version)
		case s.Version == prev.Version && s.Index != prev.Index+1:
			t.Errorf("%s step %d follows step %d", s.Name, s.Index, prev.Index)
		case s.Version > prev.Version && s.Index != 1:
			t.Errorf("%s starts at step %d, want 1", s.Name, s.Index)
		}
	}
}

func TestSplitStatements(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"empty", "", nil},
		{"blank lines", "\n\n  \n", nil},
		{"comments only", "-- one\n  -- two;\n", nil},
		{"one statement", "CREATE TABLE t (id BIGINT);\n", []string{"CREATE TABLE t (id BIGINT);"}},
		{"multi-line statement", "CREATE TABLE t (\n    id BIGINT\n);\n", []string{"CREATE TABLE t (\n    id BIGINT\n);"}},
		{"two statements", "SELECT 1;\nSELECT 2;\n", []string{"SELECT 1;", "SELECT 2;"}},
		{"comment lines dropped", "-- head\nSELECT 1;\n-- between;\nSELECT 2;", []string{"SELECT 1;", "SELECT 2;"}},
		{"comment inside a statement", "SELECT\n  -- the answer\n  42;\n", []string{"SELECT\n  42;"}},
		{"semicolon mid-line does not split", "SELECT ';' AS a, 1;\n", []string{"SELECT ';' AS a, 1;"}},
		{"semicolon followed by spaces", "SELECT 1;   \nSELECT 2;\t\n", []string{"SELECT 1;", "SELECT 2;"}},
		{"lone semicolon dropped", "SELECT 1;\n;\n", []string{"SELECT 1;"}},
		{"last statement without semicolon", "SELECT 1;\nSELECT 2", []string{"SELECT 1;", "SELECT 2"}},
		{"no newline at end", "SELECT 1;", []string{"SELECT 1;"}},
	}
	for _, tt := range tests {
		got := schema.SplitStatements(tt.in)
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: SplitStatements(%q) = %q, want %q", tt.name, tt.in, got, tt.want)
		}
	}
}

func TestAppRolePrivileges(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := schematest.New(t, schema.Migrate)

	var super, login bool
	err := db.Admin.QueryRow(ctx, `SELECT rolsuper, rolcanlogin FROM pg_catalog.pg_roles WHERE rolname = $1`, schema.AppRole).Scan(&super, &login)
	if errors.Is(err, pgx.ErrNoRows) {
		t.Fatalf("role %s does not exist after Migrate", schema.AppRole)
	}
	if err != nil {
		t.Fatal(err)
	}
	if super {
		t.Errorf("role %s is a superuser, want an ordinary role", schema.AppRole)
	}

	tests := []struct {
		table string
		priv  string
		want  bool
	}{
		{"entries", "SELECT", true},
		{"entries", "INSERT", true},
		{"entries", "UPDATE", false},
		{"entries", "DELETE", false},
		{"entries", "TRUNCATE", false},
		{"postings", "SELECT", true},
		{"postings", "INSERT", true},
		{"postings", "UPDATE", false},
		{"postings", "DELETE", false},
		{"postings", "TRUNCATE", false},
		{"audit_log", "SELECT", true},
		{"audit_log", "INSERT", true},
		{"audit_log", "UPDATE", false},
		{"audit_log", "DELETE", false},
		{"audit_log", "TRUNCATE", false},
		{"journal_shards", "UPDATE", true},
		{"currencies", "INSERT", true},
		// Working tables such as balances and account_codes are updatable
		// in some columns only: TestAppRoleGrants checks every table.
		{"schema_migrations", "SELECT", true},
		{"schema_migrations", "INSERT", false},
		{"schema_migrations", "DELETE", false},
		{"schema_lock", "UPDATE", false},
	}
	for _, tt := range tests {
		var got bool
		if err := db.Admin.QueryRow(ctx, `SELECT has_table_privilege($1, $2, $3)`, schema.AppRole, tt.table, tt.priv).Scan(&got); err != nil {
			t.Fatalf("has_table_privilege(%s, %s, %s): %v", schema.AppRole, tt.table, tt.priv, err)
		}
		if got != tt.want {
			t.Errorf("has_table_privilege(%s, %s, %s) = %v, want %v", schema.AppRole, tt.table, tt.priv, got, tt.want)
		}
	}

	// The grants hold for a server connected as a superuser that assumes the
	// role, as `folio serve` on the embedded database does.
	app, err := schema.Open(ctx, db.URL, schema.OpenOptions{Role: schema.AppRole})
	if err != nil {
		t.Fatalf("open as %s: %v", schema.AppRole, err)
	}
	defer app.Close()
	for _, tt := range []struct {
		sql        string
		wantDenied bool
	}{
		{`UPDATE entries SET description = 'x'`, true},
		{`DELETE FROM entries`, true},
		{`UPDATE postings SET amount = 1`, true},
		{`DELETE FROM postings`, true},
		{`UPDATE journal_shards SET seq = seq`, false}, // a working table
	} {
		_, err := app.Pool.Exec(ctx, tt.sql)
		var pg *pgconn.PgError
		denied := errors.As(err, &pg) && pg.Code == "42501"
		if denied != tt.wantDenied || (!tt.wantDenied && err != nil) {
			t.Errorf("%s as %s: error = %v, want denied (42501) = %v", tt.sql, schema.AppRole, err, tt.wantDenied)
		}
	}
}
