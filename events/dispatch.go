package events

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Signature headers of a webhook delivery (see doc.go, "Webhooks").
const (
	HeaderWebhookID = "Folio-Webhook-Id"        // the delivery's id (a redelivery has its own)
	HeaderEventID   = "Folio-Event-Id"          // the event's stable id: de-duplicate by it
	HeaderTimestamp = "Folio-Webhook-Timestamp" // Unix seconds, signed with the body
	HeaderSignature = "Folio-Signature"         // v1=<hex HMAC-SHA256(secret, timestamp + "." + body)>
)

// Sign returns the Folio-Signature value of body sent at timestamp (Unix
// seconds, as in Folio-Webhook-Timestamp) with secret.
func Sign(secret, timestamp string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(timestamp))
	m.Write([]byte("."))
	m.Write(body)
	return "v1=" + hex.EncodeToString(m.Sum(nil))
}

// Verify checks a delivery as a receiver should: the signature matches
// (compared in constant time) and the timestamp is within window of now.
// It is the verification recipe of doc.go, in Go.
func Verify(secret, timestamp, signature string, body []byte, now time.Time, window time.Duration) bool {
	ts, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return false
	}
	if d := now.Sub(time.Unix(ts, 0)); d > window || d < -window {
		return false
	}
	return hmac.Equal([]byte(Sign(secret, timestamp, body)), []byte(signature))
}

// Dispatcher copies the feed into each enabled subscription's outbox and
// delivers the outbox, at least once, with exponential backoff. Several
// servers may run one each: a subscription's cursor moves by
// compare-and-set (one server copies each stretch of the feed), and a due
// delivery is claimed by one server at a time with a lease.
type Dispatcher struct {
	Webhooks *Webhooks
	// Render is an event's JSON body (the api's rendering, as GET
	// /v1/events shows it to an admin).
	Render func(ctx context.Context, ev Event) ([]byte, error)
	// Send POSTs body with headers to url and returns the answer's status
	// (0: none) and a short detail (payouts/webhook.Send).
	Send func(ctx context.Context, url string, headers map[string]string, body []byte) (int, string)
	// Server names this process in claims and the attempt log.
	Server string
	// Lease is how long a claim holds a delivery (30 s): a server that
	// dies mid-delivery leaves it to another after this.
	Lease time.Duration
	// Backoff is the first retry delay (1 s), doubled per attempt up to
	// MaxBackoff (10 min).
	Backoff, MaxBackoff time.Duration
	// MaxAttempts marks a delivery failed after so many attempts (20); a
	// failed delivery is sent again only by a redelivery.
	MaxAttempts int
	// Batch bounds the events copied per subscription and the deliveries
	// claimed per round (100).
	Batch int
}

func (d *Dispatcher) defaults() {
	if d.Lease <= 0 {
		d.Lease = 30 * time.Second
	}
	if d.Backoff <= 0 {
		d.Backoff = time.Second
	}
	if d.MaxBackoff <= 0 {
		d.MaxBackoff = 10 * time.Minute
	}
	if d.MaxAttempts <= 0 {
		d.MaxAttempts = 20
	}
	if d.Batch <= 0 {
		d.Batch = 100
	}
}

// backoff is the delay after the n-th failed attempt (n >= 1).
func (d *Dispatcher) backoff(n int) time.Duration {
	b := d.Backoff
	for i := 1; i < n && b < d.MaxBackoff; i++ {
		b *= 2
	}
	return min(b, d.MaxBackoff)
}

