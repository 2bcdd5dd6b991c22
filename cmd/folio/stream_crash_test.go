package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/folioledger/folio/schema/schematest"
	"github.com/folioledger/folio/stream/streamtest"
)

// streamTrades is the size of the end-to-end bus tests (issue 17).
const streamTrades = 10000

// streamMessages returns the messages of the bus tests: streamTrades
// trades of the eight crash traders in {"trades": [...]} messages of ten,
// and, in the middle, one poison message (a trade of an unknown user).
func streamMessages(prefix string) [][]byte {
	var out [][]byte
	for _, b := range crashBatches(prefix, streamTrades, 10) {
		out = append(out, []byte(b))
	}
	poison := fmt.Sprintf(`{"id": "%s-poison", "user_id": "nobody", "market": "BTCUSDT", "liquidity": "taker", "fee": {"amount": "1", "currency": "USDT"}, "executed_at": "2026-01-02T00:00:00Z"}`, prefix)
	mid := len(out) / 2
	return append(out[:mid:mid], append([][]byte{[]byte(poison)}, out[mid:]...)...)
}

// TestStreamCrashExactlyOnce publishes 10,000 trades (and one poison
// message) to each bus, starts `folio serve --ingest` on it, kills the
// server with SIGKILL midway and restarts it: every trade is booked
// exactly once (the books verify, 101 is zero), and the poison message is
// in GET /v1/ingest/dead-letters with its reason, the rest having flowed
// past it. Kafka is an in-process kfake cluster (or FOLIO_TEST_KAFKA_BROKERS),
// reached by the server over TCP; RabbitMQ a private node.
func TestStreamCrashExactlyOnce(t *testing.T) {
	clearEnv(t)
	bin := buildFolio(t)
	t.Run("kafka", func(t *testing.T) {
		topic, dlq := "trades-"+streamtest.Suffix(), "dead-"+streamtest.Suffix()
		brokers := streamtest.Kafka(t, 4, topic, dlq)
		cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		var recs []*kgo.Record
		for _, m := range streamMessages("kafka") {
			recs = append(recs, &kgo.Record{Value: m})
		}
		if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
		url := fmt.Sprintf("kafka://%s/%s?group=folio-%s&dlq=%s", strings.Join(brokers, ","), topic, streamtest.Suffix(), dlq)
		streamCrash(t, bin, url, topic)
	})
	t.Run("amqp", func(t *testing.T) {
		r := streamtest.StartRabbit(t)
		conn, err := amqp.Dial(r.URL)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		ch, err := conn.Channel()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ch.QueueDeclare("trades", true, false, false, false, nil); err != nil {
			t.Fatal(err)
		}
		if err := ch.Confirm(false); err != nil {
			t.Fatal(err)
		}
		var confs []*amqp.DeferredConfirmation
		for _, m := range streamMessages("amqp") {
			c, err := ch.PublishWithDeferredConfirmWithContext(context.Background(), "", "trades", false, false,
				amqp.Publishing{ContentType: "application/json", DeliveryMode: amqp.Persistent, Body: m})
			if err != nil {
				t.Fatal(err)
			}
			confs = append(confs, c)
		}
		for _, c := range confs {
			if !c.Wait() {
				t.Fatal("a message was not confirmed")
			}
		}
		streamCrash(t, bin, r.URL+"?queue=trades&dlq=trades.dead&prefetch=500", "trades")
	})
}

// streamCrash runs the crash scenario against the bus at url, whose
// trades are already published.
func streamCrash(t *testing.T, bin, url, destination string) {
	db, app := appDB(t)
	setupCrashBooks(t, app)
	key := "stream-crash-admin-key-0123456789"
	addr := freeAddr(t)
	srv := startServeProcess(t, bin, db.URL, addr, key, "--journal-shards", "4", "--ingest", url)
	deadline := time.Now().Add(3 * time.Minute)
	for booked(t, db) < streamTrades/5 {
		if time.Now().After(deadline) {
			_ = srv.Process.Kill()
			t.Fatalf("%d trades booked after 3 minutes", booked(t, db))
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := srv.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = srv.Wait()
	n := booked(t, db)
	if n >= streamTrades {
		t.Fatalf("all %d trades were booked before the kill; nothing was tested", n)
	}
	t.Logf("killed with %d of %d trades booked", n, streamTrades)

	srv = startServeProcess(t, bin, db.URL, addr, key, "--ingest", url)
	defer func() { _ = srv.Process.Signal(syscall.SIGTERM); _ = srv.Wait() }()
	deadline = time.Now().Add(5 * time.Minute)
	for {
		n := booked(t, db)
		var dead []struct{ Destination, TradeID, Code, Reason string }
		code, body, err := httpStatus("http://"+addr+"/v1/ingest/dead-letters", key)
		if err == nil && code == http.StatusOK {
			var page struct {
				Data []struct {
					Destination string `json:"destination"`
					TradeID     string `json:"trade_id"`
					Code        string `json:"code"`
					Reason      string `json:"reason"`
				} `json:"data"`
			}
			if err := json.Unmarshal(body, &page); err != nil {
				t.Fatal(err)
			}
			for _, d := range page.Data {
				dead = append(dead, struct{ Destination, TradeID, Code, Reason string }{d.Destination, d.TradeID, d.Code, d.Reason})
			}
		}
		if n == streamTrades && len(dead) == 1 {
			d := dead[0]
			if d.Destination != destination || !strings.HasSuffix(d.TradeID, "-poison") || d.Code != "not_found" || d.Reason == "" {
				t.Fatalf("dead letter = %+v, want the poison trade, not_found with its reason", d)
			}
			break
		}
		if n > streamTrades || len(dead) > 1 || time.Now().After(deadline) {
			t.Fatalf("%d trades booked and dead letters %+v; want %d and the poison message alone", n, dead, streamTrades)
		}
		time.Sleep(100 * time.Millisecond)
	}
	checkBooked(t, db, app, streamTrades)
}

// booked counts the trades booked.
func booked(t *testing.T, db *schematest.DB) int {
	t.Helper()
	var n int
	if err := db.Admin.QueryRow(context.Background(), `SELECT count(*) FROM trades`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
