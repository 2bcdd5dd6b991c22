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
	defer pool.Close()
	down := &schema.DB{Pool: pool}
	lg := ledger.New(down)
	ing := ingest.New(down, affiliate.NewService(down, lg), lg, ingest.Options{})
	ictx, stopIng := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { ing.Run(ictx) })
	defer func() { stopIng(); wg.Wait() }()

	topic := "trades-" + streamtest.Suffix()
	brokers := streamtest.Kafka(t, 2, topic)
	produce(t, brokers, topic, messages("o", 20))
	cfg := stream.KafkaConfig{Brokers: brokers, Topic: topic, Group: "g-" + streamtest.Suffix()}

	m := stream.NewMetrics(prometheus.NewRegistry())
	b := &stream.Booker{Ingester: ing, DB: down, Decode: api.DecodeTradeMessage, Metrics: m}
	rctx, stop := context.WithCancel(ctx)
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
