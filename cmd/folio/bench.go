package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"math"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/folioledger/folio/affiliate"
	"github.com/folioledger/folio/ledger"
	"github.com/folioledger/folio/schema"
	"github.com/folioledger/folio/seal"
)

// benchConfig is folio bench's configuration (docs/CONTRACT.md §8).
type benchConfig struct {
	URL      string        // database URL; empty: a fresh private PostgreSQL
	Trades   int           // trades to stream (with Duration: an upper bound)
	Users    int           // users in the referral forest
	Depth    int           // levels of each tree
	Clients  int           // concurrent HTTP clients
	Batch    int           // trades per request
	Duration time.Duration // stream for this long instead of Trades
	JSON     bool          // print one JSON object last
	FastDB   bool          // fsync off on the private PostgreSQL
	Serve    string        // the folio binary to run as the server
	Shards   int           // --journal-shards of the server (0: its default)
	DBMode   string        // --db-mode of the server ("": by the database)
	// SealInterval is the server's --seal-interval: it seals as in
	// production unless 0.
	SealInterval time.Duration
	// Via is the transport of a second stream measured after the HTTP one:
	// http (none), kafka or rabbitmq (bench_via.go).
	Via          string
	KafkaBrokers string // --via kafka: these brokers; empty: an in-process kfake cluster
	AMQPURL      string // --via rabbitmq: this broker; empty: a private node
	ingest       string // the server's --ingest URL
	// WALProfile asks for the WAL of the middle fifth of the stream by
	// relation (bench_wal.go).
	WALProfile bool
}

