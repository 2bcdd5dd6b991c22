package payouts

import (
	"context"
	"errors"
	"time"

	"github.com/cockroachdb/apd/v3"
	"github.com/folioledger/folio"
	"github.com/folioledger/folio/affiliate"
	auditlog "github.com/folioledger/folio/audit"
	"github.com/folioledger/folio/ledger"
	"github.com/folioledger/folio/schema"
	"github.com/jackc/pgx/v5"
)

// Service builds, reviews and executes payout batches and delivers them
// through the outbox. Its dependencies are plain fields: NewService fills
// them from an affiliate service.
type Service struct {
	DB     *schema.DB
	Ledger *ledger.Ledger
	// Affiliate is the commission engine whose accruals the batches pay.
	Affiliate *affiliate.Service
	// Now is the clock, read once per transaction; nil = the affiliate
	// service's clock.
	Now func() time.Time
	// Webhook, when set, is the exchange's transfer API: executed batches
	// are delivered to it through the outbox and their payout entry stays
	// pending until the exchange confirms (see RunOutbox).
	Webhook string
	// Deliver sends an outbox message to the webhook (webhook.Post over
	// HTTP in folio serve); nil leaves messages pending, each attempt
	// logged as undeliverable.
	Deliver Deliver
	// WebhookSecrets are the signing secrets of the transfer API
	// endpoints, by URL: a message to an endpoint with a secret carries the
	// Folio-Timestamp and Folio-Signature headers (package signing).
	WebhookSecrets map[string]string
}

// Deliver sends an outbox message's JSON body to url with the idempotency
// key and the extra headers (the signature's, when the endpoint has a
// secret) and returns the receiver's HTTP status (0 when no answer came) and a
// short detail for the outbox's log. 2xx confirms the payout, 4xx refuses
// it, anything else is retried with backoff.
type Deliver func(ctx context.Context, url, idempotencyKey string, header map[string]string, body []byte) (status int, detail string)

// NewService returns the payouts of a's accruals, on a's database and
// ledger and by a's clock.
//
// It installs its signup check on a (a.SignupCheck = CheckSignup): the
// fraud rules decide what happens to a risky signup.
func NewService(a *affiliate.Service) *Service {
	s := &Service{DB: a.DB, Ledger: a.Ledger, Affiliate: a}
	a.SignupCheck = s.CheckSignup
	return s
}

func (s *Service) now() time.Time {
	now := s.Now
	if now == nil && s.Affiliate != nil {
		now = s.Affiliate.Now
	}
	if now == nil {
		return time.Now().UTC().Truncate(time.Microsecond)
	}
	return now().UTC().Truncate(time.Microsecond)
}

// exact is the context of sums of amounts: anything inexact errors.
var exact = apd.Context{
	Precision:   80,
	MaxExponent: apd.MaxExponent,
	MinExponent: apd.MinExponent,
	Traps:       apd.DefaultTraps | apd.Inexact | apd.Rounded,
	Rounding:    apd.RoundHalfEven,
}

// ratio is the context of the fraud rules' ratios and thresholds (half
// even, 60 digits).
var ratio = apd.Context{Precision: 60, MaxExponent: apd.MaxExponent, MinExponent: apd.MinExponent, Traps: apd.DefaultTraps, Rounding: apd.RoundHalfEven}

// audit writes one decision or configuration change.
func audit(ctx context.Context, tx pgx.Tx, now time.Time, actor, action, object string, before, after any) error {
	return auditlog.Change(ctx, tx, now, actor, action, object, before, after)
}

func notFound(what, id string) error {
	return folio.Errorf(folio.ENOTFOUND, "%s %q not found", what, id)
}

func isNoRows(err error) bool { return errors.Is(err, pgx.ErrNoRows) }
