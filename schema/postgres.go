package schema

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/folioledger/folio/internal/sysmem"
)

// PostgresOptions configure a private cluster.
type PostgresOptions struct {
	// DataDir holds the cluster: DataDir/pgdata (the cluster itself),
	// DataDir/run (the Unix socket) and DataDir/postgres.log. It is created
	// if missing. When running as root the server runs as the postgres OS
	// user, so DataDir is chowned to postgres and every parent of DataDir
	// must be traversable by others (o+x); /root is not.
	DataDir string
	// Port is the TCP port on 127.0.0.1; 0 picks a free one at every start.
	Port int
	// Fast trades durability for speed (tests): fsync, synchronous_commit
	// and full_page_writes are turned off.
	Fast bool
	// Logf, when set, receives progress messages.
	Logf func(format string, args ...any)
}

// Postgres is a running private PostgreSQL cluster started by StartPostgres.
type Postgres struct {
	bin     string
	pgdata  string
	sockDir string
	logFile string
	port    int
	fast    bool
	asUser  *user.User // non-nil when commands run as the postgres OS user

	mu      sync.Mutex
	stopped bool
	pid     int // the postmaster's, read from postmaster.pid after each start
}

// FindPostgresBin returns the directory holding initdb and pg_ctl: the
// highest version under /usr/lib/postgresql/*/bin, else the directory of
// initdb on PATH.
func FindPostgresBin() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	version := func(dir string) float64 {
		v, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(dir)), 64)
		return v
	}
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	if p, err := exec.LookPath("initdb"); err == nil {
		dirs = append(dirs, filepath.Dir(p))
	}
	for _, dir := range dirs {
		if isExecutable(filepath.Join(dir, "initdb")) && isExecutable(filepath.Join(dir, "pg_ctl")) {
			return dir, nil
		}
	}
	return "", errors.New("PostgreSQL server binaries (initdb, pg_ctl) not found in /usr/lib/postgresql/*/bin or PATH; install them with `apt-get install -y postgresql`")
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// StartPostgres starts a private cluster in opts.DataDir, creating it with
// initdb unless DataDir/pgdata already holds one, and returns once the server
// accepts connections as the superuser "postgres" (trust authentication on
// 127.0.0.1 only). A server left running on the same data directory by an
// earlier process is stopped first. The caller must call Stop.
func StartPostgres(ctx context.Context, opts PostgresOptions) (*Postgres, error) {
	if opts.DataDir == "" {
		return nil, errors.New("postgres: DataDir is required")
	}
	logf := opts.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	bin, err := FindPostgresBin()
	if err != nil {
		return nil, err
	}
	dataDir, err := filepath.Abs(opts.DataDir)
	if err != nil {
		return nil, err
	}
	clusterDir, err := clusterLocation(dataDir, logf)
	if err != nil {
		return nil, err
	}
	p := &Postgres{
		bin:     bin,
		pgdata:  filepath.Join(clusterDir, "pgdata"),
		sockDir: filepath.Join(clusterDir, "run"),
		logFile: filepath.Join(clusterDir, "postgres.log"),
		fast:    opts.Fast,
	}
	if err := p.prepareDirs(clusterDir); err != nil {
		return nil, err
	}

	if _, err := os.Stat(filepath.Join(p.pgdata, "PG_VERSION")); err == nil {
		logf("postgres: reusing cluster in %s", p.pgdata)
		if err := p.stopStale(ctx, logf); err != nil {
			return nil, err
		}
	} else {
		logf("postgres: initdb %s", p.pgdata)
		if err := p.initdb(ctx); err != nil {
			return nil, err
		}
	}

	const attempts = 5
	for i := 1; ; i++ {
		p.port = opts.Port
		if p.port == 0 {
			if p.port, err = freePort(); err != nil {
				return nil, err
			}
		}
		logf("postgres: starting on 127.0.0.1:%d", p.port)
		err = p.start(ctx, opts.Fast)
		if err == nil {
			break
		}
		if opts.Port != 0 || i == attempts || !errors.Is(err, errPortInUse) {
			return nil, err
		}
	}
	if err := p.waitReady(ctx, 30*time.Second); err != nil {
		_ = p.Stop()
		return nil, err
	}
	p.pid = p.readPID()
	logf("postgres: ready at %s (%s)", p.URL("postgres"), p.TCPURL("postgres"))
	return p, nil
}