// benchReport is the outcome; its JSON keys are those of docs/CONTRACT.md §8.
type benchReport struct {
	Trades         int64   `json:"trades"`
	Seconds        float64 `json:"seconds"`
	TradesPerSec   float64 `json:"trades_per_sec"`
	EntriesPerSec  float64 `json:"entries_per_sec"`
	PostingsPerSec float64 `json:"postings_per_sec"`
	P50ms          float64 `json:"p50_ms"`
	P99ms          float64 `json:"p99_ms"`
	// The stream in windows of 250 ms (merged k at a time past 240 windows):
	// when the tail happens (bench_tail.go).
	LatencyWindows []latencyWindowReport `json:"latency_windows"`
	PeakRSSMB      float64               `json:"peak_rss_mb"`
	// RSS in the first and last fifth of the stream: flat memory means
	// these stay close over a long --duration run.
	RSSFirstFifthMB float64 `json:"rss_first_fifth_mb"`
	RSSLastFifthMB  float64 `json:"rss_last_fifth_mb"`
	// Trades per second in the first and last tenth of the stream, and the
	// journal's size at the end: how the cost of a trade grows with the
	// journal.
	TradesPerSecFirstTenth float64        `json:"trades_per_sec_first_tenth"`
	TradesPerSecLastTenth  float64        `json:"trades_per_sec_last_tenth"`
	JournalEntries         int64          `json:"journal_entries"`
	Verified               bool           `json:"verified"`
	Checks                 []string       `json:"checks"`
	Requests               int64          `json:"requests"`
	Rejected               int64          `json:"rejected"`
	Busy                   int64          `json:"busy_retries"`
	Config                 map[string]any `json:"config"`
	// The cost of a trade in the database, measured over the stream: WAL
	// bytes (pg_current_wal_lsn), WAL records (pg_stat_wal) and rows
	// inserted, updated or deleted (pg_stat_database) per trade.
	WALBytesPerTrade   float64 `json:"wal_bytes_per_trade"`
	WALRecordsPerTrade float64 `json:"wal_records_per_trade"`
	RowsPerTrade       float64 `json:"rows_per_trade"`
	// What makes a long run slower than a short one, over the same window:
	// full-page images in the WAL (the first change of a page after each
	// checkpoint), checkpoints, and buffers the server's backends had to
	// write themselves to make room (shared_buffers smaller than what the
	// trades touch). -1 where the database does not report them.
	WALFPIPerTrade        float64 `json:"wal_fpi_per_trade"`
	Checkpoints           int64   `json:"checkpoints"`
	BackendWritesPerTrade float64 `json:"backend_buffer_writes_per_trade"`
	// WALByRelation is --wal-profile's breakdown (bench_wal.go).
	WALByRelation []walRelation `json:"wal_by_relation,omitempty"`
	// The private cluster's settings that size the above (empty with --url).
	DBSettings map[string]string `json:"db_settings,omitempty"`
	// CPU time per trade over the same window (bench_cpu.go): the server,
	// the database (0 when it is not on this machine) and the bench's own
	// clients. Unlike trades/s, it barely moves with the machine's load.
	CPUServerUSPerTrade   float64 `json:"cpu_server_us_per_trade"`
	CPUDatabaseUSPerTrade float64 `json:"cpu_database_us_per_trade"`
	CPUBenchUSPerTrade    float64 `json:"cpu_bench_us_per_trade"`
	// The journal's shard count and writer mode, and how many journal
	// batches needed more than one shard (of all batches).
	Shards            int    `json:"journal_shards"`
	DBMode            string `json:"db_mode"`
	Batches           int64  `json:"journal_batches"`
	MultiShardBatches int64  `json:"multi_shard_batches"`
	// TxRetries is the server's whole-transaction retries since it started
	// (folio_tx_retries_total): serialization failures between writers,
	// the folder and the sealer.
	TxRetries int64 `json:"tx_retries"`
	// FoldFromMemory is the share of the accruals folded into the
	// statistics by the end of the stream that the folder took from the
	// trade writer's memory instead of reading them back
	// (folio_stats_folded_accruals_total, affiliate/foldmem.go).
	FoldFromMemory float64 `json:"fold_from_memory"`
	// PreparedAhead is the share of the shard writers' group transactions
	// written as prepared ahead, in a snapshot taken while the previous
	// group was being written (serve --overlap;
	// folio_ingest_trade_groups_total); the others were prepared in their
	// write transaction.
	PreparedAhead float64 `json:"prepared_ahead"`
	// --via kafka|rabbitmq: the transport, and the same number of trades
	// published to the bus in messages of --batch trades, from the first
	// publish until the last is booked.
	Via             string  `json:"via"`
	BusTrades       int64   `json:"bus_trades,omitempty"`
	BusSeconds      float64 `json:"bus_seconds,omitempty"`
	BusTradesPerSec float64 `json:"bus_trades_per_sec,omitempty"`
}

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	bc := benchConfig{Trades: 300000, Users: 100000, Depth: 5, Clients: 8, Batch: 500}
	_, rest, err := parseArgs(command{name: "bench", groups: flagsLog, quiet: true, flags: func(fs *flag.FlagSet) {
		fs.StringVar(&bc.URL, "url", "", "benchmark against this database (migrated by the server); empty: a fresh private PostgreSQL")
		fs.IntVar(&bc.Trades, "trades", bc.Trades, "trades to stream")
		fs.IntVar(&bc.Users, "users", bc.Users, "users in the referral forest")
		fs.IntVar(&bc.Depth, "depth", bc.Depth, "levels of each referral tree (≥ 1)")
		fs.IntVar(&bc.Clients, "clients", bc.Clients, "concurrent HTTP clients")
		fs.IntVar(&bc.Batch, "batch", bc.Batch, "trades per request (1–1000)")
		fs.DurationVar(&bc.Duration, "duration", 0, "stream for this long (trades then bounds nothing unless also given)")
		fs.BoolVar(&bc.JSON, "json", false, "print one JSON object with every figure as the last line")
		fs.BoolVar(&bc.FastDB, "fast-db", false, "run the private PostgreSQL with fsync off (not durable; for profiling the server)")
		fs.IntVar(&bc.Shards, "journal-shards", 0, "journal shards of the server's fresh database (0: its default)")
		fs.StringVar(&bc.DBMode, "db-mode", "", "the server's writer mode: postgres or cockroach (the CockroachDB path); empty: by the database")
		fs.DurationVar(&bc.SealInterval, "seal-interval", DefaultConfig().SealInterval, "the server's --seal-interval: it seals the journal as in production (its cost is in the figures); 0: no sealing")
		fs.StringVar(&bc.Via, "via", viaHTTP, "http, or kafka or rabbitmq: after the HTTP stream, publish as many trades to that bus (the server consumes it with --ingest) and report both figures")
		fs.StringVar(&bc.KafkaBrokers, "kafka-brokers", "", "--via kafka: these brokers (host:port,...); empty: an in-process Kafka cluster (kfake)")
		fs.StringVar(&bc.AMQPURL, "amqp-url", "", "--via rabbitmq: this broker (amqp://user:pass@host:port/vhost); empty: a private RabbitMQ node")
		fs.BoolVar(&bc.WALProfile, "wal-profile", false, "also report the WAL written from 40% to 60% of --trades by relation (pg_walinspect; needs a superuser connection, as on the private cluster)")
	}}, args, stderr)
	if err != nil {
		return err
	}
	if len(rest) > 0 || bc.Clients < 1 || bc.Batch < 1 || bc.Batch > 1000 || bc.Users < 2 || bc.Depth < 1 || (bc.Trades < 1 && bc.Duration <= 0) {
		return &exitError{code: exitFailure, err: errors.New("bench: need --clients ≥ 1, 1 ≤ --batch ≤ 1000, --users ≥ 2, --depth ≥ 1 and --trades or --duration")}
	}
	if bc.Via != viaHTTP && bc.Via != viaKafka && bc.Via != viaRabbitMQ {
		return &exitError{code: exitFailure, err: fmt.Errorf("bench: --via %q: want http, kafka or rabbitmq", bc.Via)}
	}
	if bc.Via != viaHTTP && bc.Duration > 0 {
		return &exitError{code: exitFailure, err: errors.New("bench: --via kafka|rabbitmq measures --trades, not --duration")}
	}
	if bc.WALProfile && bc.Duration > 0 {
		return &exitError{code: exitFailure, err: errors.New("bench: --wal-profile measures a window of --trades, not --duration")}
	}
	if bc.Duration > 0 && !flagGiven(args, "trades") {
		bc.Trades = math.MaxInt32
	}
	if bc.Serve, err = os.Executable(); err != nil {
		return err
	}
	rep, err := bench(ctx, bc, stderr)
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	printBench(stdout, bc, rep)
	if !rep.Verified {
		return &exitError{code: exitProblems, err: errors.New("bench: the books did not verify")}
	}
	return nil
}

func flagGiven(args []string, name string) bool {
	for _, a := range args {
		if a == "-"+name || a == "--"+name || strings.HasPrefix(a, "-"+name+"=") || strings.HasPrefix(a, "--"+name+"=") {
			return true
		}
	}
	return false
}

