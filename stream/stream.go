package stream

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/folioledger/folio"
	"github.com/folioledger/folio/affiliate"
	"github.com/folioledger/folio/ingest"
	"github.com/folioledger/folio/schema"
	"github.com/jackc/pgx/v5"
)

// Item is one trade of a message, as a [Decoder] read it: the trade, or
// the error that keeps it from decoding, with its raw JSON and its id when
// it has one.
type Item struct {
	ID    string
	Raw   []byte
	Trade affiliate.NewTrade
	Err   error // the trade does not decode; Trade is zero
}

// Decoder reads a message: its trades, in order, or an error when the
// message as a whole is not one trade, an array of trades or
// {"trades": [...]}. `folio serve` uses api.DecodeTradeMessage, the
// decoder of POST /v1/trades, so that a trade means the same on every path.
type Decoder func(msg []byte) ([]Item, error)

// Message is one message taken off a bus.
type Message struct {
	Source      string // SourceKafka or SourceAMQP
	Destination string // the topic or queue it came from
	Position    string // "partition/offset" (Kafka) or the delivery tag (RabbitMQ)
	// Key identifies the message across redeliveries: topic/partition/offset
	// on Kafka; on RabbitMQ the queue and the message id, or its content's
	// hash when it has none.
	Key  string
	Body []byte
}

// The sources of messages.
const (
	SourceKafka = "kafka"
	SourceAMQP  = "amqp"
)

// maxChunksInFlight bounds the chunks of affiliate.MaxTradesPerBatch
// trades that one Book call has queued for the writer at once, well under
// its queue (ingest.Options.QueueSize).
const maxChunksInFlight = 16

// maxPayload bounds the payload kept with a dead letter, in bytes.
const maxPayload = 4096

// Booker books the trades of messages through the ingester (group commit,
// as POST /v1/trades) and records what can never be booked as dead
// letters. The Kafka and RabbitMQ consumers share one.
type Booker struct {
	Ingester *ingest.Ingester
	DB       *schema.DB // where dead letters are recorded (the app pool)
	Decode   Decoder
	Metrics  *Metrics         // nil = none
	Now      func() time.Time // nil = time.Now
}

