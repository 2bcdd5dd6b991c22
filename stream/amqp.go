package stream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// AMQPConfig is a RabbitMQ consumer (see ParseURL for its URL).
type AMQPConfig struct {
	URL             string // amqp://user:pass@host:port/vhost, without the query
	Queue           string
	DeadLetterQueue string // default Queue + ".dead-letters"
	// Prefetch bounds the unacknowledged messages delivered to the
	// consumer (basic.qos; default 1000).
	Prefetch int
}

// depthInterval is how often the queue's depth is read for the lag metric.
const depthInterval = 5 * time.Second

// RunAMQP consumes cfg.Queue and books its messages until ctx is done,
// reconnecting with backoff whenever the connection or channel is lost.
//
// It takes the messages delivered so far (at most Prefetch are
// unacknowledged at any time) as a batch, books it — up to
// amqpBatchesInFlight batches side by side — publishes its dead letters to
// the dead-letter queue with publisher confirms, and only then
// acknowledges its messages: once every earlier delivery is booked too,
// with one multiple ack for the booked prefix. Messages unacknowledged when the
// connection drops or the process dies are redelivered by the broker;
// booking them again is harmless.
func (b *Booker) RunAMQP(ctx context.Context, cfg AMQPConfig, log *slog.Logger) error {
	if cfg.DeadLetterQueue == "" {
		cfg.DeadLetterQueue = cfg.Queue + ".dead-letters"
	}
	if cfg.Prefetch <= 0 {
		cfg.Prefetch = 1000
	}
	log = log.With("source", SourceAMQP, "queue", cfg.Queue)
	var bo backoff
	for {
		connected, err := b.amqpSession(ctx, cfg, log)
		if ctx.Err() != nil {
			return nil
		}
		if connected {
			bo.reset()
		}
		log.Warn("amqp: connection lost; reconnecting", "err", err, "pause", max(bo.next, backoffMin).String())
		if bo.wait(ctx) != nil {
			return nil
		}
	}
}

// amqpSession consumes over one connection until it fails or ctx ends;
// connected tells whether it got as far as consuming.
func (b *Booker) amqpSession(ctx context.Context, cfg AMQPConfig, log *slog.Logger) (connected bool, err error) {
	conn, err := amqp.DialConfig(cfg.URL, amqp.Config{Heartbeat: 10 * time.Second, Properties: amqp.Table{"connection_name": "folio ingest"}})
	if err != nil {
		return false, err
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		return false, err
	}
	if err := ch.Qos(cfg.Prefetch, 0, false); err != nil {
		return false, err
	}
	for _, q := range []string{cfg.Queue, cfg.DeadLetterQueue} {
		if _, err := ch.QueueDeclare(q, true, false, false, false, nil); err != nil {
			return false, fmt.Errorf("declare queue %s: %w", q, err)
		}
	}
	pub, err := conn.Channel()
	if err != nil {
		return false, err
	}
	if err := pub.Confirm(false); err != nil {
		return false, err
	}
	deliveries, err := ch.ConsumeWithContext(ctx, cfg.Queue, "", false, false, false, false, nil)
	if err != nil {
		return false, err
	}
	log.Info("consuming", "prefetch", cfg.Prefetch)
	b.queueDepth(pub, cfg.Queue)
	depth := time.NewTicker(depthInterval)
	defer depth.Stop()
	closed := conn.NotifyClose(make(chan *amqp.Error, 1))
	// Batches are booked side by side (their trades share group commits),
	// each acknowledging its own messages once booked; a failure of one
	// (a dead letter not confirmed, an ack refused) ends the session.
	inFlight := make(chan struct{}, amqpBatchesInFlight)
	acks := &acker{ch: ch, next: 1, done: map[uint64]bool{}}
	failed := make(chan error, 1)
	var pubMu sync.Mutex
	var wg sync.WaitGroup
	// When the session ends, its batches stop too (unacknowledged: the
	// broker redelivers them on the next connection).
	sctx, cancel := context.WithCancel(ctx)
	defer wg.Wait()
	defer cancel()
	for {
		var first amqp.Delivery
		var ok bool
		select {
		case <-ctx.Done():
			return true, nil
		case e := <-closed:
			return true, e
		case err := <-failed:
			return true, err
		case <-depth.C:
			b.queueDepth(pub, cfg.Queue)
			continue
		case first, ok = <-deliveries:
			if !ok {
				return true, errors.New("the delivery channel closed")
			}
		}
		batch := []amqp.Delivery{first}
	more:
		for len(batch) < cfg.Prefetch {
			select {
			case d, ok := <-deliveries:
				if !ok {
					break more
				}
				batch = append(batch, d)
			default:
				break more
			}
		}
		select {
		case inFlight <- struct{}{}:
		case <-ctx.Done():
			return true, nil
		case err := <-failed:
			return true, err
		}
		wg.Go(func() {
			defer func() { <-inFlight }()
			if err := b.amqpBatch(sctx, pub, &pubMu, acks, cfg, batch, log); err != nil {
				select {
				case failed <- err:
				default:
				}
			}
		})
	}
}