// bench runs one benchmark: database, server, forest, stream, checks.
func bench(ctx context.Context, bc benchConfig, progress io.Writer) (*benchReport, error) {
	url := bc.URL
	if url == "" {
		dir, err := os.MkdirTemp("", "folio-bench-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		if err := os.Chmod(dir, 0o755); err != nil {
			return nil, err
		}
		fmt.Fprintf(progress, "starting a private PostgreSQL in %s\n", dir)
		pg, err := schema.StartPostgres(ctx, schema.PostgresOptions{DataDir: dir, Fast: bc.FastDB})
		if err != nil {
			return nil, err
		}
		defer pg.Stop()
		conn, err := pgx.Connect(ctx, pg.URL("postgres"))
		if err != nil {
			return nil, err
		}
		_, err = conn.Exec(ctx, `CREATE DATABASE folio_bench`)
		conn.Close(ctx)
		if err != nil {
			return nil, err
		}
		url = pg.URL("folio_bench")
	}
	var bus *benchBus
	if bc.Via != viaHTTP {
		var err error
		if bus, err = startBenchBus(bc, progress); err != nil {
			return nil, err
		}
		defer bus.stop()
		bc.ingest = bus.ingest
	}
	srv, err := startBenchServer(ctx, bc.Serve, url, bc)
	if err != nil {
		return nil, err
	}
	defer srv.stop()
	db, err := schema.Open(ctx, url, schema.OpenOptions{})
	if err != nil {
		return nil, err
	}
	defer db.Close()

	c := &benchClient{base: srv.base, key: srv.key, http: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: bc.Clients + 4}, Timeout: 2 * time.Minute}}
	fmt.Fprintf(progress, "building a referral forest of %d users, %d levels deep\n", bc.Users, bc.Depth)
	users, err := buildForest(ctx, c, db, bc)
	if err != nil {
		return nil, err
	}
	var entries0, postings0 int64
	if entries0, postings0, err = ledger.Counts(ctx, db.Pool); err != nil {
		return nil, err
	}
	rep := &benchReport{Via: bc.Via, Config: map[string]any{"trades": bc.Trades, "users": bc.Users, "depth": bc.Depth, "clients": bc.Clients, "batch": bc.Batch,
		"duration": bc.Duration.String(), "database": map[bool]string{true: "private PostgreSQL", false: "--url"}[bc.URL == ""], "fast_db": bc.FastDB,
		"seal_interval": bc.SealInterval.String()}}
	cost0, err := readDBCost(ctx, db)
	if err != nil {
		return nil, err
	}
	postmaster := localPostmaster(ctx, db)
	cpu0 := readCPU(srv.cmd.Process.Pid, postmaster)
	start := time.Now()
	var wal *walProfile
	if bc.WALProfile {
		wal = &walProfile{db: db, total: int64(bc.Trades)}
	}
	lat, progressed, err := stream(ctx, c, bc, users, rep, srv, progress, wal)
	if err != nil {
		return nil, err
	}
	elapsed := time.Since(start)
	cost1, err := settledDBCost(ctx, db)
	if err != nil {
		return nil, err
	}
	rep.cpuPerTrade(cpu0, readCPU(srv.cmd.Process.Pid, postmaster))
	if rep.Trades > 0 {
		n := float64(rep.Trades)
		rep.WALBytesPerTrade = float64(cost1.walBytes-cost0.walBytes) / n
		rep.WALRecordsPerTrade = float64(cost1.walRecords-cost0.walRecords) / n
		rep.RowsPerTrade = float64(cost1.rows-cost0.rows) / n
		rep.WALFPIPerTrade = float64(cost1.walFPI-cost0.walFPI) / n
		rep.Checkpoints, rep.BackendWritesPerTrade = -1, -1
		if cost0.checkpoints >= 0 && cost1.checkpoints >= 0 {
			rep.Checkpoints = cost1.checkpoints - cost0.checkpoints
			rep.BackendWritesPerTrade = float64(cost1.backendWrites-cost0.backendWrites) / n
		}
	}
	if wal != nil {
		if rep.WALByRelation, err = wal.report(ctx); err != nil {
			return nil, err
		}
	}
	if bc.URL == "" {
		rep.DBSettings = dbSettings(ctx, db, "shared_buffers", "max_wal_size", "checkpoint_timeout", "wal_compression", "fsync")
	}
	heads, err := ledger.Heads(ctx, db.Pool)
	if err != nil {
		return nil, err
	}
	for _, h := range heads {
		if h.Active {
			rep.Shards++
		}
	}
	rep.DBMode = bc.DBMode
	if rep.DBMode == "" {
		rep.DBMode = db.WriterMode(ctx)
	}
	m := c.serverMetrics(ctx)
	rep.Batches, rep.MultiShardBatches, rep.TxRetries = int64(m["folio_journal_batches_total"]), int64(m["folio_journal_multi_shard_batches_total"]),
		int64(m["folio_tx_retries_total"])
	fromMemory, fromDB := m[`folio_stats_folded_accruals_total{source="memory"}`], m[`folio_stats_folded_accruals_total{source="database"}`]
	if fromMemory+fromDB > 0 {
		rep.FoldFromMemory = fromMemory / (fromMemory + fromDB)
	}
	ahead := m[`folio_ingest_trade_groups_total{prepared="ahead"}`]
	if all := ahead + m[`folio_ingest_trade_groups_total{prepared="again"}`] + m[`folio_ingest_trade_groups_total{prepared="in_tx"}`]; all > 0 {
		rep.PreparedAhead = ahead / all
	}
	var entries1, postings1 int64
	if entries1, postings1, err = ledger.Counts(ctx, db.Pool); err != nil {
		return nil, err
	}
	rep.Seconds = elapsed.Seconds()
	rep.TradesPerSec = float64(rep.Trades) / rep.Seconds
	rep.EntriesPerSec = float64(entries1-entries0) / rep.Seconds
	rep.PostingsPerSec = float64(postings1-postings0) / rep.Seconds
	rep.P50ms, rep.P99ms = lat.quantile(0.50), lat.quantile(0.99)
	rep.PeakRSSMB = srv.peakRSSMB()
	// Memory flatness: the largest resident set in the first and in the
	// last fifth of the stream.
	fifth := elapsed / 5
	rep.RSSFirstFifthMB = srv.rssWindowMB(start, start.Add(fifth))
	rep.RSSLastFifthMB = srv.rssWindowMB(start.Add(elapsed-fifth), start.Add(elapsed+time.Second))
	rep.TradesPerSecFirstTenth, rep.TradesPerSecLastTenth = progressed.rate(0, 0.1), progressed.rate(0.9, 1)
	rep.JournalEntries = entries1
	if bus != nil {
		if err := streamBus(ctx, bus, srv, bc, users, rep, progress); err != nil {
			return nil, err
		}
	}
	fmt.Fprintf(progress, "verifying the books\n")
	rep.Verified, rep.Checks = verifyBench(ctx, c, db, start)
	return rep, nil
}

