package main

import (
	"context"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"

	"github.com/folioledger/folio/schema"
	"github.com/folioledger/folio/schema/schematest"
)

// folio bench --via kafka on a small run: after the HTTP stream as many
// trades go through an in-process Kafka cluster to the server's --ingest
// consumer, all are booked, the books verify and the JSON line carries
// both figures.
func TestBenchViaKafka(t *testing.T) {
	clearEnv(t)
	bin := buildFolio(t)
	db := schematest.New(t, schema.Migrate)
	out, err := exec.Command(bin, "bench", "--url", db.URL, "--trades", "300", "--users", "40", "--depth", "3",
		"--clients", "3", "--batch", "25", "--via", "kafka", "--json").Output()
	if err != nil {
		t.Fatalf("folio bench --via kafka: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	var rep map[string]any
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &rep); err != nil {
		t.Fatalf("last line is not JSON: %v\n%s", err, out)
	}
	if rep["via"] != "kafka" || rep["bus_trades"] != 300.0 || !(rep["bus_trades_per_sec"].(float64) > 0) ||
		!(rep["trades_per_sec"].(float64) > 0) || rep["verified"] != true {
		t.Errorf("via %v, bus_trades %v, bus_trades_per_sec %v, trades_per_sec %v, verified %v; want kafka, 300, > 0, > 0, true",
			rep["via"], rep["bus_trades"], rep["bus_trades_per_sec"], rep["trades_per_sec"], rep["verified"])
	}
	if !strings.Contains(string(out), "via kafka: ") {
		t.Errorf("no via line in the output:\n%s", out)
	}
	var entries int64
	if err := db.Admin.QueryRow(context.Background(), `SELECT count(*) FROM entries WHERE kind IN ('trade_fee', 'commission')`).Scan(&entries); err != nil {
		t.Fatal(err)
	}
	if entries != 1200 {
		t.Errorf("%d trade entries in the journal; want 1200 (300 trades over HTTP, 300 through Kafka)", entries)
	}
}
