package affiliate

import (
	"fmt"
	"regexp"
	"sort"
	"time"

	"github.com/cockroachdb/apd/v3"
	"github.com/folioledger/folio"
	"github.com/folioledger/folio/accounts"
)

// Program decides who earns what (docs/CONTRACT.md §2.2). Which fields apply depends on
// Kind.
type Program struct {
	ID      string
	Kind    string
	Default bool // the program of every user without an assignment
	// BaseFeeRate, when set, is subtracted (× traded volume) from the fee
	// to form the commission basis.
	BaseFeeRate *apd.Decimal

	Levels      []apd.Decimal // levels: rate per ancestor, [0] the direct referrer
	MinPassDown apd.Decimal   // differential: P
	MaxLevels   int           // differential: ancestors that earn
	Rate        apd.Decimal   // kickback: default direct-referrer rate R
	Tiers       []Tier        // kickback/levels: volume tiers (highest first wins)

	Currency string                    // bounty: reward currency
	Events   map[string][]BountyReward // bounty: per event, per level

	// Product lines, eligibility, code limit and validity (products.go).
	Product     string              // the product line of a by_product variant ("" for the program itself)
	ByProduct   map[string]*Program // per product: the same kind with its own fields
	Eligibility *Eligibility        // nil: every referrer is eligible
	MaxCodes    int                 // 0: the service's limit
	ValidFrom   *time.Time          // trades executed before it earn nothing under this version
	ValidTo     *time.Time          // trades executed at or after it earn nothing under this version
	Disabled    bool                // this version pays nothing
	Version     int64               // the program version (program_versions), 0 when not read from it
	RecordedAt  time.Time           // when this version was recorded
}

// Tier is a volume tier: affiliates with at least MinReferrals referrals and
// MinVolume trailing-30-day referred volume (reporting currency) earn Rate.
type Tier struct {
	Name         string
	MinReferrals int64
	MinVolume    apd.Decimal
	Rate         apd.Decimal
}

// BountyReward is one level's reward for an event: a fixed Amount, or a
// Percent of the event's amount (deposits) with an optional minimum base
// and maximum reward.
type BountyReward struct {
	Amount    *apd.Decimal
	Percent   *apd.Decimal
	MinBase   *apd.Decimal
	MaxReward *apd.Decimal
}

// Lifecycle events that can carry bounties.
const (
	EventSignup       = "signup"
	EventKYCVerified  = "kyc_verified"
	EventFirstDeposit = "first_deposit"
	EventDeposit      = "deposit"
	EventFirstTrade   = "first_trade"
)

// OneOff reports whether an event pays a bounty at most once per (user,
// event, beneficiary).
func OneOff(event string) bool { return event != EventDeposit }

var programID = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)

// ValidateProgram checks a program with the rule of its kind.
func (r *Registry) ValidateProgram(p *Program) error {
	if !programID.MatchString(p.ID) {
		return folio.Errorf(folio.EINVALID, "program id %q must be 1 to 64 characters of a-z, 0-9, _ and -", p.ID)
	}
	if p.BaseFeeRate != nil && (p.BaseFeeRate.Sign() < 0 || p.BaseFeeRate.Cmp(one) > 0) {
		return folio.Errorf(folio.EINVALID, "base_fee_rate must be between 0 and 1")
	}
	if p.Kind == KindBounty {
		return validateBounty(p)
	}
	rule, ok := r.Rule(p.Kind)
	if !ok {
		return folio.Errorf(folio.EINVALID, "program kind %q is not one of %v", p.Kind, append(r.Kinds(), KindBounty))
	}
	return rule.Validate(p)
}

func validateBounty(p *Program) error {
	if p.Currency == "" {
		return folio.Errorf(folio.EINVALID, "bounty: currency is required")
	}
	if p.Default {
		return folio.Errorf(folio.EINVALID, "bounty: a bounty program is active for every user and cannot be the default trade program")
	}
	if len(p.Events) == 0 {
		return folio.Errorf(folio.EINVALID, "bounty: give rewards for at least one event")
	}
	for ev, levels := range p.Events {
		switch ev {
		case EventSignup, EventKYCVerified, EventFirstDeposit, EventDeposit, EventFirstTrade:
		default:
			return folio.Errorf(folio.EINVALID, "bounty: unknown event %q", ev)
		}
		if len(levels) == 0 || len(levels) > DefaultMaxLevels {
			return folio.Errorf(folio.EINVALID, "bounty: event %s needs 1 to %d levels", ev, DefaultMaxLevels)
		}
		for _, l := range levels {
			if (l.Amount == nil) == (l.Percent == nil) {
				return folio.Errorf(folio.EINVALID, "bounty: each level of %s is a fixed amount or a percent, not both", ev)
			}
			if l.Amount != nil && l.Amount.Sign() < 0 {
				return folio.Errorf(folio.EINVALID, "bounty: negative amount for %s", ev)
			}
			if l.Percent != nil && (l.Percent.Sign() < 0 || l.Percent.Cmp(one) > 0) {
				return folio.Errorf(folio.EINVALID, "bounty: percent for %s must be between 0 and 1", ev)
			}
			if l.Percent != nil && ev != EventDeposit && ev != EventFirstDeposit {
				return folio.Errorf(folio.EINVALID, "bounty: a percent reward needs a deposit event, not %s", ev)
			}
		}
	}
	return nil
}