// Supervision timing (see Supervise).
const (
	superviseInterval = 100 * time.Millisecond
	restartMinDelay   = 100 * time.Millisecond
	restartMaxDelay   = 5 * time.Second
)

// Supervise keeps the server running until ctx is done or Stop is called.
// Every 100 ms it checks that the postmaster lives; once it has died
// (killed, crashed, stopped behind Folio's back) Supervise starts it again
// on the same data directory, port and settings, and PostgreSQL's crash
// recovery replays the WAL: every transaction whose COMMIT returned is
// there (on a Fast cluster, without fsync, only if the machine stayed up).
// A postmaster.pid left by the dead server is removed first when its pid
// is gone or no longer the server's. A start that fails — backends of the
// dead server still attached to its shared memory, the port taken — is
// retried after a delay that doubles from 100 ms to 5 s. Each death, failed
// attempt and restart is logged on log. Clients see connection-level
// failures (IsUnavailable) while the server is down, and pools reconnect
// by themselves once it is back.
func (p *Postgres) Supervise(ctx context.Context, log *slog.Logger) {
	t := time.NewTicker(superviseInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		p.mu.Lock()
		pid, stopped := p.pid, p.stopped
		p.mu.Unlock()
		if stopped {
			return
		}
		if processAlive(pid) {
			continue
		}
		if !p.restart(ctx, log, pid) {
			return
		}
	}
}

// restart starts the dead server again, retrying with backoff; it reports
// false when ctx is done or Stop was called first.
func (p *Postgres) restart(ctx context.Context, log *slog.Logger, pid int) bool {
	died := time.Now()
	log.Error("postgres died; restarting it", "pid", pid, "pgdata", p.pgdata)
	// Until its parent reaps it, the dead postmaster's pid still exists,
	// and the new one would take the socket's lock file for its own.
	for pid > 0 && syscall.Kill(pid, 0) == nil && time.Since(died) < restartMaxDelay {
		select {
		case <-ctx.Done():
			return false
		case <-time.After(20 * time.Millisecond):
		}
	}
	delay := restartMinDelay
	for attempt := 1; ; attempt++ {
		p.mu.Lock()
		if p.stopped {
			p.mu.Unlock()
			return false
		}
		err := p.stopStale(ctx, func(format string, args ...any) { log.Warn(fmt.Sprintf(format, args...)) })
		if err == nil {
			err = p.start(ctx, p.fast)
		}
		if err == nil {
			err = p.waitReady(ctx, 30*time.Second)
		}
		if err == nil {
			p.pid = p.readPID()
		}
		newPID := p.pid
		p.mu.Unlock()
		if err == nil {
			log.Warn("postgres restarted", "attempt", attempt, "pid", newPID, "down", time.Since(died).Round(time.Millisecond).String())
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		log.Error("postgres restart failed; retrying", "attempt", attempt, "retry_in", delay.String(), "err", err)
		select {
		case <-ctx.Done():
			return false
		case <-time.After(delay):
		}
		delay = min(2*delay, restartMaxDelay)
	}
}

// readPID returns the postmaster's pid from postmaster.pid, 0 if unreadable.
func (p *Postgres) readPID() int {
	data, err := os.ReadFile(filepath.Join(p.pgdata, "postmaster.pid"))
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(data), "\n", 2)[0]))
	return pid
}

// processAlive reports whether pid is a running process (not a zombie).
func processAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		if _, perr := os.Stat("/proc/self/stat"); perr == nil && errors.Is(err, fs.ErrNotExist) {
			return false
		}
		return syscall.Kill(pid, 0) == nil // no /proc
	}
	// pid (comm) state …: comm may hold spaces and parentheses.
	if i := bytes.LastIndexByte(stat, ')'); i >= 0 && i+2 < len(stat) {
		return stat[i+2] != 'Z' && stat[i+2] != 'X'
	}
	return true
}

