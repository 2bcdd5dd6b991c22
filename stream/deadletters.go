package stream

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/folioledger/folio/schema"
)

// DeadLetter is a message, or one trade of a batch message, that can never
// be booked, with the reason (the error's code and message, as POST
// /v1/trades would have answered).
type DeadLetter struct {
	ID          string    `json:"id"`
	At          time.Time `json:"at"`
	Source      string    `json:"source"`      // kafka or amqp
	Destination string    `json:"destination"` // topic or queue
	Position    string    `json:"position"`    // partition/offset or delivery tag
	TradeID     string    `json:"trade_id"`    // "" when unknown
	Code        string    `json:"code"`
	Reason      string    `json:"reason"`
	Payload     string    `json:"payload"` // the message or trade, cut to 4 KiB
	Truncated   bool      `json:"truncated"`

	key string // the dedup key: message key, and trade number
	raw []byte // the whole payload, for the dead-letter destination
}

// Raw returns the dead letter's whole payload (not cut), as published to
// the dead-letter topic or queue.
func (d DeadLetter) Raw() []byte { return d.raw }

// recordDeadLetters appends dead letters; one already recorded under the
// same key (a redelivered message) is skipped.
func recordDeadLetters(ctx context.Context, tx pgx.Tx, dead []DeadLetter) error {
	b := &pgx.Batch{}
	for _, d := range dead {
		b.Queue(`INSERT INTO ingest_dead_letters (at, source, destination, position, trade_id, code, reason, payload, truncated, dedup_key)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (dedup_key) DO NOTHING`,
			d.At, d.Source, d.Destination, d.Position, d.TradeID, d.Code, d.Reason, d.Payload, d.Truncated, d.key)
	}
	return tx.SendBatch(ctx, b).Close()
}

// Filter selects dead letters for [List].
type Filter struct {
	AfterAt time.Time // the cursor: after (AfterAt, AfterID)
	AfterID string
	Limit   int // default 100
}

// List returns up to f.Limit dead letters in (time, id) order after the
// cursor.
func List(ctx context.Context, q schema.Querier, f Filter) ([]DeadLetter, error) {
	if f.Limit <= 0 {
		f.Limit = 100
	}
	afterID := f.AfterID
	if afterID == "" {
		afterID = "00000000-0000-0000-0000-000000000000"
	}
	rows, err := q.Query(ctx, `SELECT id::text, at, source, destination, position, trade_id, code, reason, payload, truncated
		FROM ingest_dead_letters WHERE (at, id) > ($1, $2::uuid) ORDER BY at, id LIMIT $3`, f.AfterAt, afterID, f.Limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (DeadLetter, error) {
		var d DeadLetter
		err := r.Scan(&d.ID, &d.At, &d.Source, &d.Destination, &d.Position, &d.TradeID, &d.Code, &d.Reason, &d.Payload, &d.Truncated)
		d.At = d.At.UTC()
		return d, err
	})
}
