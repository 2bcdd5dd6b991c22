package stream_test

import (
	"context"
	"sync"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/folioledger/folio/stream"
	"github.com/folioledger/folio/stream/streamtest"
)

// publish sends bodies to queue (declared durable), persistent, confirmed.
func publish(t *testing.T, url, queue string, bodies [][]byte) {
	t.Helper()
	conn, err := amqp.Dial(url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ch.QueueDeclare(queue, true, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	if err := ch.Confirm(false); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var confs []*amqp.DeferredConfirmation
	for _, b := range bodies {
		c, err := ch.PublishWithDeferredConfirmWithContext(ctx, "", queue, false, false,
			amqp.Publishing{ContentType: "application/json", DeliveryMode: amqp.Persistent, Body: b})
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
}

// getAll takes every message of queue (acking them).
func getAll(t *testing.T, url, queue string) []amqp.Delivery {
	t.Helper()
	conn, err := amqp.Dial(url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	var out []amqp.Delivery
	for {
		d, ok, err := ch.Get(queue, true)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			return out
		}
		out = append(out, d)
	}
}

func (f *fixture) runAMQP(t *testing.T, cfg stream.AMQPConfig) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := f.booker.RunAMQP(ctx, cfg, f.log); err != nil {
			t.Error(err)
		}
	})
	return func() { cancel(); wg.Wait() }
}

// TestAMQPBooksAndDeadLetters: on a private RabbitMQ node, trades of all
// three message forms are booked once each, poison messages go to the dead
// letters (table and queue) with their reason while the rest flow, every
// message is acknowledged only once booked (the queue ends empty), and a
// consumer that loses its connection (the broker closes it) reconnects and
// goes on.
func TestAMQPBooksAndDeadLetters(t *testing.T) {
	f := newFixture(t)
	r := streamtest.StartRabbit(t)
	queue, dlq := "trades", "trades.dead"
	const n = 600
	bodies := messages("a", n)
	mid := len(bodies) / 2
	for _, p := range poison {
		bodies = append(bodies[:mid:mid], append([][]byte{p.body}, bodies[mid:]...)...)
	}
	publish(t, r.URL, queue, bodies)
	cfg := stream.AMQPConfig{URL: r.URL, Queue: queue, DeadLetterQueue: dlq, Prefetch: 100}
	stop := f.runAMQP(t, cfg)
	defer stop()
	f.waitFor(t, n, len(poison), time.Minute)

	// The connection is lost: the consumer reconnects and books the rest.
	r.CloseConnections(t)
	publish(t, r.URL, queue, messages("a2", 30))
	f.waitFor(t, n+30, len(poison), time.Minute)
	stop()

	dead := getAll(t, r.URL, dlq)
	if len(dead) != len(poison) {
		t.Fatalf("%d messages on the dead-letter queue, want %d", len(dead), len(poison))
	}
	codes := map[string]int{}
	for _, d := range dead {
		reason, _ := d.Headers["folio-reason"].(string)
		code, _ := d.Headers["folio-code"].(string)
		if reason == "" {
			t.Errorf("dead letter %q without a reason: %v", d.Body, d.Headers)
		}
		codes[code]++
	}
	for _, p := range poison {
		codes[p.code]--
	}
	for c, k := range codes {
		if k != 0 {
			t.Errorf("dead-letter codes off by %d for %q", k, c)
		}
	}
	if rest := getAll(t, r.URL, queue); len(rest) != 0 {
		t.Errorf("%d messages left unacknowledged on %s, want 0", len(rest), queue)
	}
	f.env.Verify(t)
}
