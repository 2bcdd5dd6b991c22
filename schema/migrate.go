package schema

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

//go:embed grants.sql
var grantsSQL string

// Step is one statement of a migration file.
type Step struct {
	Version int64
	Name    string // file name
	Index   int64  // 1-based position in the file
	SQL     string
}

var migrationName = regexp.MustCompile(`^([0-9]+)_[a-z0-9_]+(\.crdb)?\.sql$`)

// Steps returns every migration step of PostgreSQL in order (StepsFor).
func Steps() ([]Step, error) { return StepsFor(false) }

// StepsFor returns every migration step in order, for CockroachDB or for
// PostgreSQL. Files are named NNN_name.sql; each statement (ending in ';'
// at the end of a line) is one step, applied on its own and recorded in
// schema_migrations. A file NNN_name.crdb.sql is the CockroachDB overlay of
// NNN_name.sql: on CockroachDB it is applied instead (its hash-sharded
// indexes spread sequential keys over ranges; ALTER PRIMARY KEY where
// PostgreSQL drops and adds the constraint); on PostgreSQL it is ignored.
func StepsFor(cockroach bool) ([]Step, error) {
	files, err := fs.ReadDir(migrationFS, "migrations")
	if err != nil {
		return nil, err
	}
	names := map[string]bool{}
	for _, f := range files {
		names[f.Name()] = true
	}
	var steps []Step
	for _, f := range files {
		m := migrationName.FindStringSubmatch(f.Name())
		if m == nil {
			return nil, fmt.Errorf("migration file %q is not named NNN_name.sql or NNN_name.crdb.sql", f.Name())
		}
		overlay := m[2] != ""
		if overlay && !names[strings.TrimSuffix(f.Name(), ".crdb.sql")+".sql"] {
			return nil, fmt.Errorf("migration overlay %q has no base file", f.Name())
		}
		if overlay != cockroach && (overlay || names[strings.TrimSuffix(f.Name(), ".sql")+".crdb.sql"]) {
			continue // the other dialect's variant
		}
		version, _ := strconv.ParseInt(m[1], 10, 64)
		body, err := fs.ReadFile(migrationFS, "migrations/"+f.Name())
		if err != nil {
			return nil, err
		}
		for i, stmt := range SplitStatements(string(body)) {
			steps = append(steps, Step{Version: version, Name: f.Name(), Index: int64(i + 1), SQL: stmt})
		}
	}
	sort.SliceStable(steps, func(i, j int) bool { return steps[i].Version < steps[j].Version })
	return steps, nil
}

// SplitStatements splits SQL text into statements on ';' at the end of a
// line, dropping comment-only lines and empty statements.
func SplitStatements(sql string) []string {
	var out []string
	var cur strings.Builder
	for _, line := range strings.Split(sql, "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "--") {
			continue
		}
		cur.WriteString(line)
		cur.WriteByte('\n')
		if strings.HasSuffix(trimmed, ";") {
			if s := strings.TrimSpace(cur.String()); s != ";" {
				out = append(out, s)
			}
			cur.Reset()
		}
	}
	if s := strings.TrimSpace(cur.String()); s != "" {
		out = append(out, s)
	}
	return out
}

