package events

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/folioledger/folio"
	"github.com/folioledger/folio/audit"
	"github.com/folioledger/folio/schema"
)

// Subscription is a webhook subscription: the events of Types (nil: all)
// are POSTed to URL, signed with Secret.
type Subscription struct {
	ID         string
	URL        string
	Types      []string
	Secret     string // shown once, on creation; "" when listed
	CreatedBy  string
	CreatedAt  time.Time
	DisabledBy string
	DisabledAt *time.Time
}

// Delivery is one event to deliver to a subscription, with its attempts.
type Delivery struct {
	ID             string
	SubscriptionID string
	EventID        string
	EventType      string
	RedeliveryOf   string
	CreatedAt      time.Time
	Status         string // pending, delivered, failed
	Attempts       int
	NextAttemptAt  time.Time
	Log            []Attempt
}

// Attempt is one HTTP attempt of a delivery (the append-only attempt log).
type Attempt struct {
	N          int
	At         time.Time
	Server     string
	StatusCode int
	OK         bool
	Detail     string
}

// Delivery statuses.
const (
	DeliveryPending   = "pending"
	DeliveryDelivered = "delivered"
	DeliveryFailed    = "failed"
)

// Webhooks manages subscriptions and their deliveries.
type Webhooks struct {
	DB   *schema.DB
	Feed *Feed
	Now  func() time.Time // nil = time.Now
	// AllowPrivate lets subscriptions name internal receivers: loopback,
	// private, link-local and other addresses RefusedAddress refuses
	// (`folio serve --webhook-allow-private`). Without it Create refuses
	// a URL whose host is such an address literally, or localhost.
	AllowPrivate bool
}

func (w *Webhooks) now() time.Time {
	if w.Now != nil {
		return w.Now().UTC().Truncate(time.Microsecond)
	}
	return time.Now().UTC().Truncate(time.Microsecond)
}

// Limits of a subscription.
const (
	MaxURLLength    = 2048
	minSecretLength = 16
	maxSecretLength = 256
)

// NewSubscription is a request to subscribe.
type NewSubscription struct {
	URL    string
	Types  []string // event types or families; nil = every event
	Secret string   // "" = generate one
}

