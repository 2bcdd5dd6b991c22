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
