package schematest_test

import (
	"context"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/folioledger/folio/schema"
	"github.com/folioledger/folio/schema/schematest"
)

func TestMain(m *testing.M) { os.Exit(schematest.Main(m)) }

var migrations atomic.Int64

func migrate(ctx context.Context, url string) error {
	migrations.Add(1)
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, "CREATE TABLE IF NOT EXISTS t (id BIGINT PRIMARY KEY)")
	return err
}

func count(t *testing.T, db *schematest.DB) int {
	t.Helper()
	var n int
	if err := db.Admin.QueryRow(context.Background(), "SELECT count(*) FROM t").Scan(&n); err != nil {
		t.Fatalf("count rows in %s: %v", db.Name, err)
	}
	return n
}

func insert(t *testing.T, db *schematest.DB, id int) {
	t.Helper()
	if _, err := db.Admin.Exec(context.Background(), "INSERT INTO t (id) VALUES ($1)", id); err != nil {
		t.Fatalf("insert into %s: %v", db.Name, err)
	}
}

func TestCloneHasMigratedTable(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	if n := count(t, db); n != 0 {
		t.Fatalf("fresh clone has %d rows, want 0", n)
	}
	insert(t, db, 1)
	if n := count(t, db); n != 1 {
		t.Fatalf("after insert: %d rows, want 1", n)
	}
	if !strings.HasPrefix(db.Name, "folio_t_") || !strings.Contains(db.URL, "/"+db.Name+"?") {
		t.Errorf("Name %q, URL %q: want a folio_t_ database named in the URL", db.Name, db.URL)
	}
}

func TestDatabasesAreSeparate(t *testing.T) {
	t.Parallel()
	a, b := newDB(t), newDB(t)
	if a.Name == b.Name {
		t.Fatalf("two New calls returned the same database %q", a.Name)
	}
	insert(t, a, 42)
	if n := count(t, b); n != 0 {
		t.Fatalf("row inserted in %s is visible in %s (%d rows)", a.Name, b.Name, n)
	}
	insert(t, b, 42)
	if n := count(t, a); n != 1 {
		t.Fatalf("%s has %d rows, want 1", a.Name, n)
	}
}

func TestCleanupDropsDatabase(t *testing.T) {
	t.Parallel()
	var name string
	t.Run("use", func(t *testing.T) { name = newDB(t).Name })

	ctx := context.Background()
	conn, err := pgx.Connect(ctx, schematest.AdminURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		t.Fatal(err)
	}
	if exists && os.Getenv("FOLIO_TEST_KEEP_DB") != "1" {
		t.Errorf("database %s still exists after its test's cleanup", name)
	}
}

// newDB wraps schematest.New and checks that, on PostgreSQL, the template was
// migrated exactly once however many databases the tests create.
func newDB(t *testing.T) *schematest.DB {
	t.Helper()
	db := schematest.New(t, migrate)
	crdb, err := schema.IsCockroach(context.Background(), db.Admin)
	if err != nil {
		t.Fatal(err)
	}
	if n := migrations.Load(); !crdb && n != 1 {
		t.Fatalf("migrate ran %d times, want once (for the template)", n)
	}
	return db
}

// The private cluster compares text byte by byte (collation C, see
// schema.Postgres initdb: locale-aware comparisons slowed every text index),
// keeping C.UTF-8's character classes; an external database
// (FOLIO_TEST_DATABASE_URL) keeps the collation it was created with.
func TestPrivateClusterCollationIsBytewise(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	var collate, ctype string
	if err := db.Admin.QueryRow(context.Background(),
		`SELECT datcollate, datctype FROM pg_database WHERE datname = current_database()`).Scan(&collate, &ctype); err != nil {
		t.Fatal(err)
	}
	if os.Getenv("FOLIO_TEST_DATABASE_URL") != "" {
		t.Logf("external database: collation %q, ctype %q", collate, ctype)
		return
	}
	if collate != "C" || (ctype != "C.UTF-8" && ctype != "C") {
		t.Errorf("private cluster: collation %q, ctype %q; want C and C.UTF-8", collate, ctype)
	}
}