// ValidateURL checks a webhook URL: absolute http or https, with a host,
// no credentials and no fragment.
func ValidateURL(raw string) error {
	bad := func(why string) error {
		return &folio.Error{Code: folio.EINVALID, Fields: []string{"url"}, Message: "url " + why}
	}
	if raw == "" || len(raw) > MaxURLLength {
		return bad("must be an http or https URL of at most 2048 characters")
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() {
		return bad("must be an absolute http or https URL")
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return bad("must use http or https, not " + truncate(u.Scheme, 16))
	case u.Host == "" || u.Hostname() == "":
		return bad("has no host")
	case u.User != nil:
		return bad("may not carry credentials; put the secret in the signature")
	case u.Fragment != "" || strings.ContainsAny(raw, " \t\r\n"):
		return bad("may not carry a fragment or white space")
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// Create subscribes in.URL to in.Types from the feed's current end (events
// recorded before are not delivered), audit-logged as webhook.create
// (without the secret). The secret, generated when in.Secret is "", is
// returned in the result and never shown again.
func (w *Webhooks) Create(ctx context.Context, in NewSubscription, actor string) (*Subscription, error) {
	if err := ValidateURL(in.URL); err != nil {
		return nil, err
	}
	if err := w.checkHost(in.URL); err != nil {
		return nil, err
	}
	types, err := ParseTypes(strings.Join(in.Types, ","))
	if err != nil {
		return nil, err
	}
	if in.Types != nil && len(in.Types) == 0 {
		return nil, &folio.Error{Code: folio.EINVALID, Fields: []string{"types"}, Message: "types, when given, lists at least one type; omit it for every event"}
	}
	secret := in.Secret
	if secret == "" {
		var b [32]byte
		_, _ = rand.Read(b[:])
		secret = "whsec_" + hex.EncodeToString(b[:])
	} else if len(secret) < minSecretLength || len(secret) > maxSecretLength || strings.ContainsFunc(secret, func(r rune) bool { return r <= ' ' || r > '~' }) {
		return nil, &folio.Error{Code: folio.EINVALID, Fields: []string{"secret"},
			Message: "secret must be 16 to 256 printable ASCII characters without spaces; omit it to have one generated"}
	}
	head, err := w.Feed.Head(ctx)
	if err != nil {
		return nil, err
	}
	s := &Subscription{ID: uuid.NewString(), URL: in.URL, Types: types, Secret: secret, CreatedBy: actor, CreatedAt: w.now()}
	if s.Types == nil {
		s.Types = []string{}
	}
	typesJSON, _ := json.Marshal(s.Types)
	err = w.DB.Tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO webhook_subscriptions (id, url, types, secret, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6)`,
			s.ID, s.URL, typesJSON, s.Secret, actor, s.CreatedAt); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO webhook_cursors (subscription_id, cursor, updated_at) VALUES ($1, $2, $3)`,
			s.ID, head.String(), s.CreatedAt); err != nil {
			return err
		}
		return audit.Change(ctx, tx, s.CreatedAt, actor, "webhook.create", "webhook:"+s.ID, nil, map[string]any{"url": s.URL, "types": s.Types})
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

const subscriptionColumns = `id::text, url, types::text, created_by, created_at, coalesce(disabled_by, ''), disabled_at`

func scanSubscription(row pgx.Row) (*Subscription, error) {
	s := &Subscription{}
	var types string
	if err := row.Scan(&s.ID, &s.URL, &types, &s.CreatedBy, &s.CreatedAt, &s.DisabledBy, &s.DisabledAt); err != nil {
		return nil, err
	}
	s.CreatedAt = s.CreatedAt.UTC()
	if s.DisabledAt != nil {
		t := s.DisabledAt.UTC()
		s.DisabledAt = &t
	}
	if err := json.Unmarshal([]byte(types), &s.Types); err != nil {
		return nil, err
	}
	return s, nil
}

// List returns every subscription (without secrets), oldest first.
func (w *Webhooks) List(ctx context.Context) ([]*Subscription, error) {
	rows, err := w.DB.Pool.Query(ctx, `SELECT `+subscriptionColumns+` FROM webhook_subscriptions ORDER BY created_at, id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*Subscription
	for rows.Next() {
		s, err := scanSubscription(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// Get returns a subscription (without its secret), or not_found.
func (w *Webhooks) Get(ctx context.Context, id string) (*Subscription, error) {
	return getSubscription(ctx, w.DB.Pool, id)
}

func getSubscription(ctx context.Context, q schema.Querier, id string) (*Subscription, error) {
	if _, err := uuid.Parse(id); err != nil || len(id) != 36 {
		return nil, folio.Errorf(folio.ENOTFOUND, "no webhook %s", truncate(id, 64))
	}
	s, err := scanSubscription(q.QueryRow(ctx, `SELECT `+subscriptionColumns+` FROM webhook_subscriptions WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, folio.Errorf(folio.ENOTFOUND, "no webhook %s", id)
	}
	return s, err
}

// Disable stops a subscription: nothing more is queued or delivered for
// it; it and its delivery log stay readable. Disabling a disabled
// subscription changes nothing.
func (w *Webhooks) Disable(ctx context.Context, id, actor string) (*Subscription, error) {
	var s *Subscription
	err := w.DB.Tx(ctx, func(tx pgx.Tx) error {
		var err error
		if s, err = getSubscription(ctx, tx, id); err != nil || s.DisabledAt != nil {
			return err
		}
		now := w.now()
		if _, err := tx.Exec(ctx, `UPDATE webhook_subscriptions SET disabled_by = $2, disabled_at = $3 WHERE id = $1`, id, actor, now); err != nil {
			return err
		}
		s.DisabledBy, s.DisabledAt = actor, &now
		return audit.Change(ctx, tx, now, actor, "webhook.disable", "webhook:"+id, map[string]bool{"enabled": true}, map[string]bool{"enabled": false})
	})
	return s, err
}

const deliveryColumns = `id::text, subscription_id::text, event_id, event_type, coalesce(redelivery_of::text, ''), created_at, status, attempts, next_attempt_at`

func scanDelivery(row pgx.Row) (*Delivery, error) {
	d := &Delivery{}
	var attempts int64
	if err := row.Scan(&d.ID, &d.SubscriptionID, &d.EventID, &d.EventType, &d.RedeliveryOf, &d.CreatedAt, &d.Status, &attempts, &d.NextAttemptAt); err != nil {
		return nil, err
	}
	d.Attempts, d.CreatedAt, d.NextAttemptAt = int(attempts), d.CreatedAt.UTC(), d.NextAttemptAt.UTC()
	return d, nil
}

// Deliveries returns a subscription's deliveries after (afterAt, afterID)
// in (created_at, id) order, up to limit, each with its attempt log.
func (w *Webhooks) Deliveries(ctx context.Context, subscription string, afterAt time.Time, afterID string, limit int) ([]*Delivery, error) {
	if _, err := w.Get(ctx, subscription); err != nil {
		return nil, err
	}
	if afterID == "" {
		afterID = "00000000-0000-0000-0000-000000000000"
	}
	var out []*Delivery
	err := w.DB.ReadTx(ctx, func(tx pgx.Tx) error {
		out = nil
		rows, err := tx.Query(ctx, `SELECT `+deliveryColumns+` FROM webhook_deliveries
			WHERE subscription_id = $1 AND (created_at, id) > ($2, $3::uuid) ORDER BY created_at, id LIMIT $4`, subscription, afterAt, afterID, limit)
		if err != nil {
			return err
		}
		byID := map[string]*Delivery{}
		var ids []string
		for rows.Next() {
			d, err := scanDelivery(rows)
			if err != nil {
				rows.Close()
				return err
			}
			d.Log = []Attempt{}
			out = append(out, d)
			byID[d.ID] = d
			ids = append(ids, d.ID)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		rows, err = tx.Query(ctx, `SELECT delivery_id::text, n, at, server, status_code, ok, detail FROM webhook_attempts
			WHERE delivery_id = ANY($1::uuid[]) ORDER BY delivery_id, n`, ids)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id string
			var a Attempt
			var n, code int64
			if err := rows.Scan(&id, &n, &a.At, &a.Server, &code, &a.OK, &a.Detail); err != nil {
				return err
			}
			a.N, a.StatusCode, a.At = int(n), int(code), a.At.UTC()
			byID[id].Log = append(byID[id].Log, a)
		}
		return rows.Err()
	})
	return out, err
}

// Redeliver queues a delivery's event again for its subscription, now: a
// new delivery naming the one it repeats, with the same event id and body
// (the receiver de-duplicates by the event id if it must). The
// subscription must be enabled (else conflict).
func (w *Webhooks) Redeliver(ctx context.Context, subscription, delivery, actor string) (*Delivery, error) {
	var d *Delivery
	err := w.DB.Tx(ctx, func(tx pgx.Tx) error {
		s, err := getSubscription(ctx, tx, subscription)
		if err != nil {
			return err
		}
		if s.DisabledAt != nil {
			return folio.Errorf(folio.ECONFLICT, "webhook %s is disabled", subscription)
		}
		if _, err := uuid.Parse(delivery); err != nil || len(delivery) != 36 {
			return folio.Errorf(folio.ENOTFOUND, "no delivery %s of webhook %s", truncate(delivery, 64), subscription)
		}
		now := w.now()
		id := uuid.NewString()
		tag, err := tx.Exec(ctx, `INSERT INTO webhook_deliveries (id, subscription_id, event_id, event_type, body, redelivery_of, created_at, status, next_attempt_at, updated_at)
			SELECT $1, subscription_id, event_id, event_type, body, id, $2, 'pending', $2, $2 FROM webhook_deliveries WHERE id = $3 AND subscription_id = $4`,
			id, now, delivery, subscription)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return folio.Errorf(folio.ENOTFOUND, "no delivery %s of webhook %s", delivery, subscription)
		}
		if err := audit.Change(ctx, tx, now, actor, "webhook.redeliver", "webhook:"+subscription, nil, map[string]string{"delivery": delivery, "redelivery": id}); err != nil {
			return err
		}
		d, err = scanDelivery(tx.QueryRow(ctx, `SELECT `+deliveryColumns+` FROM webhook_deliveries WHERE id = $1`, id))
		if d != nil {
			d.Log = []Attempt{}
		}
		return err
	})
	return d, err
}