// benchServer is a `folio serve` child process.
type benchServer struct {
	cmd    *exec.Cmd
	base   string
	key    string
	keyDir string       // the server's checkpoint key (it seals as in production)
	peak   atomic.Int64 // KiB, sampled
	done   chan struct{}

	mu      sync.Mutex
	samples []rssSample // resident set every 200 ms
}

type rssSample struct {
	at time.Time
	kb int64
}

// rssWindowMB returns the largest resident set sampled in [from, to).
func (s *benchServer) rssWindowMB(from, to time.Time) float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var kb int64
	for _, x := range s.samples {
		if !x.at.Before(from) && x.at.Before(to) && x.kb > kb {
			kb = x.kb
		}
	}
	return float64(kb) / 1024
}

func startBenchServer(ctx context.Context, bin, url string, bc benchConfig) (*benchServer, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := l.Addr().String()
	l.Close()
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	s := &benchServer{base: "http://" + addr, key: "bench_" + hex.EncodeToString(b), done: make(chan struct{})}
	// The server seals every few seconds as in production, signing with a
	// key of its own (not one in the working directory's data dir).
	if s.keyDir, err = os.MkdirTemp("", "folio-bench-key-"); err != nil {
		return nil, err
	}
	args := []string{"serve", "--database-url", url, "--migrate", "--listen", addr, "--admin-key", s.key, "--log-level", "warn",
		"--checkpoint-key", filepath.Join(s.keyDir, "checkpoint.key"), "--seal-interval", bc.SealInterval.String()}
	if bc.Shards > 0 {
		args = append(args, "--journal-shards", strconv.Itoa(bc.Shards))
	}
	if bc.DBMode != "" {
		args = append(args, "--db-mode", bc.DBMode)
	}
	if bc.ingest != "" {
		args = append(args, "--ingest", bc.ingest)
	}
	s.cmd = exec.CommandContext(ctx, bin, args...)
	s.cmd.Stdout, s.cmd.Stderr = io.Discard, os.Stderr
	s.cmd.Env = append(os.Environ(), "FOLIO_DATA_DIR=")
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(s.base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			s.stop()
			return nil, errors.New("the server did not become ready within 60 s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	go func() {
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-s.done:
				return
			case <-t.C:
				if kb := rssHWM(s.cmd.Process.Pid); kb > s.peak.Load() {
					s.peak.Store(kb)
				}
				s.mu.Lock()
				s.samples = append(s.samples, rssSample{time.Now(), procStatusKB(s.cmd.Process.Pid, "VmRSS:")})
				s.mu.Unlock()
			}
		}
	}()
	return s, nil
}

func (s *benchServer) stop() {
	select {
	case <-s.done:
		return
	default:
		close(s.done)
	}
	defer os.RemoveAll(s.keyDir)
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	waited := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(waited) }()
	select {
	case <-waited:
	case <-time.After(30 * time.Second):
		_ = s.cmd.Process.Kill()
	}
}

func (s *benchServer) peakRSSMB() float64 {
	if kb := rssHWM(s.cmd.Process.Pid); kb > s.peak.Load() {
		s.peak.Store(kb)
	}
	return float64(s.peak.Load()) / 1024
}

// rssHWM reads a process's peak resident set (VmHWM, KiB) from /proc.
func rssHWM(pid int) int64 { return procStatusKB(pid, "VmHWM:") }

// procStatusKB reads a KiB field of /proc/<pid>/status.
func procStatusKB(pid int, field string) int64 {
	f, err := os.Open(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), field); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return n
		}
	}
	return 0
}

// benchClient calls the API with the admin key.
type benchClient struct {
	base, key string
	http      *http.Client
}