// URL returns the superuser URL of database dbname on this cluster, over
// its Unix socket: a round trip through it costs the client and the server
// less CPU than one over TCP on 127.0.0.1, which loops every message
// through the network stack (the writer makes a few dozen a group; with
// small groups the socket gave ~8% more trades/s, README "Measured
// figures, dated"). When the socket's path is too long for a Unix socket
// address, the URL is TCP's (TCPURL).
func (p *Postgres) URL(dbname string) string {
	if len(p.socketPath()) >= maxSocketPath {
		return p.TCPURL(dbname)
	}
	return fmt.Sprintf("postgres://postgres@/%s?host=%s&port=%d&sslmode=disable", url.PathEscape(dbname), url.QueryEscape(p.sockDir), p.port)
}

// TCPURL returns the superuser URL of database dbname on this cluster over
// TCP on 127.0.0.1, for a client that cannot reach the socket.
func (p *Postgres) TCPURL(dbname string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", p.port, url.PathEscape(dbname))
}

// maxSocketPath is the room for a Unix socket's path in its address
// (sun_path: 108 bytes on Linux, with the terminating NUL).
const maxSocketPath = 107

// socketPath is the path of the cluster's Unix socket.
func (p *Postgres) socketPath() string {
	return filepath.Join(p.sockDir, fmt.Sprintf(".s.PGSQL.%d", p.port))
}

// Stop shuts the server down (pg_ctl stop -m fast) and waits for it to exit.
// A server that is already gone (even leaving its postmaster.pid behind)
// counts as stopped; calling Stop again is a
// no-op.
func (p *Postgres) Stop() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped {
		return nil
	}
	out, err := p.command(context.Background(), "pg_ctl", "stop", "-D", p.pgdata, "-m", "fast", "-w", "-t", pgctlWait).CombinedOutput()
	if err != nil && !bytes.Contains(out, []byte("Is server running?")) && !bytes.Contains(out, []byte("No such process")) {
		return p.failure("pg_ctl stop", out, err)
	}
	p.stopped = true
	return nil
}

// prepareDirs creates dataDir (0755) and the socket directory and, as root,
// hands both to the postgres OS user after checking it can reach them.
func (p *Postgres) prepareDirs(dataDir string) error {
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return err
	}
	if err := os.Chmod(dataDir, 0o755); err != nil {
		return err
	}
	if err := os.MkdirAll(p.sockDir, 0o755); err != nil {
		return err
	}
	if os.Geteuid() != 0 {
		return nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return fmt.Errorf("postgres: running as root, so the server must run as the postgres OS user, but: %w", err)
	}
	p.asUser = u
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	for dir := filepath.Dir(dataDir); ; dir = filepath.Dir(dir) {
		if !traversable(dir, uid, gid) {
			return fmt.Errorf("postgres: data dir %s is not reachable by the postgres OS user: %s is not traversable by others (needs o+x); choose a data dir outside it", dataDir, dir)
		}
		if dir == filepath.Dir(dir) {
			break
		}
	}
	for _, dir := range []string{dataDir, p.sockDir} {
		if err := os.Chown(dir, uid, gid); err != nil {
			return err
		}
	}
	if f, err := os.Stat(p.logFile); err == nil && f.Mode().IsRegular() {
		return os.Chown(p.logFile, uid, gid)
	}
	return nil
}

// RelocatedClustersDir holds the clusters of data dirs that the postgres OS
// user cannot reach (a checkout under /root, run as root).
const RelocatedClustersDir = "/var/lib/folio"

