package payouts

import (
	"fmt"
	"slices"
	"time"

	"github.com/cockroachdb/apd/v3"
	"github.com/folioledger/folio"
	"github.com/folioledger/folio/affiliate"
	"github.com/folioledger/folio/ledger"
)

// FraudRules are the anti-fraud thresholds applied when a payout batch is
// built (docs/CONTRACT.md §3). Zero values take the defaults of DefaultFraudRules.
type FraudRules struct {
	// Self-referral: the affiliate shares a signup IP or device id with a
	// referee whose activity the line pays.
	SelfReferral bool `json:"self_referral"`
	// Referral farm: at least FarmReferees referees of the affiliate
	// registered from one IP or device within FarmWindow.
	FarmReferees int64  `json:"farm_referees"`
	FarmWindow   string `json:"farm_window"`
	// Wash trading: among a referee's trades with a counterparty id (at
	// least WashMinTrades of them), the share whose counterparty is the
	// affiliate or another of its referees reaches WashShare.
	WashShare     string `json:"wash_share"`
	WashMinTrades int64  `json:"wash_min_trades"`
	// Amount spike: the line is above SpikeFactor × the affiliate's average
	// paid line in the currency, once it has SpikeMinHistory paid lines.
	SpikeFactor     string `json:"spike_factor"`
	SpikeMinHistory int64  `json:"spike_min_history"`
	// Tax: payouts in the calendar year (reporting currency) above
	// TaxThreshold need a tax id on file.
	TaxThreshold string `json:"tax_threshold"`
	// SignupRisk: what POST /v1/users does with a signup whose signals
	// match its referral chain or a farm (signup_risk.go): refuse, flag
	// (the default) or hold (payout lines paying the user are held).
	SignupRisk string `json:"signup_risk"`
}

// DefaultFraudRules returns the thresholds used until an operator sets
// others.
func DefaultFraudRules() FraudRules {
	return FraudRules{SelfReferral: true, FarmReferees: 5, FarmWindow: "24h", WashShare: "0.5", WashMinTrades: 10,
		SpikeFactor: "5", SpikeMinHistory: 3, TaxThreshold: "600", SignupRisk: SignupFlag}
}

// parsed is FraudRules with typed values.
type parsedFraud struct {
	FraudRules
	window       time.Duration
	washShare    apd.Decimal
	spikeFactor  apd.Decimal
	taxThreshold apd.Decimal
}

// parse checks and converts the thresholds.
func (r FraudRules) parse() (*parsedFraud, error) {
	p := &parsedFraud{FraudRules: r}
	var err error
	if p.window, err = time.ParseDuration(r.FarmWindow); err != nil || p.window <= 0 {
		return nil, folio.Errorf(folio.EINVALID, "farm_window %q is not a positive duration", r.FarmWindow)
	}
	if p.washShare, err = affiliate.ParseRate("wash_share", r.WashShare); err != nil {
		return nil, err
	}
	if p.spikeFactor, err = affiliate.ParseAmountField("spike_factor", r.SpikeFactor); err != nil {
		return nil, err
	}
	if p.taxThreshold, err = affiliate.ParseAmountField("tax_threshold", r.TaxThreshold); err != nil {
		return nil, err
	}
	switch r.SignupRisk {
	case SignupRefuse, SignupFlag, SignupHold:
	default:
		return nil, &folio.Error{Code: folio.EINVALID, Fields: []string{"signup_risk"}, Message: fmt.Sprintf("signup_risk %q must be refuse, flag or hold", r.SignupRisk)}
	}
	if r.FarmReferees < 2 || r.WashMinTrades < 1 || r.SpikeMinHistory < 1 {
		return nil, folio.Errorf(folio.EINVALID, "farm_referees must be at least 2, wash_min_trades and spike_min_history at least 1")
	}
	return p, nil
}

// Validate checks the thresholds.
func (r FraudRules) Validate() error {
	_, err := r.parse()
	return err
}

// Flag is one reason a payout line is held.
type Flag struct {
	Rule   string `json:"rule"`
	Detail string `json:"detail"`
}

// Fraud rule names.
const (
	FlagSelfReferral = "self_referral"
	FlagFarm         = "referral_farm"
	FlagWash         = "wash_trading"
	FlagKYC          = "kyc_missing"
	FlagSpike        = "amount_spike"
	FlagTaxID        = "tax_id_missing"
	FlagBalance      = "insufficient_accrued_balance"
)

