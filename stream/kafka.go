package stream

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// KafkaConfig is a Kafka consumer (see ParseURL for its URL).
type KafkaConfig struct {
	Brokers         []string
	Topic           string
	Group           string // the consumer group; default "folio"
	DeadLetterTopic string // default Topic + ".dead-letters"
	// MaxPollRecords bounds the records taken by one poll (default 5000).
	MaxPollRecords int
	// Opts are more franz-go options (TLS, SASL, timeouts), applied last.
	Opts []kgo.Opt
}

// header names of a dead letter published to the dead-letter topic or queue.
const (
	headerReason   = "folio-reason"
	headerCode     = "folio-code"
	headerSource   = "folio-source"
	headerPosition = "folio-position"
	headerTradeID  = "folio-trade-id"
)

// RunKafka consumes cfg.Topic in cfg.Group and books its messages until
// ctx is done; it returns an error only if the client cannot be created.
//
// Each partition assigned to this consumer has a worker of its own, which
// lives as long as the assignment: the poll loop hands each partition's
// records to its worker (a queue of kafkaQueuedPolls polls, so fetching
// and decoding overlap booking, with bounded memory) and polls again at
// once. A worker books its partition's records in order — everything
// queued so far in one [Booker.Book] call, so their trades share the
// ingester's group commits — publishes their dead letters, and only then
// commits their offsets; partitions are booked side by side, with no
// barrier between them. A worker books one batch at a time, so a trader's
// trades in one partition are booked in publish order.
//
// Rebalances are blocked from a poll until its records are queued
// (kgo.BlockRebalanceOnPoll), so the workers exist for every partition a
// poll returns. When partitions are revoked or lost (a rebalance, a lost
// session, leaving the group at shutdown), their workers are stopped and
// waited for before the partitions change hands: a batch already booked is
// committed, a batch being booked is abandoned uncommitted, and queued
// records are dropped. The partition's next owner consumes from the last
// committed offset, so it books the abandoned batch again — harmlessly,
// trades by id and dead letters by key — before anything later, which
// keeps each trader's order.
func (b *Booker) RunKafka(ctx context.Context, cfg KafkaConfig, log *slog.Logger) error {
	if cfg.Group == "" {
		cfg.Group = "folio"
	}
	if cfg.DeadLetterTopic == "" {
		cfg.DeadLetterTopic = cfg.Topic + ".dead-letters"
	}
	if cfg.MaxPollRecords <= 0 {
		cfg.MaxPollRecords = 5000
	}
	log = log.With("source", SourceKafka, "topic", cfg.Topic, "group", cfg.Group)
	k := &kafkaConsumer{b: b, cfg: cfg, log: log, ctx: ctx, parts: map[int32]*kafkaWorker{}}
	opts := append([]kgo.Opt{
		kgo.SeedBrokers(cfg.Brokers...),
		kgo.ConsumerGroup(cfg.Group),
		kgo.ConsumeTopics(cfg.Topic),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.OnPartitionsAssigned(k.assigned),
		kgo.OnPartitionsRevoked(k.revoked),
		kgo.OnPartitionsLost(k.revoked),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.AllowAutoTopicCreation(), // the dead-letter topic
	}, cfg.Opts...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("kafka %s: %w", cfg.Topic, err)
	}
	k.cl = cl
	defer func() {
		// Leaving the group revokes every partition: their workers stop
		// (ctx is done, so a batch being booked is abandoned) and nothing
		// unbooked is committed.
		cl.AllowRebalance()
		cl.Close()
		k.stopAll()
	}()
	log.Info("consuming")
	var bo backoff
	for {
		fetches := cl.PollRecords(ctx, cfg.MaxPollRecords)
		if ctx.Err() != nil || fetches.IsClientClosed() {
			return nil
		}
		failed := false
		fetches.EachError(func(topic string, p int32, err error) {
			log.Warn("kafka fetch", "partition", p, "err", err)
			failed = true
		})
		fetches.EachPartition(func(p kgo.FetchTopicPartition) {
			if len(p.Records) > 0 && !failed {
				k.queue(p)
			}
		})
		cl.AllowRebalance()
		if failed {
			if err := bo.wait(ctx); err != nil {
				return nil
			}
		} else {
			bo.reset()
		}
	}
}

// kafkaQueuedPolls bounds the polls of records queued for one partition's
// worker; the poll loop waits when it is full.
const kafkaQueuedPolls = 4

// kafkaConsumer is the state of one RunKafka: a worker per assigned
// partition.
type kafkaConsumer struct {
	b   *Booker
	cl  *kgo.Client
	cfg KafkaConfig
	log *slog.Logger
	ctx context.Context

	mu    sync.Mutex
	parts map[int32]*kafkaWorker
}

// kafkaWorker books one partition's records, in order.
type kafkaWorker struct {
	partition int32
	recs      chan kgo.FetchTopicPartition
	cancel    context.CancelFunc
	done      chan struct{}
}

// assigned starts a worker for each newly assigned partition (before its
// records are fetched).
func (k *kafkaConsumer) assigned(_ context.Context, _ *kgo.Client, assigned map[string][]int32) {
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, p := range assigned[k.cfg.Topic] {
		if k.parts[p] != nil {
			continue
		}
		ctx, cancel := context.WithCancel(k.ctx)
		w := &kafkaWorker{partition: p, recs: make(chan kgo.FetchTopicPartition, kafkaQueuedPolls), cancel: cancel, done: make(chan struct{})}
		k.parts[p] = w
		go k.work(ctx, w)
	}
}

