package affiliate

import (
	"fmt"
	"regexp"
	"time"

	"github.com/cockroachdb/apd/v3"
	"github.com/folioledger/folio"
	"github.com/folioledger/folio/accounts"
)

// Payout schedules.
const (
	ScheduleManual   = "manual"
	ScheduleRealtime = "realtime"
	ScheduleDaily    = "daily"
	ScheduleWeekly   = "weekly"
)

// PayoutPolicy is a program's payout policy (docs/CONTRACT.md §3), part of its spec.
type PayoutPolicy struct {
	// Schedule: manual (default: batches on request), realtime (every
	// scheduler tick), daily or weekly at TimeOfDay UTC (weekly on Weekday).
	Schedule  string `json:"schedule,omitempty"`
	TimeOfDay string `json:"time_of_day,omitempty"` // HH:MM, UTC
	Weekday   string `json:"weekday,omitempty"`     // monday … sunday
	// Minimum payout per currency; lines below it wait (default 0).
	Minimum map[string]string `json:"minimum,omitempty"`
	// HoldPeriod: accruals younger than it are not yet payable (Go
	// duration, e.g. "72h"; default 0).
	HoldPeriod string `json:"hold_period,omitempty"`
	// RequireKYC holds lines of affiliates without a verified KYC.
	RequireKYC bool `json:"require_kyc,omitempty"`
	// AutoApproveBelow (realtime schedule only): per currency, a line
	// strictly below the amount that no fraud rule flagged is approved by
	// the policy and paid at once, without a second person; every other
	// line waits for an admin's approval as before (payouts/doc.go).
	AutoApproveBelow map[string]string `json:"auto_approve_below,omitempty"`
	// Destination: "" (default) pays to 201 and hands the batch to the
	// exchange's transfer API (the outbox) when one is configured; "201"
	// (main balance) or "202" (trading balance) credits that account of the
	// affiliate in the journal and is final at once: no external transfer.
	Destination string `json:"destination,omitempty"`
}

// Payout destinations: the per-holder liability codes a payout may credit
// in the journal instead of an external transfer.
const (
	DestinationMain    = "201"
	DestinationTrading = "202"
)

// RealtimeEvery is the period of a realtime payout schedule: the
// scheduler builds (and auto-pays) a realtime program's batch at most once
// per period, and folio serve ticks at this interval.
const RealtimeEvery = 10 * time.Second

var timeOfDay = regexp.MustCompile(`^([01][0-9]|2[0-3]):[0-5][0-9]$`)

var weekdays = map[string]time.Weekday{"sunday": time.Sunday, "monday": time.Monday, "tuesday": time.Tuesday,
	"wednesday": time.Wednesday, "thursday": time.Thursday, "friday": time.Friday, "saturday": time.Saturday}

// Validate checks the policy.
func (p *PayoutPolicy) Validate() error {
	switch p.Schedule {
	case "", ScheduleManual, ScheduleRealtime:
	case ScheduleDaily, ScheduleWeekly:
		if !timeOfDay.MatchString(p.TimeOfDay) {
			return folio.Errorf(folio.EINVALID, "payout.time_of_day must be HH:MM (UTC) for a %s schedule", p.Schedule)
		}
		if _, ok := weekdays[p.Weekday]; p.Schedule == ScheduleWeekly && !ok {
			return folio.Errorf(folio.EINVALID, "payout.weekday must be monday … sunday for a weekly schedule")
		}
	default:
		return folio.Errorf(folio.EINVALID, "payout.schedule must be manual, realtime, daily or weekly")
	}
	for cur, m := range p.Minimum {
		if !accounts.ValidCurrencyID(cur) {
			return folio.Errorf(folio.EINVALID, "payout.minimum: %q is not a currency id", cur)
		}
		if _, err := parseAmountField("payout.minimum."+cur, m); err != nil {
			return err
		}
	}
	if _, err := p.Hold(); err != nil {
		return err
	}
	if len(p.AutoApproveBelow) > 0 && p.Schedule != ScheduleRealtime {
		return &folio.Error{Code: folio.EINVALID, Fields: []string{"payout.auto_approve_below"},
			Message: "payout.auto_approve_below needs payout.schedule realtime: only the realtime scheduler pays without a second person"}
	}
	for cur, m := range p.AutoApproveBelow {
		if !accounts.ValidCurrencyID(cur) {
			return folio.Errorf(folio.EINVALID, "payout.auto_approve_below: %q is not a currency id", cur)
		}
		d, err := parseAmountField("payout.auto_approve_below."+cur, m)
		if err != nil {
			return err
		}
		if d.Sign() <= 0 {
			return folio.Errorf(folio.EINVALID, "payout.auto_approve_below.%s must be positive", cur)
		}
	}
	switch p.Destination {
	case "", DestinationMain, DestinationTrading:
	default:
		return &folio.Error{Code: folio.EINVALID, Fields: []string{"payout.destination"},
			Message: fmt.Sprintf("payout.destination %q must be \"201\" (main balance) or \"202\" (trading balance), or absent (external transfer)", p.Destination)}
	}
	return nil
}

// AutoApproveLimit returns the amount below which a line in currency is
// paid without a second person, and whether the policy sets one.
func (p *PayoutPolicy) AutoApproveLimit(currency string) (apd.Decimal, bool) {
	var d apd.Decimal
	if p == nil || p.Schedule != ScheduleRealtime {
		return d, false
	}
	s, ok := p.AutoApproveBelow[currency]
	if !ok {
		return d, false
	}
	d, err := parseAmountField("auto_approve_below", s)
	return d, err == nil && d.Sign() > 0
}

// PayoutDestination returns the policy's destination ("" for the default).
func (p *PayoutPolicy) PayoutDestination() string {
	if p == nil {
		return ""
	}
	return p.Destination
}

// Hold returns the hold period.
func (p *PayoutPolicy) Hold() (time.Duration, error) {
	if p == nil || p.HoldPeriod == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(p.HoldPeriod)
	if err != nil || d < 0 {
		return 0, folio.Errorf(folio.EINVALID, "payout.hold_period %q is not a non-negative duration such as \"72h\"", p.HoldPeriod)
	}
	return d, nil
}

// MinimumFor returns the minimum payout in a currency (zero by default).
func (p *PayoutPolicy) MinimumFor(currency string) apd.Decimal {
	var d apd.Decimal
	if p == nil {
		return d
	}
	if s, ok := p.Minimum[currency]; ok {
		d, _ = parseAmountField("minimum", s)
	}
	return d
}

// Due returns the period key of the scheduled run due at now ("" if none):
// daily runs once per UTC day after TimeOfDay, weekly once per ISO week on
// Weekday after TimeOfDay, realtime once per RealtimeEvery.
func (p *PayoutPolicy) Due(now time.Time) string {
	if p == nil {
		return ""
	}
	now = now.UTC()
	switch p.Schedule {
	case ScheduleRealtime:
		return now.Truncate(RealtimeEvery).Format("2006-01-02T15:04:05")
	case ScheduleDaily, ScheduleWeekly:
		var h, m int
		fmt.Sscanf(p.TimeOfDay, "%d:%d", &h, &m)
		at := time.Date(now.Year(), now.Month(), now.Day(), h, m, 0, 0, time.UTC)
		if now.Before(at) {
			return ""
		}
		if p.Schedule == ScheduleDaily {
			return now.Format("2006-01-02")
		}
		if now.Weekday() != weekdays[p.Weekday] {
			return ""
		}
		y, w := now.ISOWeek()
		return fmt.Sprintf("%d-W%02d", y, w)
	}
	return ""
}