// Run runs rounds every interval until ctx is done (at once again while
// a round finds a full batch to deliver); errors are passed to logf and
// retried at the next round.
func (d *Dispatcher) Run(ctx context.Context, every time.Duration, logf func(format string, args ...any)) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		n, err := d.RunOnce(ctx)
		if err != nil && ctx.Err() == nil {
			logf("webhooks: %v", err)
		}
		if err == nil && n >= d.Batch && ctx.Err() == nil {
			continue // a backlog: no pause between rounds
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// RunOnce copies new events into the outboxes and makes one attempt at
// each due delivery it claims; it returns the number of attempts made.
func (d *Dispatcher) RunOnce(ctx context.Context) (int, error) {
	d.defaults()
	subs, err := d.Webhooks.List(ctx)
	if err != nil {
		return 0, err
	}
	for _, s := range subs {
		if s.DisabledAt != nil {
			continue
		}
		if err := d.enqueue(ctx, s); err != nil {
			return 0, err
		}
	}
	return d.deliver(ctx)
}

// enqueue copies the events after s's cursor into its outbox and moves the
// cursor, in one transaction; the cursor moves only from the value read
// (compare-and-set), so two servers never copy the same stretch twice.
func (d *Dispatcher) enqueue(ctx context.Context, s *Subscription) error {
	db := d.Webhooks.DB
	var text string
	if err := db.Pool.QueryRow(ctx, `SELECT cursor FROM webhook_cursors WHERE subscription_id = $1`, s.ID).Scan(&text); err != nil {
		return err
	}
	from, err := ParseCursor(text)
	if err != nil {
		return err
	}
	types := s.Types
	if len(types) == 0 {
		types = nil
	}
	page, err := d.Webhooks.Feed.Read(ctx, from, Filter{Types: types}, d.Batch)
	if err != nil {
		return err
	}
	next := page.Next.String()
	if next == text {
		return nil
	}
	bodies := make([][]byte, len(page.Events))
	for i, ev := range page.Events {
		if bodies[i], err = d.Render(ctx, ev); err != nil {
			return err
		}
	}
	now := d.Webhooks.now()
	return db.Tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE webhook_cursors SET cursor = $2, updated_at = $3 WHERE subscription_id = $1 AND cursor = $4`, s.ID, next, now, text)
		if err != nil || tag.RowsAffected() == 0 {
			return err // another server moved it: its copy stands
		}
		n := len(page.Events)
		if n == 0 {
			return nil
		}
		ids, eventIDs, types, created := make([]string, n), make([]string, n), make([]string, n), make([]time.Time, n)
		for i, ev := range page.Events {
			// Deliveries of one round keep the feed's order by created_at.
			ids[i], eventIDs[i], types[i], created[i] = uuid.NewString(), ev.ID, ev.Type, now.Add(time.Duration(i)*time.Microsecond)
		}
		_, err = tx.Exec(ctx, `INSERT INTO webhook_deliveries (id, subscription_id, event_id, event_type, body, created_at, status, next_attempt_at, updated_at)
			SELECT u.id::uuid, $1, u.ev, u.typ, u.body, u.at, 'pending', $6, $6
			FROM unnest($2::text[], $3::text[], $4::text[], $5::bytea[], $7::timestamptz[]) AS u(id, ev, typ, body, at)`,
			s.ID, ids, eventIDs, types, bodies, now, created)
		return err
	})
}

// claimed is a delivery claimed for one attempt.
type claimed struct {
	id, url, secret, eventID string
	body                     []byte
	attempts                 int
}

// deliver claims due deliveries of enabled subscriptions (pushing their
// due time past the lease, in one serializable transaction: two servers
// claiming the same row conflict and the retry finds it no longer due),
// attempts each and records the outcome.
func (d *Dispatcher) deliver(ctx context.Context) (int, error) {
	db := d.Webhooks.DB
	var batch []claimed
	err := db.Tx(ctx, func(tx pgx.Tx) error {
		batch = batch[:0]
		now := d.Webhooks.now()
		rows, err := tx.Query(ctx, `SELECT d.id::text, s.url, s.secret, d.event_id, d.body, d.attempts
			FROM webhook_deliveries d JOIN webhook_subscriptions s ON s.id = d.subscription_id
			WHERE d.status = 'pending' AND d.next_attempt_at <= $1 AND s.disabled_at IS NULL
			ORDER BY d.next_attempt_at, d.created_at, d.id LIMIT $2 FOR UPDATE OF d`, now, d.Batch)
		if err != nil {
			return err
		}
		for rows.Next() {
			var c claimed
			var n int64
			if err := rows.Scan(&c.id, &c.url, &c.secret, &c.eventID, &c.body, &n); err != nil {
				rows.Close()
				return err
			}
			c.attempts = int(n)
			batch = append(batch, c)
		}
		rows.Close()
		if err := rows.Err(); err != nil || len(batch) == 0 {
			return err
		}
		ids := make([]string, len(batch))
		for i := range batch {
			ids[i] = batch[i].id
		}
		_, err = tx.Exec(ctx, `UPDATE webhook_deliveries SET next_attempt_at = $2, claimed_by = $3, updated_at = $4 WHERE id = ANY($1::uuid[])`,
			ids, now.Add(d.Lease), d.Server, now)
		return err
	})
	if err != nil {
		return 0, err
	}
	for _, c := range batch {
		if err := d.attempt(ctx, c); err != nil {
			return 0, err
		}
	}
	return len(batch), nil
}

// attempt sends one claimed delivery and records the attempt and the
// delivery's new state.
func (d *Dispatcher) attempt(ctx context.Context, c claimed) error {
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	code, detail := d.Send(ctx, c.url, map[string]string{
		HeaderWebhookID: c.id,
		HeaderEventID:   c.eventID,
		HeaderTimestamp: ts,
		HeaderSignature: Sign(c.secret, ts, c.body),
	}, c.body)
	ok := code >= 200 && code < 300
	n := c.attempts + 1
	now := d.Webhooks.now()
	status, next := DeliveryPending, now.Add(d.backoff(n))
	switch {
	case ok:
		status, next = DeliveryDelivered, now
	case n >= d.MaxAttempts:
		status, next = DeliveryFailed, now
	}
	if len(detail) > 512 {
		detail = detail[:512]
	}
	return d.Webhooks.DB.Tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO webhook_attempts (id, delivery_id, n, at, server, status_code, ok, detail) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
			uuid.NewString(), c.id, n, now, d.Server, code, ok, detail); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `UPDATE webhook_deliveries SET status = $2, attempts = $3, next_attempt_at = $4, updated_at = $5 WHERE id = $1`,
			c.id, status, n, next, now)
		return err
	})
}