func (c *benchClient) do(ctx context.Context, method, path string, body any, out any) (int, error) {
	var raw []byte
	if body != nil {
		var err error
		if raw, err = json.Marshal(body); err != nil {
			return 0, err
		}
	}
	code, data, err := c.send(ctx, method, path, raw)
	if err != nil || out == nil || code >= 300 {
		return code, err
	}
	return code, json.Unmarshal(data, out)
}

// send is do with the body already encoded (nil: none), returning the
// response body undecoded.
func (c *benchClient) send(ctx context.Context, method, path string, body []byte) (int, []byte, error) {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, r)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, nil, err
	}
	if resp.StatusCode >= 300 && resp.StatusCode != http.StatusServiceUnavailable {
		return resp.StatusCode, nil, fmt.Errorf("%s %s: HTTP %d: %s", method, path, resp.StatusCode, bytes.TrimSpace(data))
	}
	return resp.StatusCode, data, nil
}

// createdResult is how a booked trade's result reads in POST /v1/trades's
// answer (encoding/json's compact output): the stream counts them instead
// of decoding every answer, which cost the 64 × 1 stream a tenth of the
// machine's CPU with the server it measures.
var createdResult = []byte(`"status":"created"`)

// appendTrades appends to b the body of POST /v1/trades (and of a bus
// message) for trades lo..hi-1 of run runID: ids prefix<runID>-<i>, random
// traders of users, fees and volumes, alternating maker and taker, executed
// now. Built by hand rather than with encoding/json for the same reason.
func appendTrades(b []byte, prefix string, runID, lo, hi int64, users []string, rng *mrand.Rand) []byte {
	b = append(b, `{"trades":[`...)
	for i := lo; i < hi; i++ {
		if i > lo {
			b = append(b, ',')
		}
		b = fmt.Appendf(b, `{"id":"%s%d-%d","user_id":%q,"market":"BTCUSDT","liquidity":%q,"fee":{"amount":"%d.%06d","currency":"USDT"},"volume":{"amount":"%d","currency":"USDT"},"executed_at":"`,
			prefix, runID, i, users[rng.IntN(len(users))], []string{"maker", "taker"}[i%2], 1+rng.IntN(20), rng.IntN(1000000), 1000+rng.IntN(100000))
		b = time.Now().UTC().AppendFormat(b, time.RFC3339Nano)
		b = append(b, `"}`...)
	}
	return append(b, `]}`...)
}

// buildForest creates currencies and programs through the API and the users
// of the forest directly in the database (affiliate.InsertForestUsers, one
// multi-row insert per 10k users: creating 100k users request by request
// would measure signup, not trading). Trees are 4-ary and Depth levels deep; roots and their trees
// alternate between a levels program (the default), a differential program
// (root rate 0.50, 0.05 less per level, pass-down 0.10) and a kickback one.
func buildForest(ctx context.Context, c *benchClient, db *schema.DB, bc benchConfig) ([]string, error) {
	for _, cur := range []struct {
		id   string
		prec int
	}{{"USDT", 6}, {"USD", 2}} {
		if _, err := c.do(ctx, http.MethodPut, "/v1/currencies/"+cur.id, map[string]any{"precision": cur.prec}, nil); err != nil {
			return nil, err
		}
	}
	// The fees' rate to the reporting currency, in force before any trade:
	// priced accruals, as on an exchange that publishes its rates.
	if _, err := c.do(ctx, http.MethodPut, "/v1/rates/USDT/USD", map[string]any{"rate": "1", "at": "2020-01-01T00:00:00Z"}, nil); err != nil {
		return nil, err
	}
	levels := []string{"0.25", "0.10", "0.05", "0.03", "0.02"}
	if bc.Depth < len(levels) {
		levels = levels[:max(1, bc.Depth-1)]
	}
	for id, spec := range map[string]any{
		"broker":  map[string]any{"kind": "levels", "levels": levels, "default": true},
		"orderly": map[string]any{"kind": "differential", "min_pass_down": "0.10", "max_levels": 15},
		"binance": map[string]any{"kind": "kickback", "rate": "0.20"},
	} {
		if _, err := c.do(ctx, http.MethodPut, "/v1/programs/"+id, spec, nil); err != nil {
			return nil, err
		}
	}
	perTree := 0
	for l, w := 0, 1; l < bc.Depth; l, w = l+1, w*4 {
		perTree += w
	}
	ids := make([]string, bc.Users)
	refs := make([]*string, bc.Users)
	progs := make([]*string, bc.Users)
	rates := make([]*string, bc.Users)
	programs := []string{"", "orderly", "binance"}
	for i := range ids {
		tree, pos := i/perTree, i%perTree
		ids[i] = fmt.Sprintf("u%d", i)
		depth := 0
		for n, w := pos, 1; n >= w; n, w = n-w, w*4 {
			depth++
		}
		if pos > 0 {
			parent := tree*perTree + (pos-1)/4
			refs[i] = &ids[parent]
		}
		if p := programs[tree%3]; p != "" {
			progs[i] = &programs[tree%3]
		}
		if tree%3 == 1 {
			r := fmt.Sprintf("%.2f", max(0.10, 0.50-0.05*float64(depth)))
			rates[i] = &r
		}
	}
	now := time.Now().Add(-24 * time.Hour)
	for lo := 0; lo < len(ids); lo += 10000 {
		hi := min(lo+10000, len(ids))
		if err := affiliate.InsertForestUsers(ctx, db.Pool, ids[lo:hi], refs[lo:hi], progs[lo:hi], rates[lo:hi], now); err != nil {
			return nil, err
		}
	}
	return ids, nil
}

