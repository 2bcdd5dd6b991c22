package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/folioledger/folio/stream/streamtest"
)

// The transports of folio bench --via.
const (
	viaHTTP     = "http"
	viaKafka    = "kafka"
	viaRabbitMQ = "rabbitmq"
)

// benchBus is the message bus of folio bench --via kafka|rabbitmq: where
// the bench publishes, and the --ingest URL its server consumes.
type benchBus struct {
	via    string
	ingest string // the server's --ingest URL
	topic  string // Kafka topic or RabbitMQ queue
	kafka  *kgo.Client
	amqp   *amqp.Connection
	close  []func()
}

// benchBusTopic is the topic or queue of the bench's trades.
const benchBusTopic = "folio-bench-trades"

// startBenchBus sets up the bus of bc.Via: Kafka at --kafka-brokers, or an
// in-process kfake cluster (the Kafka protocol over TCP, 4 partitions);
// RabbitMQ at --amqp-url, or a private node (rabbitmq-server, as the tests
// run it).
func startBenchBus(bc benchConfig, progress io.Writer) (*benchBus, error) {
	b := &benchBus{via: bc.Via, topic: benchBusTopic + "-" + strconv.FormatInt(time.Now().UnixNano(), 36)}
	switch bc.Via {
	case viaKafka:
		brokers := bc.KafkaBrokers
		if brokers == "" {
			c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(4, b.topic), kfake.AllowAutoTopicCreation())
			if err != nil {
				return nil, err
			}
			b.close = append(b.close, c.Close)
			brokers = strings.Join(c.ListenAddrs(), ",")
			fmt.Fprintf(progress, "started an in-process Kafka cluster (kfake) at %s\n", brokers)
		}
		cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(brokers, ",")...), kgo.DefaultProduceTopic(b.topic),
			kgo.RecordPartitioner(kgo.RoundRobinPartitioner()), kgo.AllowAutoTopicCreation())
		if err != nil {
			b.stop()
			return nil, err
		}
		b.kafka = cl
		b.close = append(b.close, cl.Close)
		b.ingest = fmt.Sprintf("kafka://%s/%s?group=folio-bench", brokers, b.topic)
	case viaRabbitMQ:
		url := bc.AMQPURL
		if url == "" {
			dir, err := os.MkdirTemp("", "folio-bench-rabbit-")
			if err != nil {
				return nil, err
			}
			b.close = append(b.close, func() { os.RemoveAll(dir) })
			fmt.Fprintf(progress, "starting a private RabbitMQ node in %s\n", dir)
			r, err := streamtest.StartRabbitNode(dir)
			if err != nil {
				b.stop()
				return nil, err
			}
			b.close = append(b.close, r.Stop)
			url = r.URL
		}
		conn, err := amqp.Dial(url)
		if err != nil {
			b.stop()
			return nil, err
		}
		b.amqp = conn
		b.close = append(b.close, func() { conn.Close() })
		b.ingest = url + "?queue=" + b.topic + "&prefetch=2000"
		if i := strings.IndexByte(url, '?'); i >= 0 {
			b.ingest = url + "&queue=" + b.topic + "&prefetch=2000"
		}
	}
	return b, nil
}

func (b *benchBus) stop() {
	for i := len(b.close) - 1; i >= 0; i-- {
		b.close[i]()
	}
}

// streamBus publishes bc.Trades trades in messages of bc.Batch ({"trades":
// [...]}, the bodies of the HTTP stream) and waits until the server has
// booked them all. The messages are built before the clock starts; the
// clock runs from the first publish (all messages are published at once,
// confirmed) until the server's own count of trades booked from the bus
// (folio_ingest_trades_total, created; read every 100 ms) reaches
// bc.Trades: publishing, the broker's delivery, consuming, decoding,
// booking through the group-commit writer and committing offsets or
// acknowledging. The report's Bus figures are that window.
func streamBus(ctx context.Context, bus *benchBus, srv *benchServer, bc benchConfig, users []string, rep *benchReport, progress io.Writer) error {
	runID := time.Now().UnixNano()
	rng := mrand.New(mrand.NewPCG(uint64(runID), 7))
	var bodies [][]byte
	for lo := 0; lo < bc.Trades; lo += bc.Batch {
		hi := min(lo+bc.Batch, bc.Trades)
		bodies = append(bodies, appendTrades(nil, "v", runID, int64(lo), int64(hi), users, rng))
	}
	fmt.Fprintf(progress, "publishing %d trades to %s in %d messages and waiting until they are booked\n", bc.Trades, bus.via, len(bodies))
	start := time.Now()
	published := make(chan error, 1)
	go func() { published <- bus.publish(ctx, bodies) }()
	for {
		// The server's own count of the trades it booked from the bus
		// (cheap to read, unlike counting journal rows while it writes).
		n, err := busBooked(ctx, srv)
		if err != nil {
			return err
		}
		select {
		case err := <-published:
			if err != nil {
				return fmt.Errorf("publish to %s: %w", bus.via, err)
			}
			published = nil
		default:
		}
		if n >= int64(bc.Trades) {
			break
		}
		if time.Since(start) > 30*time.Minute {
			return fmt.Errorf("%d of %d trades booked through %s after 30 minutes", n, bc.Trades, bus.via)
		}
		time.Sleep(100 * time.Millisecond)
	}
	rep.BusTrades = int64(bc.Trades)
	rep.BusSeconds = time.Since(start).Seconds()
	rep.BusTradesPerSec = float64(bc.Trades) / rep.BusSeconds
	return nil
}

// publish sends bodies to the bench's topic or queue, confirmed.
func (b *benchBus) publish(ctx context.Context, bodies [][]byte) error {
	if b.kafka != nil {
		recs := make([]*kgo.Record, len(bodies))
		for i, body := range bodies {
			recs[i] = &kgo.Record{Value: body}
		}
		return b.kafka.ProduceSync(ctx, recs...).FirstErr()
	}
	ch, err := b.amqp.Channel()
	if err != nil {
		return err
	}
	defer ch.Close()
	if _, err := ch.QueueDeclare(b.topic, true, false, false, false, nil); err != nil {
		return err
	}
	if err := ch.Confirm(false); err != nil {
		return err
	}
	var confs []*amqp.DeferredConfirmation
	for _, body := range bodies {
		c, err := ch.PublishWithDeferredConfirmWithContext(ctx, "", b.topic, false, false,
			amqp.Publishing{ContentType: "application/json", DeliveryMode: amqp.Persistent, Body: body})
		if err != nil {
			return err
		}
		confs = append(confs, c)
	}
	for _, c := range confs {
		if ok, err := c.WaitContext(ctx); err != nil || !ok {
			return fmt.Errorf("a message was not confirmed (%v)", err)
		}
	}
	return nil
}

// busBooked reads the trades the server booked from message buses
// (folio_ingest_trades_total, created) from its /metrics.
func busBooked(ctx context.Context, srv *benchServer) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.base+"/metrics", nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var n float64
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "folio_ingest_trades_total{") && strings.Contains(line, `status="created"`) {
			if i := strings.LastIndexByte(line, ' '); i > 0 {
				v, err := strconv.ParseFloat(line[i+1:], 64)
				if err != nil {
					return 0, fmt.Errorf("/metrics: %q: %w", line, err)
				}
				n += v
			}
		}
	}
	return int64(n), sc.Err()
}