// Migrate brings the database at url up to date: it creates the app role if
// missing, takes the migration lock row (waiting up to five minutes for
// another migrator), applies every step not yet recorded in
// schema_migrations, and re-applies the grants. It is safe to run
// concurrently and repeatedly.
func Migrate(ctx context.Context, url string) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return fmt.Errorf("migrate: connect: %w", err)
	}
	defer conn.Close(context.Background())

	for _, stmt := range []string{
		`CREATE TABLE IF NOT EXISTS schema_lock (id BIGINT PRIMARY KEY, holder TEXT NOT NULL DEFAULT '', expires_at TIMESTAMPTZ)`,
		`INSERT INTO schema_lock (id, holder) VALUES (1, '') ON CONFLICT (id) DO NOTHING`,
		`CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT NOT NULL, step BIGINT NOT NULL, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now(), PRIMARY KEY (version, step))`,
	} {
		if _, err := conn.Exec(ctx, stmt); err != nil && !isDuplicate(err) {
			return fmt.Errorf("migrate: bootstrap: %w", err)
		}
	}
	if err := ensureRole(ctx, conn, AppRole); err != nil {
		return err
	}

	holder := fmt.Sprintf("%s-%d-%d", hostname(), os.Getpid(), time.Now().UnixNano())
	if err := acquireLock(ctx, conn, holder); err != nil {
		return err
	}
	defer func() {
		_, _ = conn.Exec(context.Background(), `UPDATE schema_lock SET holder = '', expires_at = NULL WHERE id = 1 AND holder = $1`, holder)
	}()

	cockroach, err := IsCockroach(ctx, conn)
	if err != nil {
		return fmt.Errorf("migrate: dialect: %w", err)
	}
	steps, err := StepsFor(cockroach)
	if err != nil {
		return err
	}
	applied, err := appliedSteps(ctx, conn)
	if err != nil {
		return err
	}
	for _, s := range steps {
		if applied[[2]int64{s.Version, s.Index}] {
			continue
		}
		if _, err := conn.Exec(ctx, s.SQL); err != nil {
			return fmt.Errorf("migrate: %s step %d: %w", s.Name, s.Index, err)
		}
		if _, err := conn.Exec(ctx, `INSERT INTO schema_migrations (version, step, name) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
			s.Version, s.Index, s.Name); err != nil {
			return fmt.Errorf("migrate: record %s step %d: %w", s.Name, s.Index, err)
		}
	}
	for _, stmt := range GrantStatements(cockroach) {
		if _, err := conn.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("migrate: grants: %w", err)
		}
	}
	return nil
}

// columnList is the column list of a column-level privilege in a GRANT.
var columnList = regexp.MustCompile(`\b(SELECT|INSERT|UPDATE|REFERENCES)\s*\([^)]*\)`)

// GrantStatements returns the statements of grants.sql for a database.
// CockroachDB has no column-level privileges (cockroachdb/cockroach#72766):
// there each "UPDATE (columns)" becomes a table-level UPDATE, so the app
// role may update every column of a working table, while history tables
// still get no UPDATE, DELETE or TRUNCATE at all.
func GrantStatements(cockroach bool) []string {
	stmts := SplitStatements(grantsSQL)
	if cockroach {
		for i, s := range stmts {
			stmts[i] = columnList.ReplaceAllString(s, "$1")
		}
	}
	return stmts
}

// PendingSteps returns how many migration steps are not yet applied; the
// readiness probe reports not ready while it is above zero.
func PendingSteps(ctx context.Context, q Querier) (int, error) {
	cockroach, err := IsCockroach(ctx, q)
	if err != nil {
		return 0, err
	}
	steps, err := StepsFor(cockroach)
	if err != nil {
		return 0, err
	}
	var n int
	if err := q.QueryRow(ctx, `SELECT count(*) FROM schema_migrations`).Scan(&n); err != nil {
		return 0, err
	}
	return len(steps) - n, nil
}

func appliedSteps(ctx context.Context, conn *pgx.Conn) (map[[2]int64]bool, error) {
	rows, err := conn.Query(ctx, `SELECT version, step FROM schema_migrations`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[[2]int64]bool{}
	for rows.Next() {
		var v, s int64
		if err := rows.Scan(&v, &s); err != nil {
			return nil, err
		}
		out[[2]int64{v, s}] = true
	}
	return out, rows.Err()
}

// acquireLock takes the migration lock row as a lease: a crashed migrator's
// lease expires after five minutes.
func acquireLock(ctx context.Context, conn *pgx.Conn, holder string) error {
	deadline := time.Now().Add(5 * time.Minute)
	for {
		tag, err := conn.Exec(ctx, `UPDATE schema_lock SET holder = $1, expires_at = now() + interval '5 minutes'
			WHERE id = 1 AND (holder = '' OR expires_at < now())`, holder)
		if err != nil && !IsRetryable(err) {
			return fmt.Errorf("migrate: lock: %w", err)
		}
		if err == nil && tag.RowsAffected() == 1 {
			return nil
		}
		if time.Now().After(deadline) {
			return errors.New("migrate: another migration holds the lock (schema_lock) for more than five minutes")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func ensureRole(ctx context.Context, conn *pgx.Conn, role string) error {
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = $1)`, role).Scan(&exists); err != nil {
		return fmt.Errorf("migrate: look up role: %w", err)
	}
	if exists {
		return nil
	}
	if _, err := conn.Exec(ctx, "CREATE ROLE "+pgx.Identifier{role}.Sanitize()); err != nil && !isDuplicate(err) {
		return fmt.Errorf("migrate: create role %s: %w", role, err)
	}
	return nil
}

// isDuplicate reports errors raised when two migrators race to create the
// same object (duplicate_object, unique_violation on the catalog).
func isDuplicate(err error) bool {
	var pg *pgconn.PgError
	return errors.As(err, &pg) && (pg.Code == "42710" || pg.Code == "23505" || pg.Code == "42P07")
}

func hostname() string {
	h, _ := os.Hostname()
	return h
}
