package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/folioledger/folio/stream/streamtest"
)

// TestIngestCommand: `folio ingest URL` on the database of servers books a
// topic's trades through its own writer, serves its metrics on
// --metrics-listen and stops on its context (SIGINT);
// bad URLs and a missing URL are usage errors, as are a bench --via
// transport it does not know and --via with --duration.
func TestIngestCommand(t *testing.T) {
	clearEnv(t)
	db, app := appDB(t)
	setupCrashBooks(t, app)
	topic := "trades-" + streamtest.Suffix()
	brokers := streamtest.Kafka(t, 2, topic)
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic(topic))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var recs []*kgo.Record
	for _, b := range crashBatches("ing", 200, 10) {
		recs = append(recs, &kgo.Record{Value: []byte(b)})
	}
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	type result struct {
		stdout, stderr string
		code           int
	}
	done := make(chan result, 1)
	url := fmt.Sprintf("kafka://%s/%s?group=g-%s", strings.Join(brokers, ","), topic, streamtest.Suffix())
	metricsAddr := freeAddr(t)
	go func() {
		out, errs, code := cli(t, ctx, "ingest", "--database-url", db.URL, "--log-level", "warn", "--metrics-listen", metricsAddr, url)
		done <- result{out, errs, code}
	}()
	deadline := time.Now().Add(2 * time.Minute)
	for booked(t, db) < 200 {
		if time.Now().After(deadline) {
			cancel()
			r := <-done
			t.Fatalf("%d of 200 trades booked after 2 minutes; folio ingest: %d %s %s", booked(t, db), r.code, r.stdout, r.stderr)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Its own /metrics: the trades it booked.
	var metrics string
	for time.Now().Before(deadline) && !strings.Contains(metrics, `folio_ingest_trades_total{source="kafka",status="created"} 200`) {
		if resp, err := http.Get("http://" + metricsAddr + "/metrics"); err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			metrics = string(body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(metrics, `folio_ingest_trades_total{source="kafka",status="created"} 200`) || !strings.Contains(metrics, "folio_ingest_consumer_lag{") {
		t.Errorf("folio ingest /metrics lacks the 200 trades created or the lag:\n%s", metrics)
	}
	cancel()
	r := <-done
	if r.code != 0 || !strings.Contains(r.stdout, "consuming kafka://") {
		t.Errorf("folio ingest = %d, stdout %q, stderr %q; want 0 and the source named", r.code, r.stdout, r.stderr)
	}
	checkBookedBooks(t, db, app, 200) // folio ingest does not seal

	for _, args := range [][]string{
		{"ingest", "--database-url", db.URL},
		{"ingest", "--database-url", db.URL, "kafka://b1/"},
		{"ingest", "--database-url", db.URL, "amqp://h/vh"},
		{"ingest", "--database-url", db.URL, "--ingest", "http://x/y"},
		{"serve", "--database-url", db.URL, "--ingest", "kafka://b1/t?bogus=1"},
		{"ingest", "--database-url", db.URL, "--metrics-listen", "nowhere", "kafka://b1/t"},
		{"bench", "--via", "pigeon"},
		{"bench", "--via", "kafka", "--duration", "1s"},
	} {
		if _, stderr, code := cli(t, context.Background(), args...); code != exitFailure {
			t.Errorf("%q = exit %d, want %d\n%s", args, code, exitFailure, stderr)
		}
	}
}
