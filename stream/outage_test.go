package stream_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/folioledger/folio/affiliate"
	"github.com/folioledger/folio/api"
	"github.com/folioledger/folio/ingest"
	"github.com/folioledger/folio/ledger"
	"github.com/folioledger/folio/schema"
	"github.com/folioledger/folio/stream"
	"github.com/folioledger/folio/stream/streamtest"
)

// TestKafkaOutagePauses: while the database is unreachable, the consumer
// pauses with backoff (a handful of attempts, no busy spin), sends nothing
// to the dead letters and commits no offset: a consumer of the same group
// on a working database later books every trade.
func TestKafkaOutagePauses(t *testing.T) {
	b, m := downBooker(t)
	topic := "trades-" + streamtest.Suffix()
	brokers := streamtest.Kafka(t, 2, topic)
	produce(t, brokers, topic, messages("o", 20))
	cfg := stream.KafkaConfig{Brokers: brokers, Topic: topic, Group: "g-" + streamtest.Suffix()}

	rctx, stop := context.WithCancel(context.Background())
	var run sync.WaitGroup
	run.Go(func() { _ = b.RunKafka(rctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil))) })
	time.Sleep(3 * time.Second)
	stop()
	run.Wait()
	pauses := testCounter(m.Pauses.WithLabelValues("kafka"))
	// Backoff from 100 ms doubling: about 5 pauses per partition in 3 s.
	if pauses < 1 || pauses > 30 {
		t.Errorf("%v pauses in 3 s of outage, want a few (backoff, no busy spin)", pauses)
	}
	if got := testCounter(m.Trades.WithLabelValues("kafka", "created")); got != 0 {
		t.Errorf("%v trades created on a database that is down", got)
	}

	f := newFixture(t)
	stopGood := f.runKafka(t, cfg)
	f.waitFor(t, 20, 0, time.Minute)
	stopGood()
	f.env.Verify(t)
}

// downBooker returns a booker whose database is unreachable (its ingester
// running until the test ends) and its metrics.
func downBooker(t *testing.T) (*stream.Booker, *stream.Metrics) {
	ctx := context.Background()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "postgres://postgres@" + l.Addr().String() + "/folio?sslmode=disable&connect_timeout=1"
	l.Close() // nothing listens there any more
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	down := &schema.DB{Pool: pool}
	lg := ledger.New(down)
	ing := ingest.New(down, affiliate.NewService(down, lg), lg, ingest.Options{})
	ictx, stopIng := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { ing.Run(ictx) })
	t.Cleanup(func() { stopIng(); wg.Wait(); pool.Close() })
	m := stream.NewMetrics(prometheus.NewRegistry())
	return &stream.Booker{Ingester: ing, DB: down, Decode: api.DecodeTradeMessage, Metrics: m}, m
}

// TestAMQPOutagePauses: as TestKafkaOutagePauses on RabbitMQ — while the
// database is unreachable the consumer pauses with backoff and
// acknowledges nothing; a consumer on a working database later books
// every trade from the queue.
func TestAMQPOutagePauses(t *testing.T) {
	b, m := downBooker(t)
	r := streamtest.StartRabbit(t)
	publish(t, r.URL, "trades", messages("o", 20))
	cfg := stream.AMQPConfig{URL: r.URL, Queue: "trades"}
	rctx, stop := context.WithCancel(context.Background())
	var run sync.WaitGroup
	run.Go(func() { _ = b.RunAMQP(rctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil))) })
	time.Sleep(3 * time.Second)
	stop()
	run.Wait()
	pauses := testCounter(m.Pauses.WithLabelValues("amqp"))
	// About 5 per batch in flight (up to eight); a busy spin makes thousands.
	if pauses < 1 || pauses > 60 {
		t.Errorf("%v pauses in 3 s of outage, want a few (backoff, no busy spin)", pauses)
	}
	if got := testCounter(m.Trades.WithLabelValues("amqp", "created")); got != 0 {
		t.Errorf("%v trades created on a database that is down", got)
	}
	f := newFixture(t)
	stopGood := f.runAMQP(t, cfg)
	f.waitFor(t, 20, 0, time.Minute)
	stopGood()
	f.env.Verify(t)
}
