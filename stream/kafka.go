package stream

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"sync"

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
// Each poll takes up to MaxPollRecords records; each partition's records
// are booked in order (partitions side by side, so their trades share the
// ingester's group commits), their dead letters published to the
// dead-letter topic, and only then are the records' offsets committed.
// Rebalances are blocked while a poll is being processed
// (kgo.BlockRebalanceOnPoll) and allowed once its offsets are committed,
// so a partition changes hands only at a committed offset. A poll left
// unfinished (shutdown, crash, lost session) is not committed: its records
// are consumed again, by this consumer or another, and booking them again
// is harmless (trades by id, dead letters by key).
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
	opts := append([]kgo.Opt{
		kgo.SeedBrokers(cfg.Brokers...),
		kgo.ConsumerGroup(cfg.Group),
		kgo.ConsumeTopics(cfg.Topic),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.AllowAutoTopicCreation(), // the dead-letter topic
	}, cfg.Opts...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("kafka %s: %w", cfg.Topic, err)
	}
	defer func() {
		// Leaving the group waits for the poll being processed to allow
		// rebalancing; nothing uncommitted is committed (autocommit off).
		cl.AllowRebalance()
		cl.Close()
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
		var wg sync.WaitGroup
		done := true
		var mu sync.Mutex
		fetches.EachPartition(func(p kgo.FetchTopicPartition) {
			if len(p.Records) == 0 {
				return
			}
			wg.Go(func() {
				if err := b.kafkaPartition(ctx, cl, cfg, p, log); err != nil {
					mu.Lock()
					done = false
					mu.Unlock()
				}
			})
		})
		wg.Wait()
		if !done || ctx.Err() != nil {
			return nil // not committed: consumed again after a restart
		}
		if recs := fetches.Records(); len(recs) > 0 {
			if err := cl.CommitRecords(ctx, recs...); err != nil {
				// The group moved on (a lost session): whoever holds the
				// partitions now consumes these records again.
				log.Warn("kafka commit failed; the records will be consumed again", "err", err)
			}
		}
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