// revoked stops the workers of revoked or lost partitions and waits for
// them, so that the partitions change hands only once nothing of theirs is
// being booked or committed here.
func (k *kafkaConsumer) revoked(_ context.Context, _ *kgo.Client, revoked map[string][]int32) {
	k.mu.Lock()
	var stopped []*kafkaWorker
	for _, p := range revoked[k.cfg.Topic] {
		if w := k.parts[p]; w != nil {
			delete(k.parts, p)
			w.cancel()
			stopped = append(stopped, w)
		}
	}
	k.mu.Unlock()
	for _, w := range stopped {
		<-w.done
	}
}

// stopAll stops every worker still running (the client closed).
func (k *kafkaConsumer) stopAll() {
	k.mu.Lock()
	all := make(map[string][]int32)
	for p := range k.parts {
		all[k.cfg.Topic] = append(all[k.cfg.Topic], p)
	}
	k.mu.Unlock()
	k.revoked(nil, nil, all)
}

// queue hands a poll's records of one partition to its worker, waiting
// while its queue is full. Records of a partition without a worker (not
// assigned here any more) are dropped: uncommitted, they are consumed
// again by the partition's owner.
func (k *kafkaConsumer) queue(p kgo.FetchTopicPartition) {
	k.mu.Lock()
	w := k.parts[p.Partition]
	k.mu.Unlock()
	if w == nil || p.Topic != k.cfg.Topic {
		return
	}
	select {
	case w.recs <- p:
	case <-w.done:
	case <-k.ctx.Done():
	}
}

// work is a partition's worker: it books the queued records in order and
// commits each batch's offsets once it is booked, until it is stopped.
func (k *kafkaConsumer) work(ctx context.Context, w *kafkaWorker) {
	defer close(w.done)
	for {
		var batch kgo.FetchTopicPartition
		select {
		case <-ctx.Done():
			return
		case batch = <-w.recs:
		}
		// Everything queued meanwhile joins the batch: one Book call
		// keeps more trades in the ingester's queue.
	more:
		for len(batch.Records) < k.cfg.MaxPollRecords {
			select {
			case next := <-w.recs:
				batch.Records = append(batch.Records, next.Records...)
				batch.HighWatermark = next.HighWatermark
			default:
				break more
			}
		}
		if err := k.b.kafkaPartition(ctx, k.cl, k.cfg, batch, k.log); err != nil {
			return // stopped: abandoned uncommitted, consumed again by the next owner
		}
		// Booked: commit even if the worker is being stopped (a revoke
		// lets this commit finish before the partition changes hands; a
		// lost partition's commit fails, and its next owner books the
		// batch again harmlessly).
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), kafkaCommitTimeout)
		err := k.cl.CommitRecords(cctx, batch.Records...)
		cancel()
		if err != nil {
			k.log.Warn("kafka commit failed; the records will be consumed again", "partition", w.partition, "err", err)
		}
	}
}

// kafkaCommitTimeout bounds an offset commit.
const kafkaCommitTimeout = 10 * time.Second

// kafkaPartition books one partition's records of a poll, in order, and
// publishes their dead letters; it returns an error only when ctx ends.
func (b *Booker) kafkaPartition(ctx context.Context, cl *kgo.Client, cfg KafkaConfig, p kgo.FetchTopicPartition, log *slog.Logger) error {
	msgs := make([]Message, len(p.Records))
	for i, r := range p.Records {
		pos := strconv.Itoa(int(r.Partition)) + "/" + strconv.FormatInt(r.Offset, 10)
		msgs[i] = Message{Source: SourceKafka, Destination: r.Topic, Position: pos, Key: r.Topic + "/" + pos, Body: r.Value}
	}
	dead, err := b.bookAll(ctx, msgs, log)
	if err != nil {
		return err
	}
	if len(dead) > 0 {
		recs := make([]*kgo.Record, len(dead))
		for i, d := range dead {
			recs[i] = &kgo.Record{Topic: cfg.DeadLetterTopic, Value: d.Raw(), Headers: []kgo.RecordHeader{
				{Key: headerReason, Value: []byte(d.Reason)}, {Key: headerCode, Value: []byte(d.Code)},
				{Key: headerSource, Value: []byte(d.Destination)}, {Key: headerPosition, Value: []byte(d.Position)},
				{Key: headerTradeID, Value: []byte(d.TradeID)},
			}}
		}
		var bo backoff
		for {
			err := cl.ProduceSync(ctx, recs...).FirstErr()
			if err == nil {
				break
			}
			log.Warn("kafka: cannot publish dead letters; retrying", "topic", cfg.DeadLetterTopic, "err", err)
			if err := bo.wait(ctx); err != nil {
				return err
			}
		}
	}
	if b.Metrics != nil {
		last := p.Records[len(p.Records)-1]
		b.Metrics.Lag.WithLabelValues(SourceKafka, p.Topic, strconv.Itoa(int(p.Partition))).Set(float64(max(p.HighWatermark-last.Offset-1, 0)))
	}
	return nil
}
