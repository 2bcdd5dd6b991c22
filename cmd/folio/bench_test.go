package main

import (
	"context"
	"encoding/json"
	"math"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/folioledger/folio/schema"
	"github.com/folioledger/folio/schema/schematest"
)

// The windowed rates of folio bench: a stream that slows from 100 to 50
// trades/s halfway reports each speed in its first and last tenth.
func TestSentSamplesRate(t *testing.T) {
	s := &sentSamples{}
	var sent int64
	for i := 0; i <= 100; i++ { // 100 s, a sample a second
		s.add(time.Duration(i)*time.Second, sent)
		if i < 50 {
			sent += 100
		} else {
			sent += 50
		}
	}
	for _, c := range []struct {
		from, to, want float64
	}{{0, 0.1, 100}, {0.9, 1, 50}, {0, 1, 75}, {0.4, 0.6, 75}} {
		if got := s.rate(c.from, c.to); math.Abs(got-c.want) > 1e-9 {
			t.Errorf("rate(%v, %v) = %v, want %v", c.from, c.to, got, c.want)
		}
	}
	if got := (&sentSamples{}).rate(0, 1); got != 0 {
		t.Errorf("rate without samples = %v, want 0", got)
	}
}

// The latency windows of folio bench: each answer counts in the window of
// when it came, a window without answers stays in the report (a stall),
// and past the limit adjacent windows are merged without losing a count.
func TestLatencyWindows(t *testing.T) {
	start := time.Unix(1_700_000_000, 0)
	s := newLatencyWindows(start)
	// Windows 0 and 1: 100 answers each, 10 ms in the first and 40 ms in
	// the second; window 2 nothing; window 3 one slow answer.
	for i := range 100 {
		s.add(start.Add(time.Duration(i)*time.Millisecond), 10*time.Millisecond, 2)
		s.add(start.Add(latencyWindow+time.Duration(i)*time.Millisecond), 40*time.Millisecond, 1)
	}
	s.add(start.Add(3*latencyWindow+time.Millisecond), 300*time.Millisecond, 5)
	ws := s.report(maxLatencyWindows)
	if len(ws) != 4 {
		t.Fatalf("%d windows, want 4: %+v", len(ws), ws)
	}
	for i, want := range []struct {
		requests, trades int64
		p99              float64
	}{{100, 200, 10}, {100, 100, 40}, {0, 0, 0}, {1, 5, 300}} {
		w := ws[i]
		if w.Requests != want.requests || w.Trades != want.trades || math.Abs(w.P99ms-want.p99) > want.p99*0.011 {
			t.Errorf("window %d = %+v; want %d requests, %d trades, p99 ≈ %v ms", i, w, want.requests, want.trades, want.p99)
		}
		if w.At != float64(i)*latencyWindow.Seconds() || w.Seconds != latencyWindow.Seconds() {
			t.Errorf("window %d at %v s for %v s", i, w.At, w.Seconds)
		}
	}
	if lo, med, hi := windowP99s(ws); math.Abs(lo-10) > 0.2 || math.Abs(med-40) > 0.5 || math.Abs(hi-300) > 4 {
		t.Errorf("p99s lowest %v, median %v, highest %v; want ≈ 10, 40, 300", lo, med, hi)
	}
	// Merged two at a time: the first two windows become one, with every
	// answer, and its p99 is the slower half's.
	merged := s.report(2)
	if len(merged) != 2 || merged[0].Requests != 200 || merged[0].Trades != 300 || merged[1].Requests != 1 ||
		merged[0].Seconds != 2*latencyWindow.Seconds() || merged[1].At != 2*latencyWindow.Seconds() || math.Abs(merged[0].P99ms-40) > 0.5 {
		t.Errorf("merged = %+v", merged)
	}
}

