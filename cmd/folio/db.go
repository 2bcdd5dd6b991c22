package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/folioledger/folio/schema"
)

// runMigrate applies pending migrations to --database-url, or to the private
// cluster in --data-dir (created if missing, and stopped again afterwards).
func runMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, _, err := parseArgs(command{name: "migrate", groups: flagsDB | flagsLog, quiet: true}, args, stderr)
	if err != nil {
		return err
	}
	log := newLogger(stderr, cfg.LogLevel)
	db, err := openDatabase(ctx, cfg, log, openOptions{Create: true, Migrate: true})
	if err != nil {
		return err
	}
	if err := db.Close(); err != nil {
		return err
	}
	steps, err := schema.Steps()
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "database is up to date (%d migration steps)\n", len(steps))
	return err
}

// embeddedDBName is the database Folio uses inside its private cluster.
const embeddedDBName = "folio"

// Files in the data dir besides the cluster's own (pgdata, run, postgres.log).
const (
	lockFile = "folio.lock" // flock held by the process that runs the cluster
	urlFile  = "folio.url"  // superuser URL of the running cluster, for other folio processes
)

// database is what a subcommand works on: an app-role pool on either an
// external database or the private cluster in the data dir.
type database struct {
	// URL is the superuser (migration) URL.
	URL string
	// App is the pool the server uses, as schema.AppRole.
	App *schema.DB
	// Embedded describes the private cluster, nil for an external database.
	Embedded *embedded
}

// embedded is a private cluster in a data dir. The process holding the data
// dir's lock owns the cluster: it started it and stops it. Other folio
// processes (folio keys while folio serve runs) attach to it through the
// URL the owner wrote and leave it running.
type embedded struct {
	DataDir string // absolute
	pg      *schema.Postgres
	lock    *os.File // held while we own the cluster
}

// openOptions say how a subcommand uses the database.
type openOptions struct {
	// Create allows creating a private cluster in an empty data dir
	// (serve, migrate). Other subcommands refuse, so that a mistyped
	// --data-dir is not silently a new, empty ledger.
	Create bool
	// Exclusive requires this process to run the private cluster itself
	// (serve): another folio process running it is an error, not a cluster
	// to attach to.
	Exclusive bool
	// Migrate applies pending migrations. The private cluster is always
	// migrated; an external database only when this is set. Without it, an
	// external database with pending steps is refused.
	Migrate bool
}

// openDatabase opens the database of cfg: cfg.DatabaseURL, or the private
// PostgreSQL cluster in cfg.DataDir (started if no other folio process runs
// it). The caller must Close it, which stops a cluster this call started.
func openDatabase(ctx context.Context, cfg Config, log *slog.Logger, opts openOptions) (_ *database, err error) {
	d := &database{URL: cfg.DatabaseURL}
	defer func() {
		if err != nil {
			if cerr := d.Close(); cerr != nil {
				log.Error("close database after failed open", "err", cerr)
			}
		}
	}()
	if d.URL == "" {
		if d.Embedded, d.URL, err = openEmbedded(ctx, cfg.DataDir, log, opts); err != nil {
			return nil, err
		}
	}
	if d.Embedded != nil || opts.Migrate {
		log.Info("migrating database")
		if err := schema.Migrate(ctx, d.URL); err != nil {
			return nil, err
		}
	}
	if d.App, err = schema.Open(ctx, d.URL, schema.OpenOptions{Role: schema.AppRole}); err != nil {
		return nil, fmt.Errorf("%w (the database user must be allowed to SET ROLE %s: a superuser, or GRANT %s TO the user)", err, schema.AppRole, schema.AppRole)
	}
	d.App.Mode = cfg.DBMode
	pending, err := schema.PendingSteps(ctx, d.App.Pool)
	if err != nil {
		var pg *pgconn.PgError
		if errors.As(err, &pg) && pg.Code == "42P01" { // undefined_table
			return nil, errors.New("the database has no Folio schema: run `folio migrate --database-url URL` first")
		}
		return nil, fmt.Errorf("read migration state: %w", err)
	}
	if pending > 0 {
		return nil, fmt.Errorf("the database schema is %d migration steps behind this binary: run `folio migrate` first", pending)
	}
	return d, nil
}

// Close closes the pool and, when this process started the private
// cluster, stops it.
func (d *database) Close() error {
	if d.App != nil {
		d.App.Close()
		d.App = nil
	}
	if d.Embedded != nil {
		err := d.Embedded.close()
		d.Embedded = nil
		return err
	}
	return nil
}

func (e *embedded) close() error {
	if e.lock == nil {
		return nil
	}
	var err error
	if e.pg != nil {
		os.Remove(filepath.Join(e.DataDir, urlFile))
		err = e.pg.Stop()
	}
	e.lock.Close() // releases the flock
	e.lock = nil
	return err
}

// openEmbedded starts, or attaches to, the private cluster in dataDir and
// returns the superuser URL of its folio database.
func openEmbedded(ctx context.Context, dataDir string, log *slog.Logger, opts openOptions) (*embedded, string, error) {
	dir, err := filepath.Abs(dataDir)
	if err != nil {
		return nil, "", err
	}
	e := &embedded{DataDir: dir}
	if _, err := os.Stat(filepath.Join(dir, "pgdata", "PG_VERSION")); err != nil {
		if !opts.Create {
			return nil, "", fmt.Errorf("no Folio database in %s: start it once with `folio serve` or `folio migrate`, or pass --database-url", dir)
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, "", err
		}
	}
	lock, err := os.OpenFile(filepath.Join(dir, lockFile), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, "", err
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lock.Close()
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, "", fmt.Errorf("lock %s: %w", lock.Name(), err)
		}
		if opts.Exclusive {
			return nil, "", fmt.Errorf("another folio process (folio serve?) is running the database in %s; stop it first, or give this one its own --data-dir", dir)
		}
		url, err := waitForURL(ctx, dir)
		if err != nil {
			return nil, "", err
		}
		log.Info("using the PostgreSQL run by another folio process", "data_dir", dir)
		return e, url, nil
	}
	e.lock = lock
	os.Remove(filepath.Join(dir, urlFile))

	e.pg, err = schema.StartPostgres(ctx, schema.PostgresOptions{
		DataDir: dir,
		Logf:    func(format string, args ...any) { log.Info(fmt.Sprintf(format, args...)) },
	})
	if err != nil {
		e.close()
		return nil, "", err
	}
	if err := createDatabase(ctx, e.pg.URL("postgres"), embeddedDBName); err != nil {
		e.close()
		return nil, "", err
	}
	url := e.pg.URL(embeddedDBName)
	if err := os.WriteFile(filepath.Join(dir, urlFile), []byte(url+"\n"), 0o600); err != nil {
		e.close()
		return nil, "", err
	}
	return e, url, nil
}

// waitForURL waits for the folio process that holds the data dir's lock to
// publish its cluster's URL (it may still be starting it).
func waitForURL(ctx context.Context, dir string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	for {
		b, err := os.ReadFile(filepath.Join(dir, urlFile))
		if err == nil && len(b) > 0 {
			return strings.TrimSpace(string(b)), nil
		}
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return "", err
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("another folio process holds %s but has not published its database URL: %w", filepath.Join(dir, lockFile), ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// createDatabase creates database name on the server at adminURL unless it
// exists.
func createDatabase(ctx context.Context, adminURL, name string) error {
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil {
		return err
	}
	if exists {
		return nil
	}
	_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	return err
}