// clusterLocation returns where the cluster of dataDir lives: dataDir
// itself, or — when running as root and the postgres OS user cannot
// traverse dataDir's parents — RelocatedClustersDir/<hash of dataDir>, the
// same place at every start, recorded for humans in dataDir/CLUSTER.
func clusterLocation(dataDir string, logf func(string, ...any)) (string, error) {
	if os.Geteuid() != 0 {
		return dataDir, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return dataDir, nil // prepareDirs reports it
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	reachable := true
	for dir := filepath.Dir(dataDir); ; dir = filepath.Dir(dir) {
		if !traversable(dir, uid, gid) {
			reachable = false
			break
		}
		if dir == filepath.Dir(dir) {
			break
		}
	}
	if reachable {
		return dataDir, nil
	}
	h := sha256.Sum256([]byte(dataDir))
	cluster := filepath.Join(RelocatedClustersDir, hex.EncodeToString(h[:8]))
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return "", err
	}
	note := fmt.Sprintf("The PostgreSQL cluster of this data dir lives in %s:\nthe postgres OS user cannot reach %s.\n", cluster, dataDir)
	if err := os.WriteFile(filepath.Join(dataDir, "CLUSTER"), []byte(note), 0o644); err != nil {
		return "", err
	}
	if err := os.MkdirAll(RelocatedClustersDir, 0o755); err != nil {
		return "", err
	}
	logf("postgres: %s is not reachable by the postgres OS user; the cluster lives in %s", dataDir, cluster)
	return cluster, nil
}

func traversable(dir string, uid, gid int) bool {
	fi, err := os.Stat(dir)
	if err != nil {
		return false
	}
	mode := fi.Mode().Perm()
	st, ok := fi.Sys().(*syscall.Stat_t)
	switch {
	case mode&0o001 != 0:
		return true
	case ok && int(st.Uid) == uid:
		return mode&0o100 != 0
	case ok && int(st.Gid) == gid:
		return mode&0o010 != 0
	}
	return false
}

func (p *Postgres) initdb(ctx context.Context) error {
	args := []string{"-D", p.pgdata, "-U", "postgres", "--auth=trust", "-E", "UTF8"}
	// Text is compared byte by byte (collation C: the same order as
	// C.UTF-8's for UTF-8, and as Go's and CockroachDB's), which spares
	// every index on a text key a locale-aware comparison per step (the
	// measured difference is in README, "Measured figures, dated").
	out, err := p.command(ctx, "initdb", append(args, "--locale=C.UTF-8", "--lc-collate=C")...).CombinedOutput()
	if err != nil && bytes.Contains(bytes.ToLower(out), []byte("locale")) {
		_ = os.RemoveAll(p.pgdata)
		out, err = p.command(ctx, "initdb", append(args, "--no-locale")...).CombinedOutput()
	}
	if err == nil {
		return nil
	}
	if bytes.Contains(bytes.ToLower(out), []byte("permission denied")) {
		return fmt.Errorf("postgres: initdb %s: permission denied; the server runs as the postgres OS user when started as root, so it needs write access to the data dir and o+x on every parent directory: %w\n%s", p.pgdata, err, out)
	}
	return fmt.Errorf("postgres: initdb %s: %w\n%s", p.pgdata, err, out)
}

// stopStale stops a server still running on p.pgdata (left by a crashed
// process) and removes a postmaster.pid whose pid is gone or now belongs to
// another process (a postmaster's working directory is its data directory).
func (p *Postgres) stopStale(ctx context.Context, logf func(string, ...any)) error {
	pidFile := filepath.Join(p.pgdata, "postmaster.pid")
	data, err := os.ReadFile(pidFile)
	if err != nil {
		return nil
	}
	pid, err := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(data), "\n", 2)[0]))
	if err != nil || pid <= 0 {
		return nil
	}
	cwd, err := os.Readlink(fmt.Sprintf("/proc/%d/cwd", pid))
	if errors.Is(err, fs.ErrNotExist) || (err == nil && !samePath(cwd, p.pgdata)) {
		logf("postgres: removing stale %s (pid %d is not its server)", pidFile, pid)
		return os.Remove(pidFile)
	}
	if err != nil {
		return nil // not ours to inspect; postgres itself reports a conflict
	}
	logf("postgres: stopping server left running on %s (pid %d)", p.pgdata, pid)
	out, err := p.command(ctx, "pg_ctl", "stop", "-D", p.pgdata, "-m", "fast", "-w", "-t", pgctlWait).CombinedOutput()
	if err != nil {
		return p.failure("pg_ctl stop (stale server)", out, err)
	}
	return nil
}