// latencies is a log-scale histogram of request latencies (1% buckets from
// 10 µs), bounded whatever the run length.
type latencies struct {
	mu     sync.Mutex
	counts map[int]int64
	n      int64
}

func (l *latencies) add(d time.Duration) {
	b := int(math.Log(float64(max(d, 10*time.Microsecond))/float64(10*time.Microsecond)) / math.Log(1.01))
	l.mu.Lock()
	l.counts[b]++
	l.n++
	l.mu.Unlock()
}

func (l *latencies) quantile(q float64) float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	keys := make([]int, 0, len(l.counts))
	for k := range l.counts {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	target, seen := int64(math.Ceil(q*float64(l.n))), int64(0)
	for _, k := range keys {
		seen += l.counts[k]
		if seen >= target {
			return 0.01 * math.Pow(1.01, float64(k+1)) // ms, bucket upper bound
		}
	}
	return 0
}

// stream posts trades with bc.Clients clients until bc.Trades are sent or
// bc.Duration passes, drawing a progress bar.
func stream(ctx context.Context, c *benchClient, bc benchConfig, users []string, rep *benchReport, srv *benchServer, progress io.Writer, wal *walProfile) (*latencies, *sentSamples, error) {
	lat := &latencies{counts: map[int]int64{}}
	progressed := &sentSamples{}
	var next, sent atomic.Int64
	var firstErr error
	var errOnce sync.Once
	stopAt := time.Time{}
	if bc.Duration > 0 {
		stopAt = time.Now().Add(bc.Duration)
	}
	runID := time.Now().UnixNano()
	windows := newLatencyWindows(time.Now())
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	for w := 0; w < bc.Clients; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := mrand.New(mrand.NewPCG(uint64(runID), uint64(w)))
			conn, err := newStreamConn(c.base, "/v1/trades", c.key, c.http.Timeout)
			if err != nil {
				errOnce.Do(func() { firstErr = err; cancel() })
				return
			}
			defer conn.close()
			var body []byte
			for {
				lo := next.Add(int64(bc.Batch)) - int64(bc.Batch)
				if lo >= int64(bc.Trades) || (!stopAt.IsZero() && time.Now().After(stopAt)) || ctx.Err() != nil {
					return
				}
				hi := min(lo+int64(bc.Batch), int64(bc.Trades))
				body = appendTrades(body[:0], "b", runID, lo, hi, users, rng)
				for {
					t0 := time.Now()
					code, data, err := conn.post(body)
					if err != nil {
						errOnce.Do(func() { firstErr = err; cancel() })
						return
					}
					if code == http.StatusServiceUnavailable {
						atomic.AddInt64(&rep.Busy, 1)
						time.Sleep(5 * time.Millisecond)
						continue
					}
					done := time.Now()
					lat.add(done.Sub(t0))
					windows.add(done, done.Sub(t0), hi-lo)
					atomic.AddInt64(&rep.Rejected, hi-lo-int64(bytes.Count(data, createdResult)))
					break
				}
				atomic.AddInt64(&rep.Requests, 1)
				sent.Add(hi - lo)
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	if wal != nil {
		// The window's bounds, to within a few tens of milliseconds.
		watched := make(chan struct{})
		go func() {
			defer close(watched)
			t := time.NewTicker(20 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-done:
					return
				case <-t.C:
					wal.observe(ctx, sent.Load())
				}
			}
		}()
		defer func() { <-watched }()
	}
	t0 := time.Now()
	progressed.add(0, 0)
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-done:
			n := sent.Load()
			progressed.add(time.Since(t0), n)
			drawProgress(progress, bc, n, time.Since(t0), stopAt)
			fmt.Fprintln(progress)
			rep.Trades = n
			rep.LatencyWindows = windows.report(maxLatencyWindows)
			return lat, progressed, firstErr
		case <-tick.C:
			n := sent.Load()
			progressed.add(time.Since(t0), n)
			drawProgress(progress, bc, n, time.Since(t0), stopAt)
		}
	}
}

// sentSamples are the trades acknowledged so far, sampled over the stream.
type sentSamples struct {
	at   []time.Duration
	sent []int64
}

func (s *sentSamples) add(at time.Duration, sent int64) {
	s.at, s.sent = append(s.at, at), append(s.sent, sent)
}

// rate is the trades per second between fractions from and to of the
// stream's duration (the nearest samples at or inside those bounds).
func (s *sentSamples) rate(from, to float64) float64 {
	if len(s.at) < 2 {
		return 0
	}
	total := s.at[len(s.at)-1]
	lo, hi := 0, len(s.at)-1
	for i, at := range s.at {
		if float64(at) <= from*float64(total) {
			lo = i
		}
	}
	for i := len(s.at) - 1; i >= 0; i-- {
		if float64(s.at[i]) >= to*float64(total) {
			hi = i
		}
	}
	if hi <= lo {
		return 0
	}
	return float64(s.sent[hi]-s.sent[lo]) / (s.at[hi] - s.at[lo]).Seconds()
}

