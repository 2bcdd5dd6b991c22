package audit

import (
	"context"
	"encoding/json"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/folioledger/folio/schema"
)

// Record is one configuration change.
type Record struct {
	ID string `json:"id"`
	// Pos is the record's position in the log: gapless and in commit
	// order (see doc.go, "Position"); the event feed resumes from it.
	Pos    int64           `json:"-"`
	At     time.Time       `json:"at"`
	Actor  string          `json:"actor"`
	Action string          `json:"action"`
	Object string          `json:"object"`
	Before json.RawMessage `json:"before"`
	After  json.RawMessage `json:"after"`
}

// Write appends r to the configuration audit log in the caller's
// transaction, so the record commits or rolls back with the change it
// describes. r.ID and r.Pos are ignored: the database assigns the id, and
// the position is the next of the log's head row, which stays locked until
// the caller's transaction ends: concurrent appenders wait for each other
// (or, at SERIALIZABLE, one fails with a serialization failure that the
// runners retry), so positions are gapless and commit-ordered.
func Write(ctx context.Context, tx pgx.Tx, r Record) error {
	_, err := tx.Exec(ctx, `WITH h AS (UPDATE audit_head SET pos = pos + 1 WHERE id = 1 RETURNING pos)
		INSERT INTO audit_log (pos, at, actor, action, object, before, after)
		SELECT h.pos, $1, $2, $3, $4, $5, $6 FROM h`,
		r.At, r.Actor, r.Action, r.Object, nullJSON(r.Before), nullJSON(r.After))
	return err
}

// After returns up to limit records with a position greater than after, in
// position order, as of q's snapshot. Positions are commit-ordered, so a
// snapshot holds every record up to the largest position it shows: a
// reader resuming from the last position it saw misses none.
func After(ctx context.Context, q schema.Querier, after int64, limit int) ([]Record, error) {
	rows, err := q.Query(ctx, `SELECT id::text, pos, at, actor, action, object, before, after FROM audit_log
		WHERE pos > $1 ORDER BY pos LIMIT $2`, after, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Record, error) {
		var a Record
		var before, after []byte
		err := r.Scan(&a.ID, &a.Pos, &a.At, &a.Actor, &a.Action, &a.Object, &before, &after)
		a.At = a.At.UTC()
		a.Before, a.After = before, after
		return a, err
	})
}

// Change writes the record of a change whose before and after states are
// values to encode as JSON (nil, or a value encoding to null, is none).
func Change(ctx context.Context, tx pgx.Tx, at time.Time, actor, action, object string, before, after any) error {
	return Write(ctx, tx, Record{At: at, Actor: actor, Action: action, Object: object, Before: encode(before), After: encode(after)})
}

func encode(v any) json.RawMessage {
	if v == nil {
		return nil
	}
	b, _ := json.Marshal(v)
	if string(b) == "null" {
		return nil
	}
	return b
}

// Filter selects audit records; (AfterAt, AfterID) is a cursor: only
// records after it in (time, id) order are returned. Empty Object or Action
// match every record; Limit <= 0 means 100.
type Filter struct {
	Object  string
	Action  string
	AfterAt time.Time
	AfterID string
	Limit   int
}

// List returns up to f.Limit audit records in (time, id) order after the
// cursor.
func List(ctx context.Context, q schema.Querier, f Filter) ([]Record, error) {
	if f.Limit <= 0 {
		f.Limit = 100
	}
	afterID := f.AfterID
	if afterID == "" {
		afterID = "00000000-0000-0000-0000-000000000000"
	}
	rows, err := q.Query(ctx, `SELECT id::text, at, actor, action, object, before, after FROM audit_log
		WHERE ($1 = '' OR object = $1) AND ($2 = '' OR action = $2) AND (at, id) > ($3, $4::uuid)
		ORDER BY at, id LIMIT $5`, f.Object, f.Action, f.AfterAt, afterID, f.Limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Record, error) {
		var a Record
		var before, after []byte
		err := r.Scan(&a.ID, &a.At, &a.Actor, &a.Action, &a.Object, &before, &after)
		a.At = a.At.UTC()
		a.Before, a.After = before, after
		return a, err
	})
}

func nullJSON(b json.RawMessage) any {
	if len(b) == 0 {
		return nil
	}
	return []byte(b)
}

// LastPos returns the position of the log's last record as q sees it (0
// when the log is empty).
func LastPos(ctx context.Context, q schema.Querier) (int64, error) {
	var p int64
	err := q.QueryRow(ctx, `SELECT coalesce(max(pos), 0) FROM audit_log`).Scan(&p)
	return p, err
}
