package affiliate

import (
	"bytes"
	"encoding/json"
	"sort"

	"github.com/cockroachdb/apd/v3"
	"github.com/folioledger/folio"
)

// ProgramSpec is a program's configuration as the API receives it and the
// database stores it (programs.config): decimals are strings.
type ProgramSpec struct {
	Kind        string                       `json:"kind"`
	Default     bool                         `json:"default,omitempty"`
	Groups      []string                     `json:"groups,omitempty"`
	BaseFeeRate string                       `json:"base_fee_rate,omitempty"`
	Levels      []string                     `json:"levels,omitempty"`
	MinPassDown string                       `json:"min_pass_down,omitempty"`
	MaxLevels   int                          `json:"max_levels,omitempty"`
	Rate        string                       `json:"rate,omitempty"`
	Tiers       []TierSpec                   `json:"tiers,omitempty"`
	Currency    string                       `json:"currency,omitempty"`
	Events      map[string][]json.RawMessage `json:"events,omitempty"`
	Payout      *PayoutPolicy                `json:"payout,omitempty"`
	// Product lines, eligibility, code limit and validity (products.go).
	ByProduct   map[string]ProductSpec `json:"by_product,omitempty"`
	Eligibility *EligibilitySpec       `json:"eligibility,omitempty"`
	MaxCodes    int                    `json:"max_codes,omitempty"`
	ValidFrom   string                 `json:"valid_from,omitempty"`
	ValidTo     string                 `json:"valid_to,omitempty"`
	Disabled    bool                   `json:"disabled,omitempty"`
}

// TierSpec is a volume tier as configured.
type TierSpec struct {
	Name         string `json:"name"`
	MinReferrals int64  `json:"min_referrals"`
	MinVolume    string `json:"min_volume"`
	Rate         string `json:"rate"`
}

// bountySpec is one level's reward: a bare string is a fixed amount, an
// object a percentage of the deposit.
type bountySpec struct {
	Percent   string `json:"percent"`
	MinBase   string `json:"min_base,omitempty"`
	MaxReward string `json:"max_reward,omitempty"`
}

// ParseRate parses a rate: a decimal string in [0, 1] with at most 18
// decimal places.
func ParseRate(field, s string) (apd.Decimal, error) {
	var d apd.Decimal
	if _, _, err := d.SetString(s); err != nil || d.Form != apd.Finite || !plainDecimal(s) {
		return d, folio.Errorf(folio.EINVALID, "%s: %q is not a decimal rate such as \"0.25\"", field, s)
	}
	if d.Sign() < 0 || d.Cmp(one) > 0 {
		return d, folio.Errorf(folio.EINVALID, "%s: rate %s is not between 0 and 1", field, s)
	}
	if -d.Exponent > 18 {
		return d, folio.Errorf(folio.EINVALID, "%s: rate %s has more than 18 decimal places", field, s)
	}
	return d, nil
}

// parseAmountField parses a non-negative decimal string (amounts in program
// configuration).
func parseAmountField(field, s string) (apd.Decimal, error) {
	var d apd.Decimal
	if _, _, err := d.SetString(s); err != nil || d.Form != apd.Finite || !plainDecimal(s) || d.Sign() < 0 {
		return d, folio.Errorf(folio.EINVALID, "%s: %q is not a non-negative decimal such as \"50\"", field, s)
	}
	if -d.Exponent > 18 || d.NumDigits()+int64(d.Exponent) > 20 {
		return d, folio.Errorf(folio.EINVALID, "%s: %q is out of range", field, s)
	}
	return d, nil
}

func plainDecimal(s string) bool {
	if s == "" {
		return false
	}
	dot := false
	for i, c := range s {
		switch {
		case c >= '0' && c <= '9':
		case c == '.' && !dot && i > 0 && i < len(s)-1:
			dot = true
		default:
			return false
		}
	}
	return true
}