func samePath(a, b string) bool {
	ra, errA := filepath.EvalSymlinks(a)
	rb, errB := filepath.EvalSymlinks(b)
	return errA == nil && errB == nil && ra == rb
}

var errPortInUse = errors.New("postgres: port already in use")

// pgctlWait is how long pg_ctl waits for a start (crash recovery included)
// or a fast stop (its shutdown checkpoint writes every dirty buffer), in
// seconds.
const pgctlWait = "600"

func (p *Postgres) start(ctx context.Context, fast bool) error {
	opts := []string{
		"-p", strconv.Itoa(p.port),
		"-c", "listen_addresses=127.0.0.1",
		"-k", shellQuote(p.sockDir),
		"-c", "max_connections=200",
		// random_page_cost is left at PostgreSQL's default: Open sets it
		// on the server's connections, on this cluster as on any other
		// (schema.RandomPageCost).
	}
	if fast {
		opts = append(opts, "-c", "shared_buffers=128MB", "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	} else {
		// A durable server (folio serve, folio bench): buffers for the
		// journal's hot index pages, and checkpoints far enough apart
		// that their full-page images do not dominate the WAL. With
		// PostgreSQL's defaults (128 MB, a checkpoint per GB of WAL) the
		// benchmark slowed as the journal grew (README, "Measured figures,
		// dated").
		opts = append(opts, "-c", "shared_buffers="+sharedBuffers(sysmem.Available()),
			"-c", "max_wal_size="+maxWALSize(freeDisk(p.pgdata)), "-c", "checkpoint_timeout=30min")
		// The full-page images that remain (the first change of a page
		// after each checkpoint) compressed: in a long run they grew to
		// ~30% of the WAL's bytes (README, "Measured figures, dated").
		opts = append(opts, "-c", "wal_compression="+p.walCompression(ctx))
	}
	offset := fileSize(p.logFile)
	// -t: after a crash the server replays the WAL since the last
	// checkpoint (up to max_wal_size) before it accepts connections; a
	// server that cannot start exits, which pg_ctl sees at once.
	cmd := p.command(ctx, "pg_ctl", "start", "-D", p.pgdata, "-l", p.logFile, "-w", "-t", pgctlWait,
		"-o", strings.Join(opts, " "))
	cmd.Env = serverEnv(os.Environ())
	out, err := cmd.CombinedOutput()
	if err == nil {
		return nil
	}
	if log := readFrom(p.logFile, offset); strings.Contains(log, "Address already in use") ||
		strings.Contains(log, "could not create any TCP/IP sockets") {
		return fmt.Errorf("%w (port %d): %w", errPortInUse, p.port, p.failure("pg_ctl start", out, err))
	}
	return p.failure("pg_ctl start", out, err)
}

// mallocTunables keep a backend's freed heap memory for its next statement
// (glibc's malloc; other C libraries ignore the variable). With glibc's
// defaults a backend gave the memory of each statement's executor back to
// the kernel and faulted it in again for the next: at 64 × 1 those page
// faults were ~4% of PostgreSQL's CPU, gone with these settings (perf, README
// "Measured figures, dated"). A backend keeps at most 64 MB it no longer
// uses; blocks of 8 MB and more are still mapped and unmapped each time.
const mallocTunables = "glibc.malloc.mmap_threshold=8388608:glibc.malloc.trim_threshold=67108864"

// serverEnv is the environment of the private cluster's server: env with
// mallocTunables, unless env sets GLIBC_TUNABLES itself.
func serverEnv(env []string) []string {
	for _, kv := range env {
		if strings.HasPrefix(kv, "GLIBC_TUNABLES=") {
			return env
		}
	}
	return append(env, "GLIBC_TUNABLES="+mallocTunables)
}

// waitReady polls until SELECT 1 succeeds or timeout passes.
func (p *Postgres) waitReady(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		err := ping(ctx, p.URL("postgres"))
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return p.failure("wait for server", nil, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func ping(ctx context.Context, url string) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	var one int
	return conn.QueryRow(ctx, "SELECT 1").Scan(&one)
}

// command runs a PostgreSQL binary, as the postgres OS user when we are root.
// walCompression is the best wal_compression the server binaries take:
// lz4 (cheap on CPU) when PostgreSQL was built with it, as Debian's is,
// else on (pglz, built into every version).
func (p *Postgres) walCompression(ctx context.Context) string {
	if err := p.command(ctx, "postgres", "-D", p.pgdata, "-C", "wal_compression", "-c", "wal_compression=lz4").Run(); err == nil {
		return "lz4"
	}
	return "on"
}

func (p *Postgres) command(ctx context.Context, name string, args ...string) *exec.Cmd {
	path := filepath.Join(p.bin, name)
	var cmd *exec.Cmd
	if p.asUser != nil {
		cmd = exec.CommandContext(ctx, "runuser", append([]string{"-u", p.asUser.Username, "--", path}, args...)...)
	} else {
		cmd = exec.CommandContext(ctx, path, args...)
	}
	cmd.Dir = filepath.Dir(p.pgdata)
	return cmd
}

// failure wraps err with the command output and the tail of the server log.
func (p *Postgres) failure(what string, out []byte, err error) error {
	msg := fmt.Sprintf("postgres: %s: %v", what, err)
	if s := strings.TrimSpace(string(out)); s != "" {
		msg += "\n" + s
	}
	if tail := logTail(p.logFile, 30); tail != "" {
		msg += fmt.Sprintf("\n--- last lines of %s ---\n%s", p.logFile, tail)
	}
	return errors.New(msg)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("postgres: find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// shellQuote quotes s for the shell pg_ctl starts postgres with.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

func readFrom(path string, offset int64) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return ""
	}
	b, _ := io.ReadAll(io.LimitReader(f, 1<<20))
	return string(b)
}

func logTail(path string, lines int) string {
	s := strings.TrimRight(readFrom(path, max(fileSize(path)-64<<10, 0)), "\n")
	all := strings.Split(s, "\n")
	return strings.Join(all[max(len(all)-lines, 0):], "\n")
}

// sharedBuffers is a quarter of the memory the process may use
// (sysmem.Available; 1 GB where that cannot be read), between 128 MB and
// 8 GB — PostgreSQL's own starting advice. The journal's hot set is the
// last leaf page of every account's and beneficiary's index range plus the
// random-key indexes; at 10M entries and 100k users it is several GB, and
// with 2 GB the backends evicted (and wrote) their own dirty pages.
func sharedBuffers(available int64) string {
	mb := int64(1024)
	if available > 0 {
		mb = available >> 20
	}
	return strconv.FormatInt(min(max(mb/4, 128), 8192), 10) + "MB"
}

// maxWALSize is an eighth of the free space of the cluster's file system,
// between 1 GB and 16 GB (4 GB where it cannot be read). A checkpoint
// starts once about half of it is written, and the first change of every
// page after a checkpoint writes the whole page to the WAL: the further
// apart checkpoints are, the fewer of those images a long run writes. The
// cost is crash recovery, which replays up to that much WAL (start waits
// for it).
func maxWALSize(free int64) string {
	if free <= 0 {
		return "4GB"
	}
	return strconv.FormatInt(min(max(free>>20/8, 1024), 16384), 10) + "MB"
}

// freeDisk is the space available to an unprivileged user on dir's file
// system in bytes (0 when it cannot be read).
func freeDisk(dir string) int64 {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0
	}
	return int64(st.Bavail) * st.Bsize
}