// Book books the trades of msgs and records the dead letters among them:
// messages that do not decode as a whole, trades that do not decode, and
// trades the engine refuses (unknown user, invalid fee, a trade id booked
// with other content). It returns the dead letters, for the consumer to
// publish to its dead-letter destination, once every trade that could be
// booked is committed and every dead letter recorded: only then may the
// messages be acknowledged.
//
// An error means that nothing may be acknowledged and that msgs are to be
// booked again later: the database is unavailable or the ingester busy
// ([Transient] reports it), or ctx ended. Booking them again is harmless:
// what had committed comes back as exists, and a dead letter is recorded
// once by its key.
func (b *Booker) Book(ctx context.Context, msgs []Message) ([]DeadLetter, error) {
	now := time.Now
	if b.Now != nil {
		now = b.Now
	}
	at := now().UTC().Truncate(time.Microsecond)
	var dead []DeadLetter
	type ref struct{ msg, item int }
	var trades []affiliate.NewTrade
	var refs []ref
	items := make([][]Item, len(msgs))
	for i, m := range msgs {
		its, err := b.Decode(m.Body)
		if err != nil {
			dead = append(dead, newDeadLetter(at, m, -1, "", m.Body, err))
			continue
		}
		items[i] = its
		for k, it := range its {
			if it.Err != nil {
				dead = append(dead, newDeadLetter(at, m, k, it.ID, it.Raw, it.Err))
				continue
			}
			trades = append(trades, it.Trade)
			refs = append(refs, ref{i, k})
		}
	}
	// The chunks go to the writer side by side, so that they share its
	// group commits; nothing is acknowledged before all are committed.
	// They are queued one after the other, in message order, so a
	// trader's trades reach its shard's writer in that order and are
	// booked in it.
	n := (len(trades) + affiliate.MaxTradesPerBatch - 1) / affiliate.MaxTradesPerBatch
	chunks, errs := make([][]affiliate.TradeResult, n), make([]error, n)
	var wg sync.WaitGroup
	inFlight := make(chan struct{}, maxChunksInFlight)
	for k := range n {
		start := k * affiliate.MaxTradesPerBatch
		end := min(start+affiliate.MaxTradesPerBatch, len(trades))
		inFlight <- struct{}{}
		p, err := b.Ingester.EnqueueTrades(trades[start:end])
		if err != nil {
			<-inFlight
			errs[k] = err
			break // the chunks queued so far are waited for; all are booked again
		}
		wg.Go(func() {
			defer func() { <-inFlight }()
			chunks[k], errs[k] = p.Wait(ctx)
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		for _, e := range errs {
			if e != nil && Transient(e) {
				return nil, e // an outage: pause, not a poison message
			}
		}
		return nil, err
	}
	var created, exists int
	for k, res := range chunks {
		start := k * affiliate.MaxTradesPerBatch
		for j, r := range res {
			switch {
			case r.Err != nil && folio.ErrorCode(r.Err) == folio.EUNAVAILABLE:
				return nil, r.Err
			case r.Err != nil:
				x := refs[start+j]
				it := items[x.msg][x.item]
				dead = append(dead, newDeadLetter(at, msgs[x.msg], x.item, it.ID, it.Raw, r.Err))
			case r.Status == affiliate.TradeCreated:
				created++
			default:
				exists++
			}
		}
	}
	if len(dead) > 0 {
		if err := b.DB.Tx(ctx, func(tx pgx.Tx) error { return recordDeadLetters(ctx, tx, dead) }); err != nil {
			return nil, err
		}
	}
	if m := b.Metrics; m != nil && len(msgs) > 0 {
		src := msgs[0].Source
		m.Trades.WithLabelValues(src, affiliate.TradeCreated).Add(float64(created))
		m.Trades.WithLabelValues(src, affiliate.TradeExists).Add(float64(exists))
		for _, d := range dead {
			m.DeadLetters.WithLabelValues(d.Source, d.Destination).Inc()
		}
	}
	return dead, nil
}

// Transient reports whether err, from [Booker.Book], is an outage (the
// database unavailable, the ingester's queue full) rather than a fault of
// the messages: the consumer pauses and books them again.
func Transient(err error) bool {
	return errors.Is(err, ingest.ErrBusy) || schema.IsUnavailable(err) || folio.ErrorCode(err) == folio.EUNAVAILABLE
}

// newDeadLetter describes the dead letter of message m, or of its trade
// number item (-1: the whole message), refused with err.
func newDeadLetter(at time.Time, m Message, item int, tradeID string, payload []byte, err error) DeadLetter {
	code := folio.ErrorCode(err)
	reason := folio.ErrorMessage(err)
	p, truncated := payload, false
	if len(p) > maxPayload {
		p, truncated = p[:maxPayload], true
	}
	key := m.Key
	if item >= 0 {
		key += "#" + strconv.Itoa(item)
	}
	return DeadLetter{
		At: at, Source: m.Source, Destination: m.Destination, Position: m.Position,
		TradeID: clean(tradeID, 128), Code: code, Reason: clean(reason, 1000),
		Payload: clean(string(p), maxPayload), Truncated: truncated, key: key,
		raw: payload,
	}
}

// clean makes s storable as TEXT: valid UTF-8 without NUL, at most n bytes.
func clean(s string, n int) string {
	s = strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
	for len(s) > n {
		_, size := utf8.DecodeLastRuneInString(s)
		s = s[:len(s)-size]
	}
	return s
}

// contentKey is a message's key from its content, for messages that carry
// no id of their own.
func contentKey(body []byte) string {
	sum := sha256.Sum256(body)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// bookAll books msgs as Book does, pausing with backoff while Book fails
// for an outage and booking them again, as often as it takes; it returns
// an error only when ctx ends. A failure that is not an outage (the
// transaction of the trades itself fails) is retried one message at a
// time, and a message that still fails alone becomes a dead letter: no
// message can hold the others back, nor loop.
func (b *Booker) bookAll(ctx context.Context, msgs []Message, log *slog.Logger) ([]DeadLetter, error) {
	var bo backoff
	for {
		dead, err := b.Book(ctx, msgs)
		if err == nil {
			return dead, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if Transient(err) {
			if b.Metrics != nil && len(msgs) > 0 {
				b.Metrics.Pauses.WithLabelValues(msgs[0].Source).Inc()
			}
			log.Warn("ingest paused: the ledger cannot take trades now; retrying", "err", err, "pause", bo.next.String())
			if err := bo.wait(ctx); err != nil {
				return nil, err
			}
			continue
		}
		if len(msgs) > 1 {
			var all []DeadLetter
			for i := range msgs {
				d, err := b.bookAll(ctx, msgs[i:i+1], log)
				if err != nil {
					return nil, err
				}
				all = append(all, d...)
			}
			return all, nil
		}
		log.Error("ingest: a message fails alone; sending it to the dead letters", "err", err, "destination", msgs[0].Destination, "position", msgs[0].Position)
		d := newDeadLetter(time.Now().UTC().Truncate(time.Microsecond), msgs[0], -1, "", msgs[0].Body, err)
		for {
			err := b.DB.Tx(ctx, func(tx pgx.Tx) error { return recordDeadLetters(ctx, tx, []DeadLetter{d}) })
			if err == nil {
				if b.Metrics != nil {
					b.Metrics.DeadLetters.WithLabelValues(d.Source, d.Destination).Inc()
				}
				return []DeadLetter{d}, nil
			}
			log.Warn("ingest paused: cannot record a dead letter; retrying", "err", err)
			if err := bo.wait(ctx); err != nil {
				return nil, err
			}
		}
	}
}
