package schema_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/folioledger/folio/schema"
)

// lockedBuffer collects log output from several goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// postmasterPID reads the pid of the cluster in dataDir from its
// postmaster.pid.
func postmasterPID(t *testing.T, dataDir string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dataDir, "pgdata", "postmaster.pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0]))
	if err != nil || pid <= 0 {
		t.Fatalf("postmaster.pid: %q", b)
	}
	return pid
}

// TestSuperviseRestarts kills a supervised cluster's postmaster with
// SIGKILL: Supervise restarts it (logged), a pool that held connections to
// the dead server works again, committed data is still there, and every
// error seen during the outage is a connection-level one.
func TestSuperviseRestarts(t *testing.T) {
	ctx := context.Background()
	// As root the server runs as the postgres OS user, which must reach
	// the data dir (t.TempDir is 0700).
	dataDir, err := os.MkdirTemp("", "folio-supervise-test-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dataDir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() || testing.Verbose() {
			b, _ := os.ReadFile(filepath.Join(dataDir, "postgres.log"))
			t.Logf("postgres.log:\n%s", b)
		}
		os.RemoveAll(dataDir)
	})
	pg, err := schema.StartPostgres(ctx, schema.PostgresOptions{DataDir: dataDir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := pg.Stop(); err != nil {
			t.Error(err)
		}
	})
	pool, err := pgxpool.New(ctx, pg.URL("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if _, err := pool.Exec(ctx, `CREATE TABLE kept (n int); INSERT INTO kept VALUES (42)`); err != nil {
		t.Fatal(err)
	}

	var logs lockedBuffer
	sctx, stop := context.WithCancel(ctx)
	supervised := make(chan struct{})
	go func() {
		defer close(supervised)
		pg.Supervise(sctx, slog.New(slog.NewTextHandler(&logs, nil)))
	}()
	defer func() { stop(); <-supervised }()

	pid := postmasterPID(t, dataDir)
	checkMallocTunables(t, pid)
	killed := time.Now()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// Backends of the dead postmaster may still answer for a moment:
	// wait for the supervisor to have noticed and restarted it.
	for !strings.Contains(logs.String(), "postgres restarted") {
		if time.Since(killed) > 30*time.Second {
			t.Fatalf("no restart 30 s after the kill; logs:\n%s", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	var n int
	for {
		qctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := pool.QueryRow(qctx, `SELECT n FROM kept`).Scan(&n)
		cancel()
		if err == nil {
			break
		}
		if !schema.IsUnavailable(err) {
			t.Errorf("during the outage: %v, which IsUnavailable does not recognise", err)
		}
		if time.Since(killed) > 30*time.Second {
			t.Fatalf("the database is still down 30 s after the kill: %v\nlogs:\n%s", err, logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("back %v after the kill; supervisor log:\n%s", time.Since(killed).Round(time.Millisecond), logs.String())
	if n != 42 {
		t.Errorf("kept = %d, want 42", n)
	}
	if newPID := postmasterPID(t, dataDir); newPID == pid {
		t.Errorf("postmaster pid is still %d: the server was not restarted", pid)
	} else {
		checkMallocTunables(t, newPID)
	}
	if l := logs.String(); !strings.Contains(l, "postgres died") || !strings.Contains(l, "postgres restarted") {
		t.Errorf("the restart was not logged:\n%s", l)
	}
}

// checkMallocTunables checks that the postmaster pid runs with the malloc
// settings the private cluster gives it (or with the GLIBC_TUNABLES of the
// test's own environment, which take their place). glibc splits the
// variable's value where it reads it, so /proc shows its settings as
// separate strings: each is looked for on its own.
func checkMallocTunables(t *testing.T, pid int) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "environ"))
	if err != nil {
		t.Fatalf("the postmaster's environment: %v", err)
	}
	want := schema.MallocTunables
	if v, ok := os.LookupEnv("GLIBC_TUNABLES"); ok {
		want = v
	}
	seen := map[string]bool{}
	for _, s := range strings.FieldsFunc(string(b), func(r rune) bool { return r == 0 || r == ':' }) {
		seen[s] = true
	}
	for i, setting := range strings.Split(want, ":") {
		if i == 0 {
			setting = "GLIBC_TUNABLES=" + setting
		}
		if !seen[setting] {
			t.Errorf("the postmaster (pid %d) runs without %s (GLIBC_TUNABLES=%s)", pid, setting, want)
		}
	}
}