func drawProgress(w io.Writer, bc benchConfig, sent int64, el time.Duration, stopAt time.Time) {
	frac := float64(sent) / float64(bc.Trades)
	if !stopAt.IsZero() {
		frac = el.Seconds() / bc.Duration.Seconds()
	}
	frac = min(1, frac)
	n := int(frac * 30)
	fmt.Fprintf(w, "\r[%s%s] %3.0f%%  %d trades  %.0f trades/s  ", strings.Repeat("#", n), strings.Repeat(".", 30-n), frac*100, sent, float64(sent)/max(el.Seconds(), 0.001))
}

// verifyBench checks the books through the API: hash chain and balances,
// trial balance, 101 residue and the reconciliation of the run.
func verifyBench(ctx context.Context, c *benchClient, db *schema.DB, start time.Time) (bool, []string) {
	// The reports read the whole run: over millions of entries they take
	// minutes (the 10M-entry run of 2026-12-05 gave up on the
	// reconciliation at the stream's 2-minute client timeout). The wait is
	// the server's own write deadline (serve's WriteTimeout).
	long := *c.http
	long.Timeout = reportTimeout
	c = &benchClient{base: c.base, key: c.key, http: &long}
	ok := true
	var checks []string
	check := func(name string, pass bool, detail string) {
		ok = ok && pass
		checks = append(checks, fmt.Sprintf("%s: %s %s", name, map[bool]string{true: "ok", false: "FAILED"}[pass], detail))
	}
	// The hash chain and every balance, recomputed in-process like `folio
	// verify` (no HTTP timeout: on a journal of millions of entries it
	// takes minutes).
	t0 := time.Now()
	v, err := ledger.New(db).Verify(ctx)
	if err != nil {
		check("verify", false, err.Error())
	} else {
		check("verify", v.OK, fmt.Sprintf("(%d entries, %d accounts, %.0f s)", v.EntriesChecked, v.AccountsChecked, time.Since(t0).Seconds()))
	}
	// The seals the server wrote while it ran: their chain, the Merkle log
	// and the checkpoints' bodies (the signing key is the server's).
	t0 = time.Now()
	if probs, err := seal.Verify(ctx, db, nil, 10); err != nil {
		check("seals", false, err.Error())
	} else {
		detail := fmt.Sprintf("(%.0f s)", time.Since(t0).Seconds())
		if len(probs) > 0 {
			detail = probs[0].Kind + ": " + probs[0].Detail
		}
		check("seals", len(probs) == 0, detail)
	}
	var tb struct {
		Currencies []struct {
			Currency string `json:"currency"`
			Balanced bool   `json:"balanced"`
		} `json:"currencies"`
	}
	_, err = c.do(ctx, http.MethodGet, "/v1/reports/trial-balance", nil, &tb)
	balanced := err == nil && len(tb.Currencies) > 0
	for _, cur := range tb.Currencies {
		balanced = balanced && cur.Balanced
	}
	check("trial balance", balanced, "")
	var bal struct {
		Balance string `json:"balance"`
	}
	_, err = c.do(ctx, http.MethodGet, "/v1/accounts/101:USDT/balance", nil, &bal)
	check("101 residue", err == nil && (bal.Balance == "0"), bal.Balance)
	var rec struct {
		OK bool `json:"ok"`
	}
	code, err := c.do(ctx, http.MethodGet, "/v1/reports/reconciliation?from="+start.Add(-time.Hour).UTC().Format(time.RFC3339)+"&to="+
		time.Now().Add(time.Minute).UTC().Format(time.RFC3339), nil, &rec)
	if code == http.StatusNotFound {
		checks = append(checks, "reconciliation: not available on this server")
	} else {
		detail := ""
		if err != nil {
			detail = err.Error()
		}
		check("reconciliation", err == nil && rec.OK, detail)
	}
	return ok, checks
}

