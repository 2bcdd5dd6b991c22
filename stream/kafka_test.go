package stream_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
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

// produceTo publishes bodies to one partition of topic, in order.
func produceTo(t *testing.T, brokers []string, topic string, partition int32, bodies [][]byte) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	recs := make([]*kgo.Record, len(bodies))
	for i, b := range bodies {
		recs[i] = &kgo.Record{Value: b, Partition: partition}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// bookedOrder returns the ids of the trades booked with ids prefix-N, in
// the journal's order (the fixture's journal has one shard).
func (f *fixture) bookedOrder(t *testing.T, prefix string) []string {
	t.Helper()
	rows, err := f.env.DB.Admin.Query(context.Background(),
		`SELECT substr(idempotency_key, 7) FROM entries WHERE idempotency_key LIKE 'trade:' || $1 || '-%' ORDER BY seq`, prefix)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

// TestKafkaPartitionOrder: with a worker per partition, records queued
// while a batch is booked joining the next batch, and batches of more than
// one chunk, each trader's trades (one trader per partition here) are
// booked in the order they were published.
func TestKafkaPartitionOrder(t *testing.T) {
	f := newFixture(t)
	topic := "trades-" + streamtest.Suffix()
	brokers := streamtest.Kafka(t, 2, topic)
	cfg := stream.KafkaConfig{Brokers: brokers, Topic: topic, Group: "g-" + streamtest.Suffix(), MaxPollRecords: 7}
	// Partition 0: trader D, single trades then three arrays of 600 (one
	// Book call of more than 1000 trades: two chunks side by side) then
	// single trades again. Partition 1: trader C, single trades.
	var bodiesD, bodiesC [][]byte
	n := 0
	single := func(user, prefix string, i int) []byte {
		return mustJSON(tradeJSON(fmt.Sprintf("%s-%05d", prefix, i), user, "1"))
	}
	for range 150 {
		bodiesD = append(bodiesD, single("D", "ordD", n))
		n++
	}
	for range 3 {
		var ts []any
		for range 600 {
			ts = append(ts, tradeJSON(fmt.Sprintf("ordD-%05d", n), "D", "1"))
			n++
		}
		bodiesD = append(bodiesD, mustJSON(ts))
	}
	for range 150 {
		bodiesD = append(bodiesD, single("D", "ordD", n))
		n++
	}
	for i := range 300 {
		bodiesC = append(bodiesC, single("C", "ordC", i))
	}
	stop := f.runKafka(t, cfg)
	defer stop()
	produceTo(t, brokers, topic, 0, bodiesD[:200])
	produceTo(t, brokers, topic, 1, bodiesC[:100])
	produceTo(t, brokers, topic, 0, bodiesD[200:])
	produceTo(t, brokers, topic, 1, bodiesC[100:])
	f.waitFor(t, n+300, 0, 2*time.Minute)
	for prefix, want := range map[string]int{"ordD": n, "ordC": 300} {
		ids := f.bookedOrder(t, prefix)
		if len(ids) != want {
			t.Fatalf("%s: %d trades in the journal, want %d", prefix, len(ids), want)
		}
		for i := 1; i < len(ids); i++ {
			if ids[i-1] >= ids[i] {
				t.Fatalf("%s: %s booked before %s, against the publish order", prefix, ids[i-1], ids[i])
			}
		}
	}
	f.env.Verify(t)
}

// TestKafkaStopMidBatch: a consumer leaving its group (its partitions
// revoked) while a batch is being booked abandons that batch without
// committing its offsets; the next consumer of the group books it again
// from the last committed offset, and every trade is booked exactly once.
func TestKafkaStopMidBatch(t *testing.T) {
	f := newFixture(t)
	topic := "trades-" + streamtest.Suffix()
	brokers := streamtest.Kafka(t, 1, topic)
	cfg := stream.KafkaConfig{Brokers: brokers, Topic: topic, Group: "g-" + streamtest.Suffix(), MaxPollRecords: 10}
	var bodies [][]byte
	for i := range 60 {
		bodies = append(bodies, mustJSON(tradeJSON(fmt.Sprintf("mid-%d", i), "D", "1")))
	}
	produce(t, brokers, topic, bodies)

	// Consumer A books its first batch, then blocks decoding the second.
	entered, release := make(chan struct{}), make(chan struct{})
	var calls sync.Mutex
	decoded := 0
	gated := &stream.Booker{Ingester: f.booker.Ingester, DB: f.booker.DB, Metrics: f.booker.Metrics}
	gated.Decode = func(msg []byte) ([]stream.Item, error) {
		calls.Lock()
		decoded++
		block := decoded == 11 // the first message of the second batch
		calls.Unlock()
		if block {
			close(entered)
			<-release
		}
		return f.booker.Decode(msg)
	}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		if err := gated.RunKafka(ctx, cfg, f.log); err != nil {
			t.Error(err)
		}
	}()
	select {
	case <-entered:
	case <-time.After(time.Minute):
		t.Fatal("consumer A never reached its second batch")
	}
	cancel() // A leaves: its partition is revoked mid-batch
	time.Sleep(200 * time.Millisecond)
	select {
	case <-stopped:
		t.Fatal("A left while its worker was still booking")
	default:
	}
	close(release)
	<-stopped
	created := testCounter(f.metrics.Trades.WithLabelValues("kafka", "created"))
	if created < 10 {
		t.Fatalf("A created %v trades before leaving, want its first batch (10)", created)
	}

	// Consumer B, same group, books everything from A's last commit.
	stopB := f.runKafka(t, cfg)
	defer stopB()
	f.waitFor(t, 60, 0, time.Minute)
	time.Sleep(300 * time.Millisecond)
	created = testCounter(f.metrics.Trades.WithLabelValues("kafka", "created"))
	exists := testCounter(f.metrics.Trades.WithLabelValues("kafka", "exists"))
	// The abandoned batch committed in the ledger (its chunks were queued
	// for the writer) but was not counted by A, which stopped waiting: B
	// books it again and finds it there. So A's first batch (10 created)
	// and B's 50 messages (created or exists) account for every trade once.
	if created+exists != 60 {
		t.Errorf("%v created + %v exists, want 60: A's committed batch and B's 50 messages", created, exists)
	}
	if exists < 1 {
		t.Errorf("%v trades came back as exists: the abandoned batch was committed, not consumed again", exists)
	}
	if exists >= 60 {
		t.Errorf("%v trades came back as exists: A's first batch was not committed", exists)
	}
	var entries int
	if err := f.env.DB.Admin.QueryRow(context.Background(), `SELECT count(*) FROM entries WHERE idempotency_key LIKE 'trade:mid-%'`).Scan(&entries); err != nil {
		t.Fatal(err)
	}
	if entries != 60 {
		t.Errorf("%d trade entries, want 60", entries)
	}
	f.env.Verify(t)
}