// Program converts a spec to a program and validates it with its rule.
func (r *Registry) Program(id string, s ProgramSpec) (*Program, error) {
	p := &Program{ID: id, Kind: s.Kind, Default: s.Default, MaxLevels: s.MaxLevels, Currency: s.Currency}
	var err error
	if s.BaseFeeRate != "" {
		d, err := ParseRate("base_fee_rate", s.BaseFeeRate)
		if err != nil {
			return nil, err
		}
		p.BaseFeeRate = &d
	}
	for i, l := range s.Levels {
		d, err := ParseRate("levels", l)
		if err != nil {
			return nil, folio.Errorf(folio.EINVALID, "levels[%d]: %s", i, folio.ErrorMessage(err))
		}
		p.Levels = append(p.Levels, d)
	}
	if s.MinPassDown != "" {
		if p.MinPassDown, err = ParseRate("min_pass_down", s.MinPassDown); err != nil {
			return nil, err
		}
	}
	if s.Kind == KindDifferential && p.MaxLevels == 0 {
		p.MaxLevels = DefaultMaxLevels
	}
	if s.Rate != "" {
		if p.Rate, err = ParseRate("rate", s.Rate); err != nil {
			return nil, err
		}
	} else if s.Kind == KindKickback {
		return nil, folio.Errorf(folio.EINVALID, "kickback: rate is required")
	}
	for _, t := range s.Tiers {
		tier := Tier{Name: t.Name, MinReferrals: t.MinReferrals}
		if tier.Rate, err = ParseRate("tiers.rate", t.Rate); err != nil {
			return nil, err
		}
		if t.MinVolume != "" {
			if tier.MinVolume, err = parseAmountField("tiers.min_volume", t.MinVolume); err != nil {
				return nil, err
			}
		}
		p.Tiers = append(p.Tiers, tier)
	}
	sort.SliceStable(p.Tiers, func(i, j int) bool { return p.Tiers[i].Rate.Cmp(&p.Tiers[j].Rate) > 0 })
	if len(s.Events) > 0 {
		p.Events = map[string][]BountyReward{}
		for ev, levels := range s.Events {
			for i, raw := range levels {
				br, err := parseBounty(raw)
				if err != nil {
					return nil, folio.Errorf(folio.EINVALID, "events.%s[%d]: %s", ev, i, folio.ErrorMessage(err))
				}
				p.Events[ev] = append(p.Events[ev], br)
			}
		}
	}
	if s.Kind != KindBounty && (s.Currency != "" || len(s.Events) > 0) {
		return nil, folio.Errorf(folio.EINVALID, "currency and events belong to bounty programs")
	}
	if err := r.ValidateProgram(p); err != nil {
		return nil, err
	}
	if err := r.productFields(p, s); err != nil {
		return nil, err
	}
	if s.Payout != nil {
		if err := s.Payout.Validate(); err != nil {
			return nil, err
		}
	}
	return p, nil
}

func parseBounty(raw json.RawMessage) (BountyReward, error) {
	var br BountyReward
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		d, err := parseAmountField("amount", s)
		if err != nil {
			return br, err
		}
		br.Amount = &d
		return br, nil
	}
	var bs bountySpec
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&bs); err != nil || bs.Percent == "" {
		return br, folio.Errorf(folio.EINVALID, "a reward is an amount string such as \"50\" or {\"percent\": \"0.1\", \"min_base\"?, \"max_reward\"?}")
	}
	p, err := ParseRate("percent", bs.Percent)
	if err != nil {
		return br, err
	}
	br.Percent = &p
	if bs.MinBase != "" {
		d, err := parseAmountField("min_base", bs.MinBase)
		if err != nil {
			return br, err
		}
		br.MinBase = &d
	}
	if bs.MaxReward != "" {
		d, err := parseAmountField("max_reward", bs.MaxReward)
		if err != nil {
			return br, err
		}
		br.MaxReward = &d
	}
	return br, nil
}
