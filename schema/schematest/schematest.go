// Package schematest gives each test its own fresh, migrated database.
//
// By default the first New of a test process starts a private PostgreSQL
// cluster (schema.StartPostgres, Fast) in a temporary directory; Main stops
// it and removes the directory after the tests. When FOLIO_TEST_DATABASE_URL
// is set, that server is used instead; its user must be allowed to CREATE
// DATABASE. A test that cannot get its database fails; it is never skipped.
// FOLIO_TEST_KEEP_DB=1 keeps the databases (and the private cluster) for
// inspection. A private cluster left behind by a killed test process is
// stopped and removed by the next one; an interrupt (SIGINT, SIGTERM) stops
// it at once.
//
// Every package using New must run its tests through Main:
//
//	func TestMain(m *testing.M) { os.Exit(schematest.Main(m)) }
package schematest

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/folioledger/folio/schema"
)

// DB is one fresh database for one test.
type DB struct {
	URL   string        // admin (superuser) URL of this test's database
	Admin *pgxpool.Pool // superuser pool (for tampering / inspection in tests)
	Name  string
}

// PostgresOnly skips t, saying why, when the test server is CockroachDB
// (FOLIO_TEST_DATABASE_URL): for tests of what only PostgreSQL has, such as
// its planner's settings and EXPLAIN's output.
func (d *DB) PostgresOnly(t testing.TB, why string) {
	t.Helper()
	if srv.cockroach {
		t.Skipf("PostgreSQL only: %s", why)
	}
}

const (
	envURL    = "FOLIO_TEST_DATABASE_URL"
	envKeepDB = "FOLIO_TEST_KEEP_DB"
	dirPrefix = "folio-schematest-"
	ownerFile = "owner.pid"
	timeout   = 2 * time.Minute
)

var (
	mainRunning atomic.Bool
	counter     atomic.Int64

	serverOnce sync.Once
	srv        struct {
		adminURL  string           // superuser URL of the server's maintenance database
		pg        *schema.Postgres // nil when FOLIO_TEST_DATABASE_URL is used
		dir       string           // private cluster's temp dir
		cockroach bool
		err       error
	}

	// adminMu guards admin (a pgx.Conn is not safe for concurrent use) and
	// serializes CREATE DATABASE ... TEMPLATE, which fails while another
	// session is connected to the template.
	adminMu  sync.Mutex
	admin    *pgx.Conn
	template struct {
		name string // set once created; Main drops it
		err  error
	}
)

// New returns a fresh database for t: on PostgreSQL a clone of a template
// database that is created and migrated once per test process by calling
// migrate(ctx, url) (pass schema.Migrate); on CockroachDB, which has no
// templates, an empty database migrated by migrate. The database is dropped
// in t.Cleanup unless FOLIO_TEST_KEEP_DB=1, in which case its URL is logged.
func New(t testing.TB, migrate func(ctx context.Context, url string) error) *DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()

	adminURL := AdminURL(t)
	name := fmt.Sprintf("folio_t_%d_%d", os.Getpid(), counter.Add(1))
	if err := createDatabase(ctx, name, migrate); err != nil {
		t.Fatalf("schematest: create database %s: %v", name, err)
	}
	d := &DB{URL: withDatabase(adminURL, name), Name: name}
	if srv.cockroach {
		if err := migrate(ctx, d.URL); err != nil {
			dropDatabase(name)
			t.Fatalf("schematest: migrate %s: %v", name, err)
		}
	}
	pool, err := pgxpool.New(ctx, d.URL)
	if err == nil {
		err = pool.Ping(ctx)
	}
	if err != nil {
		dropDatabase(name)
		t.Fatalf("schematest: connect to %s: %v", name, err)
	}
	d.Admin = pool
	t.Cleanup(func() {
		d.Admin.Close()
		if os.Getenv(envKeepDB) == "1" {
			t.Logf("schematest: %s=1: keeping database %s", envKeepDB, d.URL)
			return
		}
		if err := dropDatabase(name); err != nil {
			t.Errorf("schematest: drop database %s: %v", name, err)
		}
	})
	return d
}

// AdminURL returns the superuser URL of the test server's maintenance
// database ("postgres" on the private cluster), starting the cluster if
// needed. It fails t if the server cannot be started or reached.
func AdminURL(t testing.TB) string {
	t.Helper()
	if !mainRunning.Load() {
		t.Fatal("schematest: the package's TestMain must run the tests through schematest.Main: func TestMain(m *testing.M) { os.Exit(schematest.Main(m)) }")
	}
	serverOnce.Do(startServer)
	if srv.err != nil {
		t.Fatalf("schematest: no test database server: %v", srv.err)
	}
	return srv.adminURL
}

