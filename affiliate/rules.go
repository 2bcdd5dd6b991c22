package affiliate

import (
	"fmt"
	"sort"
	"sync"

	"github.com/cockroachdb/apd/v3"
	"github.com/folioledger/folio"
)

// Program kinds (docs/CONTRACT.md §2.2).
const (
	KindLevels       = "levels"
	KindDifferential = "differential"
	KindKickback     = "kickback"
	KindTable        = "table"
	KindBounty       = "bounty"
)

// DefaultMaxLevels is how many ancestors earn when a program sets no limit.
const DefaultMaxLevels = 15

// Member is one user of a resolved chain with the per-user settings the
// rules read.
type Member struct {
	ID string
	// Rate is the user's assigned differential rate X (nil: none).
	Rate *apd.Decimal
	// KickbackRate is the user's commission rate R as a direct referrer in a
	// kickback program, already resolved from its override or volume tier
	// (nil: the program's rate).
	KickbackRate *apd.Decimal
	// Shares is the operator's revenue-share table for trades of this user
	// (table programs).
	Shares []TableShare
}

// TableShare is one line of a revenue-share table.
type TableShare struct {
	Beneficiary string
	Share       apd.Decimal
}

// Chain is a trader with its referral chain, as of the trade.
type Chain struct {
	Trader Member
	// Ancestors[0] is the direct referrer, Ancestors[1] its referrer, …
	Ancestors []Member
	// CodeKickback is the kickback share k of the referral code the trader
	// signed up with (kickback programs; nil: none).
	CodeKickback *apd.Decimal
}

// Share is one beneficiary's part of a trade's commission basis.
type Share struct {
	Beneficiary string
	// Level is 1 for the direct referrer, 2 for its referrer, …; 0 for the
	// trader itself (kickback) and for table beneficiaries.
	Level int
	// Rate is the fraction of the basis this share is (after any spread).
	Rate   apd.Decimal
	Amount apd.Decimal // exact; Split rounds it down
}

// Rule computes shares of a commission basis. Implementations must be
// pure: no I/O, the same output for the same input. The built-in kinds
// implement it; integrators register their own with Register. A rule says
// everything the trade path needs to know about its kind: how deep a chain
// it reads (Depth) and which per-trade data beyond the chain (Inputs), so a
// new kind is one type in one file and the trade path never guesses.
type Rule interface {
	// Validate checks a program of this rule's kind at configuration time:
	// a program whose shares could exceed 100% of the basis is refused.
	Validate(p *Program) error
	// Depth is how many ancestors of the trader Shares reads for program
	// p: the trade path loads and passes at most that many (0 for rules
	// that pay no ancestor).
	Depth(p *Program) int
	// Inputs names the per-trade data beyond the chain that Shares reads;
	// the trade path loads only those.
	Inputs(p *Program) Inputs
	// Shares returns the exact (unrounded) shares of basis for a trade by
	// chain.Trader. They must be ≥ 0 and sum to at most basis.
	Shares(p *Program, chain *Chain, basis *apd.Decimal) ([]Share, error)
}

// Inputs is a set of per-trade data a rule reads besides the chain.
type Inputs uint8

const (
	// InputRevenueShares: the trader's revenue-share table
	// (Chain.Trader.Shares).
	InputRevenueShares Inputs = 1 << iota
	// InputKickback: the direct referrer's kickback rate resolved from its
	// override or volume tier (Member.KickbackRate of Ancestors[0]) and
	// the kickback of the code the trader signed up with
	// (Chain.CodeKickback).
	InputKickback
)

// Has reports whether every input of x is in in.
func (in Inputs) Has(x Inputs) bool { return in&x == x }

// Registry maps program kinds to rules. The zero value is empty; use
// NewRegistry for one holding the built-in kinds.
type Registry struct {
	mu    sync.RWMutex
	rules map[string]Rule
}