// amqpBatchesInFlight bounds the batches of deliveries being booked at
// once on one connection (all within the prefetch window).
const amqpBatchesInFlight = 32

// amqpBatch books a batch of deliveries, publishes its dead letters
// (confirmed) and acknowledges its messages; it returns nil without
// acknowledging anything when ctx ends first (the broker redelivers).
func (b *Booker) amqpBatch(ctx context.Context, pub *amqp.Channel, pubMu *sync.Mutex, acks *acker, cfg AMQPConfig, batch []amqp.Delivery, log *slog.Logger) error {
	msgs := make([]Message, len(batch))
	for i, d := range batch {
		key := d.MessageId
		if key == "" {
			key = contentKey(d.Body)
		}
		msgs[i] = Message{Source: SourceAMQP, Destination: cfg.Queue, Position: strconv.FormatUint(d.DeliveryTag, 10),
			Key: cfg.Queue + "/" + key, Body: d.Body}
	}
	dead, err := b.bookAll(ctx, msgs, log)
	if err != nil {
		return nil // ctx ended: unacknowledged, redelivered
	}
	if len(dead) > 0 {
		pubMu.Lock()
		defer pubMu.Unlock()
	}
	for _, d := range dead {
		conf, err := pub.PublishWithDeferredConfirmWithContext(ctx, "", cfg.DeadLetterQueue, false, false, amqp.Publishing{
			ContentType: "application/json", DeliveryMode: amqp.Persistent, Body: d.Raw(),
			Headers: amqp.Table{headerReason: d.Reason, headerCode: d.Code, headerSource: d.Destination,
				headerPosition: d.Position, headerTradeID: d.TradeID},
		})
		if err != nil {
			return fmt.Errorf("publish a dead letter: %w", err)
		}
		if ok, err := conf.WaitContext(ctx); err != nil || !ok {
			return fmt.Errorf("publish a dead letter: not confirmed (%v)", err)
		}
	}
	tags := make([]uint64, len(batch))
	for i, d := range batch {
		tags[i] = d.DeliveryTag
	}
	if err := acks.ack(tags); err != nil {
		return fmt.Errorf("ack: %w", err)
	}
	return nil
}

// acker acknowledges a channel's deliveries in delivery order. Batches are
// booked side by side and finish in any order; each marks its delivery
// tags booked, and the longest prefix of the channel's deliveries that is
// all booked is acknowledged with one multiple ack (basic.ack with
// multiple set: every tag up to it). A delivery is never acknowledged
// before it is booked; one booked after an earlier delivery that never
// is (its batch stopped with the session) stays unacknowledged and is
// redelivered, harmlessly.
type acker struct {
	mu   sync.Mutex
	ch   *amqp.Channel
	next uint64          // the first delivery tag not acknowledged (tags count from 1)
	done map[uint64]bool // tags booked but not yet acknowledged
}

func (a *acker) ack(tags []uint64) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, t := range tags {
		a.done[t] = true
	}
	var last uint64
	for a.done[a.next] {
		delete(a.done, a.next)
		last = a.next
		a.next++
	}
	if last == 0 {
		return nil
	}
	return a.ch.Ack(last, true)
}

// queueDepth sets the lag metric to the queue's ready messages.
func (b *Booker) queueDepth(ch *amqp.Channel, queue string) {
	if b.Metrics == nil {
		return
	}
	if q, err := ch.QueueDeclarePassive(queue, true, false, false, false, nil); err == nil {
		b.Metrics.Lag.WithLabelValues(SourceAMQP, queue, "").Set(float64(q.Messages))
	}
}