// Main runs the tests and then drops the template database and stops the
// private cluster (if one was started), removing its directory. It returns
// m.Run's exit code, or 1 if the tests passed but the teardown failed. With
// FOLIO_TEST_KEEP_DB=1 the cluster is left running so kept databases stay
// reachable; how to stop it is printed.
func Main(m *testing.M) int {
	mainRunning.Store(true)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		if sig, ok := <-sigs; ok {
			fmt.Fprintf(os.Stderr, "schematest: %v: stopping the test database server\n", sig)
			teardown()
			os.Exit(1)
		}
	}()
	code := m.Run()
	signal.Stop(sigs)
	close(sigs)
	if err := teardown(); err != nil {
		fmt.Fprintf(os.Stderr, "schematest: teardown: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

var teardownOnce sync.Once

func teardown() (err error) {
	teardownOnce.Do(func() {
		keep := os.Getenv(envKeepDB) == "1"
		adminMu.Lock()
		if admin != nil {
			if template.name != "" && !keep {
				_, err = admin.Exec(context.Background(), "DROP DATABASE IF EXISTS "+ident(template.name))
			}
			admin.Close(context.Background())
			admin = nil
		}
		adminMu.Unlock()
		if srv.pg == nil {
			return
		}
		if keep {
			os.Remove(filepath.Join(srv.dir, ownerFile))
			fmt.Fprintf(os.Stderr, "schematest: %s=1: leaving PostgreSQL running at %s; stop it with `pg_ctl stop -D %s` (as the postgres OS user if root), then rm -rf %s\n",
				envKeepDB, srv.adminURL, filepath.Join(srv.dir, "pgdata"), srv.dir)
			return
		}
		if stopErr := srv.pg.Stop(); stopErr != nil {
			err = stopErr
			return
		}
		err = os.RemoveAll(srv.dir)
	})
	return err
}

func startServer() {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if u := os.Getenv(envURL); u != "" {
		srv.adminURL = u
	} else {
		srv.err = startCluster(ctx)
		if srv.err != nil {
			return
		}
	}
	adminMu.Lock()
	defer adminMu.Unlock()
	if srv.err = connectAdmin(ctx); srv.err != nil {
		return
	}
	srv.cockroach, srv.err = schema.IsCockroach(ctx, admin)
}

// startCluster starts the private cluster in a fresh directory under
// os.TempDir(), after removing the clusters of test processes that died
// without tearing down.
func startCluster(ctx context.Context) error {
	reapOrphans(ctx)
	dir, err := os.MkdirTemp("", dirPrefix)
	if err != nil {
		return err
	}
	srv.dir = dir
	if err := os.WriteFile(filepath.Join(dir, ownerFile), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		return err
	}
	pg, err := schema.StartPostgres(ctx, schema.PostgresOptions{DataDir: dir, Fast: true})
	if err != nil {
		os.RemoveAll(dir)
		return err
	}
	srv.pg = pg
	srv.adminURL = pg.URL("postgres")
	return nil
}

// reapOrphans stops and removes private clusters whose owning test process
// is gone (killed by a timeout or signal before Main could tear down). A
// cluster is claimed by renaming its directory, so that concurrent test
// processes do not reap the same one.
func reapOrphans(ctx context.Context) {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), dirPrefix+"*"))
	for _, dir := range dirs {
		if strings.Contains(filepath.Base(dir), ".") {
			continue // being reaped
		}
		b, err := os.ReadFile(filepath.Join(dir, ownerFile))
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || processAlive(pid) {
			continue
		}
		claimed := dir + ".reaping"
		if os.Rename(dir, claimed) != nil {
			continue
		}
		if _, err := os.Stat(filepath.Join(claimed, "pgdata", "postmaster.pid")); err == nil {
			// StartPostgres stops the server still running on the cluster.
			pg, err := schema.StartPostgres(ctx, schema.PostgresOptions{DataDir: claimed, Fast: true})
			if err != nil || pg.Stop() != nil {
				continue
			}
		}
		os.RemoveAll(claimed)
	}
}

// processAlive reports whether pid is a live process; a zombie, which the
// container's init may take a while to reap, counts as dead.
func processAlive(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		err := syscall.Kill(pid, 0)
		return err == nil || err == syscall.EPERM
	}
	i := bytes.LastIndexByte(stat, ')')
	return i < 0 || i+2 >= len(stat) || stat[i+2] != 'Z'
}

// connectAdmin (re)opens the admin connection; adminMu must be held.
func connectAdmin(ctx context.Context) error {
	if admin != nil && !admin.IsClosed() {
		return nil
	}
	conn, err := pgx.Connect(ctx, srv.adminURL)
	if err != nil {
		return err
	}
	admin = conn
	return nil
}

// createDatabase creates database name: empty on CockroachDB, else a clone
// of the template, which the first call creates with migrate.
func createDatabase(ctx context.Context, name string, migrate func(context.Context, string) error) error {
	adminMu.Lock()
	defer adminMu.Unlock()
	if err := connectAdmin(ctx); err != nil {
		return err
	}
	if srv.cockroach {
		_, err := admin.Exec(ctx, "CREATE DATABASE "+ident(name))
		return err
	}
	if template.name == "" && template.err == nil {
		template.err = createTemplate(ctx, fmt.Sprintf("folio_template_%d", os.Getpid()), migrate)
	}
	if template.err != nil {
		return fmt.Errorf("template database: %w", template.err)
	}
	_, err := admin.Exec(ctx, "CREATE DATABASE "+ident(name)+" TEMPLATE "+ident(template.name))
	return err
}

// createTemplate creates and migrates the template database and then
// disconnects everyone from it so that it can be cloned; adminMu must be
// held.
func createTemplate(ctx context.Context, name string, migrate func(context.Context, string) error) error {
	if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+ident(name)+" WITH (FORCE)"); err != nil {
		return err
	}
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+ident(name)); err != nil {
		return err
	}
	template.name = name
	if err := migrate(ctx, withDatabase(srv.adminURL, name)); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if _, err := admin.Exec(ctx, "ALTER DATABASE "+ident(name)+" WITH ALLOW_CONNECTIONS false"); err != nil {
		return err
	}
	_, err := admin.Exec(ctx,
		"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", name)
	return err
}

func dropDatabase(name string) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	adminMu.Lock()
	defer adminMu.Unlock()
	if err := connectAdmin(ctx); err != nil {
		return err
	}
	sql := "DROP DATABASE IF EXISTS " + ident(name)
	if !srv.cockroach {
		sql += " WITH (FORCE)"
	}
	_, err := admin.Exec(ctx, sql)
	return err
}

func withDatabase(rawURL, name string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return rawURL
	}
	u.Path = "/" + name
	u.RawPath = ""
	return u.String()
}

func ident(name string) string { return pgx.Identifier{name}.Sanitize() }