func printBench(w io.Writer, bc benchConfig, r *benchReport) {
	fmt.Fprintf(w, "folio bench: %d trades by %d clients in batches of %d over %d users (%d levels)\n", r.Trades, bc.Clients, bc.Batch, bc.Users, bc.Depth)
	fmt.Fprintf(w, "  %.0f trades/s   %.0f entries/s   %.0f postings/s   (%.1f s)\n", r.TradesPerSec, r.EntriesPerSec, r.PostingsPerSec, r.Seconds)
	fmt.Fprintf(w, "  latency p50 %.1f ms   p99 %.1f ms   (%d requests, %d busy retries, %d trades not created)\n", r.P50ms, r.P99ms, r.Requests, r.Busy, r.Rejected)
	if lo, med, hi := windowP99s(r.LatencyWindows); hi > 0 {
		fmt.Fprintf(w, "  p99 by window of the stream (latency_windows): lowest %.1f ms, median %.1f ms, highest %.1f ms\n", lo, med, hi)
	}
	fmt.Fprintf(w, "  server peak RSS %.0f MB (first fifth of the stream %.0f MB, last fifth %.0f MB)\n", r.PeakRSSMB, r.RSSFirstFifthMB, r.RSSLastFifthMB)
	fmt.Fprintf(w, "  %.0f trades/s in the first tenth of the stream, %.0f in the last (journal: %d entries at the end)\n", r.TradesPerSecFirstTenth, r.TradesPerSecLastTenth, r.JournalEntries)
	fmt.Fprintf(w, "  per trade: %.0f bytes of WAL in %.1f records, %.1f rows written\n", r.WALBytesPerTrade, r.WALRecordsPerTrade, r.RowsPerTrade)
	if len(r.WALByRelation) > 0 {
		fmt.Fprintf(w, "  WAL a trade by relation, from 40%% to 60%% of the trades (--wal-profile):\n")
		for _, x := range r.WALByRelation[:min(len(r.WALByRelation), 25)] {
			fmt.Fprintf(w, "    %-40s %7.0f B  %5.2f records\n", x.Relation, x.BytesPerTrade, x.RecordsPerTrade)
		}
	}
	if r.Checkpoints >= 0 {
		fmt.Fprintf(w, "  long-run costs: %.2f full-page images and %.2f buffers written by backends a trade, %d checkpoints\n",
			r.WALFPIPerTrade, r.BackendWritesPerTrade, r.Checkpoints)
	}
	if len(r.DBSettings) > 0 {
		keys := slices.Sorted(maps.Keys(r.DBSettings))
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = k + " " + r.DBSettings[k]
		}
		fmt.Fprintf(w, "  private PostgreSQL: %s\n", strings.Join(parts, ", "))
	}
	if r.CPUServerUSPerTrade > 0 {
		db := "not measured (not on this machine)"
		if r.CPUDatabaseUSPerTrade > 0 {
			db = fmt.Sprintf("%.0f µs", r.CPUDatabaseUSPerTrade)
		}
		fmt.Fprintf(w, "  CPU per trade: server %.0f µs, database %s, bench clients %.0f µs\n", r.CPUServerUSPerTrade, db, r.CPUBenchUSPerTrade)
	}
	fmt.Fprintf(w, "  journal: %d shards, %s writers, %d batches, %d of them over more than one shard; %d transaction retries\n", r.Shards, r.DBMode, r.Batches, r.MultiShardBatches, r.TxRetries)
	fmt.Fprintf(w, "  statistics: %.0f%% of the accruals folded during the stream were taken from the writer's memory\n", 100*r.FoldFromMemory)
	if r.Via != viaHTTP {
		fmt.Fprintf(w, "  via %s: %.0f trades/s (%d trades in messages of %d, %.1f s from the first publish to the last booked); HTTP: %.0f trades/s\n",
			r.Via, r.BusTradesPerSec, r.BusTrades, bc.Batch, r.BusSeconds, r.TradesPerSec)
	}
	for _, c := range r.Checks {
		fmt.Fprintf(w, "  %s\n", c)
	}
	if bc.JSON {
		b, _ := json.Marshal(r)
		fmt.Fprintf(w, "%s\n", b)
	}
}

// dbCost is a reading of the database's cumulative write counters.
type dbCost struct {
	walBytes, walRecords, walFPI, rows int64
	// -1 when the server has no pg_stat_bgwriter of PostgreSQL ≤ 16's shape.
	checkpoints, backendWrites int64
}

// readDBCost reads the WAL position (exact, immediate) and the WAL-record
// and row counters (cumulative statistics, which backends flush at most
// once a second, or within ten seconds once idle).
func readDBCost(ctx context.Context, db *schema.DB) (dbCost, error) {
	var c dbCost
	err := db.Pool.QueryRow(ctx, `SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint, w.wal_records, w.wal_fpi,
		(SELECT tup_inserted + tup_updated + tup_deleted FROM pg_stat_database WHERE datname = current_database())
		FROM pg_stat_wal w`).Scan(&c.walBytes, &c.walRecords, &c.walFPI, &c.rows)
	if err != nil {
		return c, err
	}
	// PostgreSQL 17 moved these to pg_stat_checkpointer and pg_stat_io.
	if db.Pool.QueryRow(ctx, `SELECT checkpoints_timed + checkpoints_req, buffers_backend FROM pg_stat_bgwriter`).Scan(&c.checkpoints, &c.backendWrites) != nil {
		c.checkpoints, c.backendWrites = -1, -1
	}
	return c, nil
}

// dbSettings reads the named server settings in one query, as SHOW prints
// them (those it cannot read are left out).
func dbSettings(ctx context.Context, db *schema.DB, names ...string) map[string]string {
	out := map[string]string{}
	rows, err := db.Pool.Query(ctx, `SELECT name, current_setting(name) FROM pg_settings WHERE name = ANY($1)`, names)
	if err != nil {
		return out
	}
	for rows.Next() {
		var n, v string
		if rows.Scan(&n, &v) == nil {
			out[n] = v
		}
	}
	rows.Close()
	return out
}

// settledDBCost reads the counters once they stopped moving (the server's
// backends flushed their statistics), for at most 15 s.
func settledDBCost(ctx context.Context, db *schema.DB) (dbCost, error) {
	prev, err := readDBCost(ctx, db)
	if err != nil {
		return prev, err
	}
	for range 15 {
		time.Sleep(time.Second)
		cur, err := readDBCost(ctx, db)
		if err != nil {
			return cur, err
		}
		if cur.rows == prev.rows && cur.walRecords == prev.walRecords {
			return cur, nil
		}
		prev = cur
	}
	return prev, nil
}

// serverMetrics reads the server's counters from /metrics, by sample
// (name with its labels); nil if unavailable.
func (c *benchClient) serverMetrics(ctx context.Context) map[string]float64 {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/metrics", nil)
	if err != nil {
		return nil
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	resp, err := c.http.Do(req)
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		name, v, ok := strings.Cut(sc.Text(), " ")
		if !ok || strings.HasPrefix(name, "#") {
			continue
		}
		if f, err := strconv.ParseFloat(v, 64); err == nil {
			out[name] = f
		}
	}
	return out
}