// folio bench end to end on a small run against the test database: the
// child server books every trade, the books verify, and the JSON line has
// the keys of docs/CONTRACT.md §8 with figures that agree with the run.
func TestBenchSmallRun(t *testing.T) {
	clearEnv(t)
	bin := buildFolio(t)
	db := schematest.New(t, schema.Migrate)
	out, err := exec.Command(bin, "bench", "--url", db.URL, "--trades", "300", "--users", "40", "--depth", "3",
		"--clients", "3", "--batch", "25", "--json").Output()
	if err != nil {
		t.Fatalf("folio bench: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	var rep map[string]any
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &rep); err != nil {
		t.Fatalf("last line is not JSON: %v\n%s", err, out)
	}
	for _, k := range []string{"trades", "trades_per_sec", "entries_per_sec", "postings_per_sec", "p50_ms", "p99_ms", "peak_rss_mb",
		"verified", "trades_per_sec_first_tenth", "trades_per_sec_last_tenth", "journal_entries", "tx_retries"} {
		if _, ok := rep[k]; !ok {
			t.Errorf("JSON lacks %q: %s", k, lines[len(lines)-1])
		}
	}
	if rep["trades"] != 300.0 || rep["verified"] != true || rep["rejected"] != 0.0 {
		t.Errorf("trades %v, verified %v, rejected %v; want 300, true, 0", rep["trades"], rep["verified"], rep["rejected"])
	}
	var entries int64
	if err := db.Admin.QueryRow(context.Background(), `SELECT count(*) FROM entries WHERE kind IN ('trade_fee', 'commission')`).Scan(&entries); err != nil {
		t.Fatal(err)
	}
	if entries != 600 || rep["journal_entries"].(float64) < 600 {
		t.Errorf("%d trade entries in the journal (bench says %v in all); want 600", entries, rep["journal_entries"])
	}
	if tps := rep["trades_per_sec"].(float64); !(tps > 0) || rep["p99_ms"].(float64) < rep["p50_ms"].(float64) {
		t.Errorf("trades/s %v, p50 %v, p99 %v", tps, rep["p50_ms"], rep["p99_ms"])
	}
	// Every answer is in one latency window, and a window's p99 is never
	// below its p50.
	var requests, trades float64
	ws, _ := rep["latency_windows"].([]any)
	for _, x := range ws {
		w := x.(map[string]any)
		requests, trades = requests+w["requests"].(float64), trades+w["trades"].(float64)
		if w["p99_ms"].(float64) < w["p50_ms"].(float64) {
			t.Errorf("window %v: p99 below p50", w)
		}
	}
	if len(ws) == 0 || requests != rep["requests"].(float64) || trades != 300 {
		t.Errorf("%d latency windows with %v requests and %v trades; want the run's %v and 300", len(ws), requests, trades, rep["requests"])
	}
	// The test's PostgreSQL runs on this machine: the database's CPU is
	// measured next to the server's, and a trade costs both something.
	for _, k := range []string{"cpu_server_us_per_trade", "cpu_database_us_per_trade"} {
		if v, _ := rep[k].(float64); !(v > 0) {
			t.Errorf("%s = %v; want > 0", k, rep[k])
		}
	}
	// The long-run figures are read from PostgreSQL 15's statistics (-1
	// would mean they could not be); the settings only of a private cluster.
	for _, k := range []string{"wal_fpi_per_trade", "checkpoints", "backend_buffer_writes_per_trade"} {
		if v, ok := rep[k].(float64); !ok || v < 0 {
			t.Errorf("%s = %v; want ≥ 0", k, rep[k])
		}
	}
	if _, ok := rep["db_settings"]; ok {
		t.Errorf("db_settings reported for a --url database: %v", rep["db_settings"])
	}
	if v, ok := rep["fold_from_memory"].(float64); !ok || v < 0 || v > 1 {
		t.Errorf("fold_from_memory = %v; want a share in [0, 1]", rep["fold_from_memory"])
	}
	// SPEC §10 names the shard count journal_shards.
	if n, _ := rep["journal_shards"].(float64); n < 1 {
		t.Errorf("journal_shards = %v; want ≥ 1", rep["journal_shards"])
	}
}

// TestBenchWALProfile: --wal-profile reports the WAL of the middle fifth of
// the trades by relation, the journal's tables among them, and refuses
// --duration.
func TestBenchWALProfile(t *testing.T) {
	clearEnv(t)
	bin := buildFolio(t)
	db := schematest.New(t, schema.Migrate)
	out, err := exec.Command(bin, "bench", "--url", db.URL, "--trades", "3000", "--users", "40", "--depth", "3",
		"--clients", "2", "--batch", "10", "--wal-profile", "--json").Output()
	if err != nil {
		t.Fatalf("folio bench --wal-profile: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	var rep struct {
		WALBytes float64 `json:"wal_bytes_per_trade"`
		Rels     []struct {
			Relation string  `json:"relation"`
			Bytes    float64 `json:"bytes_per_trade"`
			Records  float64 `json:"records_per_trade"`
		} `json:"wal_by_relation"`
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &rep); err != nil {
		t.Fatalf("last line is not JSON: %v\n%s", err, out)
	}
	var total float64
	got := map[string]float64{}
	for _, r := range rep.Rels {
		got[r.Relation] = r.Bytes
		total += r.Bytes
		if r.Bytes < 0 || r.Records < 0 {
			t.Errorf("%+v: negative", r)
		}
	}
	for _, rel := range []string{"entries", "postings", "trades", "accruals", "entries_pkey"} {
		if !(got[rel] > 0) {
			t.Errorf("wal_by_relation lacks %s: %+v", rel, rep.Rels)
		}
	}
	// The window's WAL a trade is of the order of the whole stream's.
	if total < rep.WALBytes/3 || total > rep.WALBytes*3 {
		t.Errorf("the window's %.0f B a trade against the stream's %.0f", total, rep.WALBytes)
	}
	if out, err := exec.Command(bin, "bench", "--url", db.URL, "--duration", "1s", "--wal-profile").CombinedOutput(); err == nil || !strings.Contains(string(out), "--wal-profile") {
		t.Errorf("--wal-profile with --duration: %v\n%s", err, out)
	}
}
