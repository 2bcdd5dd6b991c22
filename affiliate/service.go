package affiliate

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cockroachdb/apd/v3"
	"github.com/folioledger/folio"
	auditlog "github.com/folioledger/folio/audit"
	"github.com/folioledger/folio/ledger"
	"github.com/folioledger/folio/schema"
	"github.com/jackc/pgx/v5"
)

// Service is the affiliate engine: users, the referral tree, programs and
// the real-time split of trade fees into the journal.
type Service struct {
	DB     *schema.DB
	Ledger *ledger.Ledger
	Rules  *Registry
	// Now is the clock, read once per transaction.
	Now func() time.Time
	// ReportingCurrency converts accruals for statistics (default USD).
	ReportingCurrency string
	// MaxCodes bounds the referral codes of one affiliate (default 20).
	MaxCodes int
	// SignupCheck, when set, assesses every new user's signup signals in
	// its transaction (payouts.NewService sets it: the fraud rules decide).
	SignupCheck SignupCheck

	userCache userCache
	// foldMem holds what the trade writer booked for the folder
	// (foldmem.go); nil: every fold reads the database.
	foldMem *foldMemory
	folded  foldCounters
}

// DefaultReportingCurrency converts accruals for statistics unless
// configured otherwise.
const DefaultReportingCurrency = "USD"

// NewService returns a service with the built-in rules and defaults, and
// reserves the engine's entry kinds (EntryKinds) on l: from then on, only
// the engine writes, reverses, posts or voids entries of those kinds
// through l.
func NewService(db *schema.DB, l *ledger.Ledger) *Service {
	if l != nil {
		ReserveKinds(l)
	}
	return &Service{DB: db, Ledger: l, Rules: NewRegistry(), Now: time.Now, ReportingCurrency: DefaultReportingCurrency, MaxCodes: 20,
		foldMem: newFoldMemory(maxFoldMemoryRows)}
}

func (s *Service) now() time.Time {
	if s.Now == nil {
		return time.Now().UTC().Truncate(time.Microsecond)
	}
	return s.Now().UTC().Truncate(time.Microsecond)
}

// Reporting is the reporting currency: ReportingCurrency, else
// DefaultReportingCurrency.
func (s *Service) Reporting() string { return s.reporting() }

func (s *Service) reporting() string {
	if s.ReportingCurrency == "" {
		return DefaultReportingCurrency
	}
	return s.ReportingCurrency
}

// audit writes one configuration change.
func audit(ctx context.Context, tx pgx.Tx, now time.Time, actor, action, object string, before, after any) error {
	return auditlog.Change(ctx, tx, now, actor, action, object, before, after)
}

// raced answers conflict when err is a unique violation: the row an insert
// checked was absent has been inserted meanwhile by a concurrent request
// (one the serializable runner could not see, which it would otherwise
// have retried), so the client should send its request again. Any other
// err is returned as is.
func raced(err error, format string, args ...any) error {
	if _, ok := schema.UniqueViolation(err); ok {
		return folio.Errorf(folio.ECONFLICT, format, args...)
	}
	return err
}

// decText renders an optional decimal for JSON and audit records.
func decText(d *apd.Decimal) *string {
	if d == nil {
		return nil
	}
	s := ledger.Format(d)
	return &s
}

// FormatAt is an amount as people read it in a message or a flag's text:
// at places decimal places (its currency's precision, "137.00"), rounded
// half-even; exact (ledger.Format) when places is negative (the currency
// is unknown) or the amount cannot be quantized. Stored amounts, JSON
// amounts and ledger postings keep ledger.Format.
func FormatAt(d *apd.Decimal, places int) string {
	if places < 0 {
		return ledger.Format(d)
	}
	ctx := apd.Context{Precision: 60, MaxExponent: apd.MaxExponent, MinExponent: apd.MinExponent, Traps: apd.DefaultTraps, Rounding: apd.RoundHalfEven}
	var r apd.Decimal
	if _, err := ctx.Quantize(&r, d, -int32(places)); err != nil {
		return ledger.Format(d)
	}
	return r.Text('f')
}

func notFound(what, id string) error {
	return folio.Errorf(folio.ENOTFOUND, "%s %q not found", what, id)
}

func isNoRows(err error) bool { return errors.Is(err, pgx.ErrNoRows) }

func wrap(what string, err error) error {
	if err == nil {
		return nil
	}
	var fe *folio.Error
	if errors.As(err, &fe) || schema.IsRetryable(err) {
		return err
	}
	return fmt.Errorf("%s: %w", what, err)
}
