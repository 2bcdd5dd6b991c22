package stream_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/folioledger/folio/stream"
	"github.com/folioledger/folio/stream/streamtest"
)

// produce publishes bodies to topic, spread over its partitions.
func produce(t *testing.T, brokers []string, topic string, bodies [][]byte) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	recs := make([]*kgo.Record, len(bodies))
	for i, b := range bodies {
		recs[i] = &kgo.Record{Value: b}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// consumeAll reads every record of topic from the start, for up to within.
func consumeAll(t *testing.T, brokers []string, topic string, want int, within time.Duration) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	var out []*kgo.Record
	for len(out) < want && ctx.Err() == nil {
		out = append(out, cl.PollFetches(ctx).Records()...)
	}
	return out
}

func header(r *kgo.Record, key string) string {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

// runKafka runs the booker's Kafka consumer until the returned stop is called.
func (f *fixture) runKafka(t *testing.T, cfg stream.KafkaConfig) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := f.booker.RunKafka(ctx, cfg, f.log); err != nil {
			t.Error(err)
		}
	})
	return func() { cancel(); wg.Wait() }
}

// TestKafkaBooksAndDeadLetters: the trades of messages of all three forms
// on four partitions are booked once each; poison messages go to the dead
// letters (table and topic) with their reason while the rest flow; offsets
// are committed after booking, so a consumer of the same group started
// later books nothing again; the ledger verifies.
func TestKafkaBooksAndDeadLetters(t *testing.T) {
	f := newFixture(t)
	topic, dlq := "trades-"+streamtest.Suffix(), "dead-"+streamtest.Suffix()
	brokers := streamtest.Kafka(t, 4, topic, dlq)
	const n = 600
	bodies := messages("k", n)
	// Poison in the middle of the stream: the messages after it flow.
	mid := len(bodies) / 2
	for _, p := range poison {
		bodies = append(bodies[:mid:mid], append([][]byte{p.body}, bodies[mid:]...)...)
	}
	produce(t, brokers, topic, bodies)

	cfg := stream.KafkaConfig{Brokers: brokers, Topic: topic, Group: "g-" + streamtest.Suffix(), DeadLetterTopic: dlq}
	stop := f.runKafka(t, cfg)
	f.waitFor(t, n, len(poison), time.Minute)
	stop()

	recs := consumeAll(t, brokers, dlq, len(poison), 30*time.Second)
	if len(recs) != len(poison) {
		t.Fatalf("%d records on the dead-letter topic, want %d", len(recs), len(poison))
	}
	codes := map[string]int{}
	for _, r := range recs {
		if header(r, "folio-reason") == "" || header(r, "folio-source") != topic {
			t.Errorf("dead letter %q: headers %v, want a reason and source %s", r.Value, r.Headers, topic)
		}
		codes[header(r, "folio-code")]++
	}
	for _, p := range poison {
		codes[p.code]--
	}
	for c, k := range codes {
		if k != 0 {
			t.Errorf("dead-letter codes off by %d for %q: %v", k, c, recs)
		}
	}
	// Committed: the same group books nothing again, and takes new messages.
	created := testCounter(f.metrics.Trades.WithLabelValues("kafka", "created"))
	produce(t, brokers, topic, messages("k2", 10))
	stop = f.runKafka(t, cfg)
	f.waitFor(t, n+10, len(poison), time.Minute)
	stop()
	if got := testCounter(f.metrics.Trades.WithLabelValues("kafka", "exists")); got != 0 {
		t.Errorf("%v trades consumed again after the commit, want 0", got)
	}
	if got := testCounter(f.metrics.Trades.WithLabelValues("kafka", "created")) - created; got != 10 {
		t.Errorf("%v new trades created, want 10", got)
	}
	f.env.Verify(t)
	if got := f.env.Balance(t, "101:USDT"); got != "0" && got != "0.000000" {
		t.Errorf("101:USDT = %s, want 0", got)
	}
}

// TestKafkaRebalance: two consumers of one group share four partitions
// while trades stream in — the second joins midway, the first leaves
// midway — and every trade is booked (none lost across the rebalances,
// each once: the ledger verifies and 101 is zero).
func TestKafkaRebalance(t *testing.T) {
	f := newFixture(t)
	topic := "trades-" + streamtest.Suffix()
	brokers := streamtest.Kafka(t, 4, topic)
	cfg := stream.KafkaConfig{Brokers: brokers, Topic: topic, Group: "g-" + streamtest.Suffix(), MaxPollRecords: 20}
	const rounds, per = 6, 150
	stopA := f.runKafka(t, cfg)
	var stopB func()
	for r := range rounds {
		produce(t, brokers, topic, messages(fmt.Sprintf("r%d", r), per))
		switch r {
		case 1:
			stopB = f.runKafka(t, cfg) // joins: the partitions are shared out again
		case 3:
			stopA() // leaves: B takes every partition
		}
		time.Sleep(300 * time.Millisecond)
	}
	f.waitFor(t, rounds*per, 0, 2*time.Minute)
	stopB()
	f.env.Verify(t)
	if got := f.env.Balance(t, "101:USDT"); got != "0" && got != "0.000000" {
		t.Errorf("101:USDT = %s, want 0", got)
	}
	t.Logf("%v trades consumed again after a rebalance (exists)", testCounter(f.metrics.Trades.WithLabelValues("kafka", "exists")))
}