// NewRegistry returns a registry with the built-in rules.
func NewRegistry() *Registry {
	r := &Registry{rules: map[string]Rule{}}
	r.Register(KindLevels, LevelsRule{})
	r.Register(KindDifferential, DifferentialRule{})
	r.Register(KindKickback, KickbackRule{})
	r.Register(KindTable, TableRule{})
	return r
}

// Register adds or replaces the rule of a kind.
func (r *Registry) Register(kind string, rule Rule) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.rules == nil {
		r.rules = map[string]Rule{}
	}
	r.rules[kind] = rule
}

// Rule returns the rule of a kind.
func (r *Registry) Rule(kind string) (Rule, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	x, ok := r.rules[kind]
	return x, ok
}

// Kinds lists the registered kinds.
func (r *Registry) Kinds() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]string, 0, len(r.rules))
	for k := range r.rules {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// SplitResult is a fee divided between beneficiaries and the platform.
type SplitResult struct {
	Basis     apd.Decimal
	Shares    []Share // rounded down, zero shares dropped
	Remainder apd.Decimal
}

// Split applies rule to a fee: basis = fee − baseFee (never below zero),
// each share rounded down to precision decimal places, zero shares
// dropped, the platform keeping the remainder, so Σ shares + remainder =
// fee exactly. A rule that returns a negative share or more than the basis
// is an error, never a posting.
func Split(rule Rule, p *Program, chain *Chain, fee, baseFee *apd.Decimal, precision int) (*SplitResult, error) {
	res := &SplitResult{}
	if _, err := exact.Sub(&res.Basis, fee, baseFee); err != nil {
		return nil, err
	}
	if res.Basis.Sign() < 0 {
		res.Basis.SetInt64(0)
	}
	shares, err := rule.Shares(p, chain, &res.Basis)
	if err != nil {
		return nil, err
	}
	var total apd.Decimal
	for _, s := range shares {
		if s.Amount.Sign() < 0 {
			return nil, fmt.Errorf("rule %s: negative share %s for %s", p.Kind, s.Amount.String(), s.Beneficiary)
		}
		if _, err := exact.Add(&total, &total, &s.Amount); err != nil {
			return nil, err
		}
		var rounded apd.Decimal
		if _, err := down.Quantize(&rounded, &s.Amount, -int32(precision)); err != nil {
			return nil, err
		}
		if rounded.IsZero() {
			continue
		}
		s.Amount = rounded
		res.Shares = append(res.Shares, s)
	}
	if total.Cmp(&res.Basis) > 0 {
		return nil, folio.Errorf(folio.EINTERNAL, "rule %s: shares %s exceed the basis %s", p.Kind, total.Text('f'), res.Basis.Text('f'))
	}
	res.Remainder.Set(fee)
	for i := range res.Shares {
		if _, err := exact.Sub(&res.Remainder, &res.Remainder, &res.Shares[i].Amount); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// exact is the context for rate arithmetic: wide enough that a rate (18
// places) times an amount (38 digits) is exact; anything inexact errors.
var exact = apd.Context{
	Precision:   80,
	MaxExponent: apd.MaxExponent,
	MinExponent: apd.MinExponent,
	Traps:       apd.DefaultTraps | apd.Inexact | apd.Rounded,
	Rounding:    apd.RoundHalfEven,
}

// down rounds shares toward zero to the currency precision (docs/CONTRACT.md §2.3).
var down = apd.Context{
	Precision:   80,
	MaxExponent: apd.MaxExponent,
	MinExponent: apd.MinExponent,
	Traps:       apd.DefaultTraps,
	Rounding:    apd.RoundDown,
}

func mul(rate, basis *apd.Decimal) (apd.Decimal, error) {
	var d apd.Decimal
	_, err := exact.Mul(&d, rate, basis)
	return d, err
}

func share(id string, level int, rate, basis *apd.Decimal) (Share, error) {
	amt, err := mul(rate, basis)
	if err != nil {
		return Share{}, err
	}
	return Share{Beneficiary: id, Level: level, Rate: *rate, Amount: amt}, nil
}

// LevelsRule pays a fixed share r_k of the basis to the k-th ancestor.
type LevelsRule struct{}

// Validate checks 1–15 levels, each in [0, 1], summing to at most 1.
func (LevelsRule) Validate(p *Program) error {
	if len(p.Levels) == 0 || len(p.Levels) > DefaultMaxLevels {
		return folio.Errorf(folio.EINVALID, "levels: give 1 to %d level rates", DefaultMaxLevels)
	}
	return checkRates("levels", p.Levels)
}

// Depth: one ancestor per level rate.
func (LevelsRule) Depth(p *Program) int { return len(p.Levels) }

// Inputs: the chain alone.
func (LevelsRule) Inputs(p *Program) Inputs { return 0 }

// Shares pays ancestor k its level rate.
func (LevelsRule) Shares(p *Program, c *Chain, basis *apd.Decimal) ([]Share, error) {
	var out []Share
	for k, rate := range p.Levels {
		if k >= len(c.Ancestors) {
			break
		}
		s, err := share(c.Ancestors[k].ID, k+1, &rate, basis)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// DifferentialRule pays each ancestor the spread between its assigned rate
// and the next one down the chain; the direct referrer earns its full rate.
type DifferentialRule struct{}

// Validate checks the minimum pass-down P in [0, 1] and max_levels in
// 1..DefaultMaxLevels (the depth the referral tree is read to).
func (DifferentialRule) Validate(p *Program) error {
	if p.MinPassDown.Sign() < 0 || p.MinPassDown.Cmp(one) > 0 {
		return folio.Errorf(folio.EINVALID, "differential: min_pass_down must be between 0 and 1")
	}
	if p.MaxLevels < 1 || p.MaxLevels > DefaultMaxLevels {
		return &folio.Error{Code: folio.EINVALID, Fields: []string{"max_levels"},
			Message: fmt.Sprintf("differential: max_levels must be between 1 and %d", DefaultMaxLevels)}
	}
	return nil
}

// Depth: max_levels ancestors (DefaultMaxLevels when unset).
func (DifferentialRule) Depth(p *Program) int {
	if p.MaxLevels <= 0 {
		return DefaultMaxLevels
	}
	return p.MaxLevels
}

// Inputs: the chain alone (each member's assigned rate is in the chain).
func (DifferentialRule) Inputs(p *Program) Inputs { return 0 }

// Shares walks up to max_levels ancestors. Along L1 → … → L(N−1) → trader
// (L(N−1) the direct referrer), L_i earns (X_i − X_{i+1})·basis and
// L(N−1) earns X_{N−1}·basis: the total is X_1·basis. An ancestor without
// an assigned rate ends the chain (it and those above earn nothing).
// Rates are clamped to be non-increasing down the chain, so a stale
// configuration can never pay more than the top rate.
func (DifferentialRule) Shares(p *Program, c *Chain, basis *apd.Decimal) ([]Share, error) {
	maxLevels := DifferentialRule{}.Depth(p)
	var rates []apd.Decimal
	for k := 0; k < len(c.Ancestors) && k < maxLevels; k++ {
		r := c.Ancestors[k].Rate
		if r == nil {
			break
		}
		rates = append(rates, *r)
	}
	// rates[0] is the direct referrer; clamp from the top down so that
	// rates[k] ≤ rates[k+1] (an ancestor's rate bounds its descendants').
	for k := len(rates) - 2; k >= 0; k-- {
		if rates[k].Cmp(&rates[k+1]) > 0 {
			rates[k] = rates[k+1]
		}
	}
	var out []Share
	for k := range rates {
		rate := rates[k]
		if k > 0 {
			if _, err := exact.Sub(&rate, &rates[k], &rates[k-1]); err != nil {
				return nil, err
			}
		}
		s, err := share(c.Ancestors[k].ID, k+1, &rate, basis)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// KickbackRule pays the direct referrer R minus the code's kickback k, and
// the trader k.
type KickbackRule struct{}

// Validate checks the rate and tiers are in [0, 1].
func (KickbackRule) Validate(p *Program) error {
	rates := []apd.Decimal{p.Rate}
	for _, t := range p.Tiers {
		rates = append(rates, t.Rate)
	}
	for _, r := range rates {
		if err := checkRates("kickback", []apd.Decimal{r}); err != nil {
			return err
		}
	}
	return nil
}

// Depth: the direct referrer only.
func (KickbackRule) Depth(p *Program) int { return 1 }

// Inputs: the referrer's resolved rate and the code's kickback.
func (KickbackRule) Inputs(p *Program) Inputs { return InputKickback }

// Shares: referrer (R − k)·basis, trader k·basis, with k clamped to R.
func (KickbackRule) Shares(p *Program, c *Chain, basis *apd.Decimal) ([]Share, error) {
	if len(c.Ancestors) == 0 {
		return nil, nil
	}
	ref := c.Ancestors[0]
	rate := p.Rate
	if ref.KickbackRate != nil {
		rate = *ref.KickbackRate
	}
	var k apd.Decimal
	if c.CodeKickback != nil {
		k = *c.CodeKickback
		if k.Cmp(&rate) > 0 {
			k = rate
		}
	}
	var rest apd.Decimal
	if _, err := exact.Sub(&rest, &rate, &k); err != nil {
		return nil, err
	}
	s1, err := share(ref.ID, 1, &rest, basis)
	if err != nil {
		return nil, err
	}
	out := []Share{s1}
	if k.Sign() > 0 {
		s2, err := share(c.Trader.ID, 0, &k, basis)
		if err != nil {
			return nil, err
		}
		out = append(out, s2)
	}
	return out, nil
}

// TableRule pays the operator's revenue-share table of the trader.
type TableRule struct{}

// Validate accepts any table program: tables are per user and checked
// when set (CheckTable).
func (TableRule) Validate(p *Program) error { return nil }

// Depth: none; the table names its beneficiaries.
func (TableRule) Depth(p *Program) int { return 0 }

// Inputs: the trader's revenue-share table.
func (TableRule) Inputs(p *Program) Inputs { return InputRevenueShares }

// Shares pays each line of the trader's table.
func (TableRule) Shares(p *Program, c *Chain, basis *apd.Decimal) ([]Share, error) {
	var out []Share
	for _, ts := range c.Trader.Shares {
		s, err := share(ts.Beneficiary, 0, &ts.Share, basis)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// CheckTable validates a revenue-share table: beneficiaries distinct and
// not the trader, shares in (0, 1], summing to at most 1.
func CheckTable(trader string, shares []TableShare) error {
	seen := map[string]bool{}
	rates := make([]apd.Decimal, len(shares))
	for i, s := range shares {
		if s.Beneficiary == trader {
			return folio.Errorf(folio.ESELFREFERRAL, "a user cannot be a beneficiary of its own revenue-share table")
		}
		if seen[s.Beneficiary] {
			return folio.Errorf(folio.EINVALID, "beneficiary %s appears twice", s.Beneficiary)
		}
		seen[s.Beneficiary] = true
		rates[i] = s.Share
	}
	return checkRates("revenue-share", rates)
}

var one = apd.New(1, 0)

// checkRates requires each rate in [0, 1] and their sum at most 1.
func checkRates(what string, rates []apd.Decimal) error {
	var sum apd.Decimal
	for _, r := range rates {
		if r.Sign() < 0 || r.Cmp(one) > 0 {
			return folio.Errorf(folio.EINVALID, "%s: rate %s is not between 0 and 1", what, r.Text('f'))
		}
		if _, err := exact.Add(&sum, &sum, &r); err != nil {
			return err
		}
	}
	if sum.Cmp(one) > 0 {
		return folio.Errorf(folio.EINVALID, "%s: rates sum to %s, more than 100%% of the basis", what, sum.Text('f'))
	}
	return nil
}