// lineFacts are what the fraud rules look at for one payout line.
type lineFacts struct {
	Affiliate  *affiliate.User
	Referees   []*affiliate.User // the affiliate's direct referees
	RequireKYC bool
	Amount     apd.Decimal
	// Trades of referees in the accrual window with a counterparty, by
	// referee: total and those against the affiliate or its referees.
	Counterparty map[string][2]int64
	PaidLines    int64
	PaidAverage  apd.Decimal // average paid line in the currency
	YearPaid     apd.Decimal // paid this calendar year, reporting currency
	LineReported *apd.Decimal
	// Places and ReportingPlaces are the precisions of the line's currency
	// and of the reporting currency, to which the flags' text shows
	// amounts (negative: unknown, shown exactly).
	Places, ReportingPlaces int
}

// formatAt is an amount as people read it in a flag's text: at places
// decimal places (its currency's precision), rounded half-even; exact
// (ledger.Format) when places is negative.
func formatAt(d *apd.Decimal, places int) string { return affiliate.FormatAt(d, places) }

// checkFraud returns the flags of a line (none: the line is ok).
func checkFraud(r *parsedFraud, f *lineFacts) []Flag {
	var flags []Flag
	a := f.Affiliate
	if r.SelfReferral {
		for _, ref := range f.Referees {
			switch {
			case a.SignupIP != "" && ref.SignupIP == a.SignupIP:
				flags = append(flags, Flag{FlagSelfReferral, fmt.Sprintf("referee %s shares the affiliate's signup IP", ref.ID)})
			case a.DeviceID != "" && ref.DeviceID == a.DeviceID:
				flags = append(flags, Flag{FlagSelfReferral, fmt.Sprintf("referee %s shares the affiliate's device", ref.ID)})
			default:
				continue
			}
			break
		}
	}
	if farm := farmSignal(f.Referees, r.FarmReferees, r.window); farm != "" {
		flags = append(flags, Flag{FlagFarm, farm})
	}
	for ref, c := range f.Counterparty {
		if c[0] < r.WashMinTrades {
			continue
		}
		var share apd.Decimal
		_, _ = ratio.Quo(&share, apd.New(c[1], 0), apd.New(c[0], 0))
		if share.Cmp(&r.washShare) >= 0 {
			flags = append(flags, Flag{FlagWash, fmt.Sprintf("%d of %d trades of referee %s are against the affiliate or its referees", c[1], c[0], ref)})
			break
		}
	}
	if f.RequireKYC && a.KYCVerifiedAt == nil {
		flags = append(flags, Flag{FlagKYC, "the program requires a verified KYC"})
	}
	if f.PaidLines >= r.SpikeMinHistory && f.PaidAverage.Sign() > 0 {
		var limit apd.Decimal
		_, _ = ratio.Mul(&limit, &f.PaidAverage, &r.spikeFactor)
		if f.Amount.Cmp(&limit) > 0 {
			flags = append(flags, Flag{FlagSpike, fmt.Sprintf("amount %s is above %s× the average paid line %s",
				formatAt(&f.Amount, f.Places), ledger.Format(&r.spikeFactor), formatAt(&f.PaidAverage, f.Places))})
		}
	}
	if a.TaxID == "" && f.LineReported != nil {
		var total apd.Decimal
		_, _ = ratio.Add(&total, &f.YearPaid, f.LineReported)
		if total.Cmp(&r.taxThreshold) > 0 {
			flags = append(flags, Flag{FlagTaxID, fmt.Sprintf("payouts this year would reach %s in the reporting currency, above %s, and no tax id is on file",
				formatAt(&total, f.ReportingPlaces), formatAt(&r.taxThreshold, f.ReportingPlaces))})
		}
	}
	return flags
}

// farmSignal finds n referees registered from one IP or device within a
// window.
func farmSignal(refs []*affiliate.User, n int64, window time.Duration) string {
	for _, key := range []string{"ip", "device"} {
		groups := map[string][]time.Time{}
		for _, r := range refs {
			v := r.SignupIP
			if key == "device" {
				v = r.DeviceID
			}
			if v != "" {
				groups[v] = append(groups[v], r.RegisteredAt)
			}
		}
		for _, ts := range groups {
			slices.SortFunc(ts, func(a, b time.Time) int { return a.Compare(b) })
			for i := 0; i+int(n)-1 < len(ts); i++ {
				if ts[i+int(n)-1].Sub(ts[i]) <= window {
					return fmt.Sprintf("%d referees registered from one %s within %s", n, key, window)
				}
			}
		}
	}
	return ""
}