// CheckAmounts checks a program's amounts against the chart: a bounty's
// reward currency must exist and be enabled (ECURRENCY), and every fixed
// reward, min_base and max_reward — amounts in that currency — and every
// payout minimum must have at most its currency's decimal places
// (EAMOUNT). Nothing a client gives is ever rounded: "1.5" of a token with
// no decimals is refused here instead of paying 1 at every signup. The
// error names the field. payout may be nil.
func CheckAmounts(p *Program, payout *PayoutPolicy, chart *accounts.Chart) error {
	if p.Kind == KindBounty {
		cur, ok := chart.Currency(p.Currency)
		if !ok || !cur.Enabled {
			return &folio.Error{Code: folio.ECURRENCY, Fields: []string{"currency"},
				Message: fmt.Sprintf("bounty: currency %q does not exist or is disabled; create it first (PUT /v1/currencies/{id})", p.Currency)}
		}
		events := make([]string, 0, len(p.Events))
		for ev := range p.Events {
			events = append(events, ev)
		}
		sort.Strings(events)
		for _, ev := range events {
			for i, l := range p.Events[ev] {
				field := fmt.Sprintf("events.%s[%d]", ev, i)
				for _, a := range []struct {
					name string
					d    *apd.Decimal
				}{{"", l.Amount}, {".min_base", l.MinBase}, {".max_reward", l.MaxReward}} {
					if err := checkPlaces(field+a.name, a.d, cur); err != nil {
						return err
					}
				}
			}
		}
	}
	if payout == nil {
		return nil
	}
	ids := make([]string, 0, len(payout.Minimum))
	for id := range payout.Minimum {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		field := "payout.minimum." + id
		cur, ok := chart.Currency(id)
		if !ok {
			return &folio.Error{Code: folio.ECURRENCY, Fields: []string{field}, Message: fmt.Sprintf("%s: currency %q does not exist", field, id)}
		}
		d, err := parseAmountField(field, payout.Minimum[id])
		if err != nil {
			return err
		}
		if err := checkPlaces(field, &d, cur); err != nil {
			return err
		}
	}
	return nil
}

// checkPlaces refuses an amount with more decimal places than cur allows.
func checkPlaces(field string, d *apd.Decimal, cur accounts.Currency) error {
	if d == nil || -int(d.Exponent) <= cur.Precision {
		return nil
	}
	return &folio.Error{Code: folio.EAMOUNT, Fields: []string{field},
		Message: fmt.Sprintf("%s: %s has %d decimal places; %s allows %d (amounts are never rounded)", field, d.Text('f'), -d.Exponent, cur.ID, cur.Precision)}
}

// BountyShares computes the rewards of an event for a chain: level k pays
// ancestor k. amount is the event's amount (deposits), if any. Rewards are
// rounded down to precision; zero rewards are dropped.
func BountyShares(p *Program, event string, c *Chain, amount *apd.Decimal, precision int) ([]Share, error) {
	var out []Share
	for k, l := range p.Events[event] {
		if k >= len(c.Ancestors) {
			break
		}
		var reward apd.Decimal
		switch {
		case l.Amount != nil:
			reward = *l.Amount
		case amount == nil:
			continue
		case l.MinBase != nil && amount.Cmp(l.MinBase) < 0:
			continue
		default:
			var err error
			if reward, err = mul(l.Percent, amount); err != nil {
				return nil, err
			}
			if l.MaxReward != nil && reward.Cmp(l.MaxReward) > 0 {
				reward = *l.MaxReward
			}
		}
		var rounded apd.Decimal
		if _, err := down.Quantize(&rounded, &reward, -int32(precision)); err != nil {
			return nil, err
		}
		if rounded.IsZero() {
			continue
		}
		out = append(out, Share{Beneficiary: c.Ancestors[k].ID, Level: k + 1, Amount: rounded})
	}
	return out, nil
}
