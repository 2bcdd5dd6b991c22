package affiliate

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/cockroachdb/apd/v3"
	"github.com/folioledger/folio/ledger"
)

func dec(s string) apd.Decimal {
	d, _, err := apd.NewFromString(s)
	if err != nil {
		panic(err)
	}
	return *d
}

func decp(s string) *apd.Decimal { d := dec(s); return &d }

func decs(ss ...string) []apd.Decimal {
	out := make([]apd.Decimal, len(ss))
	for i, s := range ss {
		out[i] = dec(s)
	}
	return out
}

// chainOf builds a chain whose ancestors are given nearest first.
func chainOf(trader string, ancestors ...string) *Chain {
	c := &Chain{Trader: Member{ID: trader}}
	for _, a := range ancestors {
		c.Ancestors = append(c.Ancestors, Member{ID: a})
	}
	return c
}

// got renders shares as "id=amount" sorted by level order of the result.
func render(r *SplitResult) string {
	var parts []string
	for _, s := range r.Shares {
		parts = append(parts, fmt.Sprintf("%s=%s", s.Beneficiary, ledger.Format(&s.Amount)))
	}
	parts = append(parts, "platform="+ledger.Format(&r.Remainder))
	return strings.Join(parts, " ")
}

func split(t *testing.T, rule Rule, p *Program, c *Chain, fee string, precision int) *SplitResult {
	t.Helper()
	f := dec(fee)
	var zero apd.Decimal
	r, err := Split(rule, p, c, &f, &zero, precision)
	if err != nil {
		t.Fatalf("Split: %v", err)
	}
	return r
}

// The worked examples of docs/CONTRACT.md §2.2 (basis 100).
func TestSpecExamples(t *testing.T) {
	diff := chainOf("D", "L3", "L2", "L1")
	diff.Ancestors[0].Rate, diff.Ancestors[1].Rate, diff.Ancestors[2].Rate = decp("0.25"), decp("0.35"), decp("0.50")
	kick := chainOf("T", "R")
	kick.CodeKickback = decp("0.05")
	table := chainOf("T")
	table.Trader.Shares = []TableShare{{"B", dec("0.30")}, {"A", dec("0.10")}}
	tests := []struct {
		name  string
		rule  Rule
		p     *Program
		chain *Chain
		want  string
	}{
		{"levels broker 25/10/5", LevelsRule{}, &Program{Kind: KindLevels, Levels: decs("0.25", "0.10", "0.05")}, chainOf("D", "C", "B", "A"),
			"C=25 B=10 A=5 platform=60"},
		{"levels short chain", LevelsRule{}, &Program{Kind: KindLevels, Levels: decs("0.25", "0.10", "0.05")}, chainOf("D", "C"),
			"C=25 platform=75"},
		{"levels no referrer", LevelsRule{}, &Program{Kind: KindLevels, Levels: decs("0.25")}, chainOf("D"), "platform=100"},
		{"differential 50/35/25", DifferentialRule{}, &Program{Kind: KindDifferential, MaxLevels: 15}, diff, "L3=25 L2=10 L1=15 platform=50"},
		{"differential max_levels 2", DifferentialRule{}, &Program{Kind: KindDifferential, MaxLevels: 2}, diff, "L3=25 L2=10 platform=65"},
		{"kickback 20/5", KickbackRule{}, &Program{Kind: KindKickback, Rate: dec("0.20")}, kick, "R=15 T=5 platform=80"},
		{"table B30 A10", TableRule{}, &Program{Kind: KindTable}, table, "B=30 A=10 platform=60"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := render(split(t, tt.rule, tt.p, tt.chain, "100", 6)); got != tt.want {
				t.Errorf("Split = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestDifferentialClampsStaleRates(t *testing.T) {
	// A descendant configured above its ancestor is paid as if clamped.
	c := chainOf("T", "B", "A")
	c.Ancestors[0].Rate, c.Ancestors[1].Rate = decp("0.40"), decp("0.30")
	if got, want := render(split(t, DifferentialRule{}, &Program{MaxLevels: 15}, c, "100", 2)), "B=30 platform=70"; got != want {
		t.Errorf("Split = %q, want %q", got, want)
	}
}

func TestKickbackOverrideAndClamp(t *testing.T) {
	c := chainOf("T", "R")
	c.Ancestors[0].KickbackRate = decp("0.30")
	c.CodeKickback = decp("0.50") // above R: clamped to R
	if got, want := render(split(t, KickbackRule{}, &Program{Rate: dec("0.20")}, c, "100", 2)), "T=30 platform=70"; got != want {
		t.Errorf("Split = %q, want %q", got, want)
	}
}

func TestRoundingDownPlatformKeepsRemainder(t *testing.T) {
	p := &Program{Levels: decs("0.3333", "0.3333", "0.3333")}
	r := split(t, LevelsRule{}, p, chainOf("D", "C", "B", "A"), "0.01", 2)
	// 0.003333 rounds down to 0 at 2 places: every share is dropped.
	if got, want := render(r), "platform=0.01"; got != want {
		t.Errorf("Split = %q, want %q", got, want)
	}
	r = split(t, LevelsRule{}, p, chainOf("D", "C", "B", "A"), "10", 2)
	if got, want := render(r), "C=3.33 B=3.33 A=3.33 platform=0.01"; got != want {
		t.Errorf("Split = %q, want %q", got, want)
	}
}

func TestBaseFeeReducesBasis(t *testing.T) {
	fee, base := dec("10"), dec("4")
	r, err := Split(LevelsRule{}, &Program{Levels: decs("0.5")}, chainOf("D", "C"), &fee, &base, 2)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := render(r), "C=3 platform=7"; got != want {
		t.Errorf("Split = %q, want %q", got, want)
	}
	base = dec("12") // basis never below zero
	r, err = Split(LevelsRule{}, &Program{Levels: decs("0.5")}, chainOf("D", "C"), &fee, &base, 2)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := render(r), "platform=10"; got != want {
		t.Errorf("Split = %q, want %q", got, want)
	}
}

type greedyRule struct{}

func (greedyRule) Validate(*Program) error { return nil }
func (greedyRule) Depth(*Program) int      { return 1 }
func (greedyRule) Inputs(*Program) Inputs  { return 0 }
func (greedyRule) Shares(p *Program, c *Chain, basis *apd.Decimal) ([]Share, error) {
	var twice apd.Decimal
	_, _ = exact.Add(&twice, basis, basis)
	return []Share{{Beneficiary: "x", Amount: twice}}, nil
}

func TestSplitRefusesPayingMoreThanBasis(t *testing.T) {
	fee, zero := dec("1"), dec("0")
	if _, err := Split(greedyRule{}, &Program{Kind: "greedy"}, chainOf("D"), &fee, &zero, 2); err == nil {
		t.Fatal("Split of a rule paying 200% = nil error, want an error")
	}
}

func TestValidatePrograms(t *testing.T) {
	reg := NewRegistry()
	tests := []struct {
		name string
		p    Program
		ok   bool
	}{
		{"levels ok", Program{ID: "broker", Kind: KindLevels, Levels: decs("0.25", "0.10", "0.05")}, true},
		{"levels over 100%", Program{ID: "x", Kind: KindLevels, Levels: decs("0.6", "0.5")}, false},
		{"levels negative", Program{ID: "x", Kind: KindLevels, Levels: decs("-0.1")}, false},
		{"levels none", Program{ID: "x", Kind: KindLevels}, false},
		{"differential ok", Program{ID: "o", Kind: KindDifferential, MinPassDown: dec("0.1"), MaxLevels: 15}, true},
		{"differential P > 1", Program{ID: "o", Kind: KindDifferential, MinPassDown: dec("1.5"), MaxLevels: 15}, false},
		{"kickback ok", Program{ID: "b", Kind: KindKickback, Rate: dec("0.2")}, true},
		{"kickback tier over 1", Program{ID: "b", Kind: KindKickback, Rate: dec("0.2"), Tiers: []Tier{{Rate: dec("1.2")}}}, false},
		{"table ok", Program{ID: "t", Kind: KindTable}, true},
		{"bounty ok", Program{ID: "v", Kind: KindBounty, Currency: "TOKEN", Events: map[string][]BountyReward{"signup": {{Amount: decp("50")}, {Amount: decp("10")}}}}, true},
		{"bounty no currency", Program{ID: "v", Kind: KindBounty, Events: map[string][]BountyReward{"signup": {{Amount: decp("50")}}}}, false},
		{"bounty unknown event", Program{ID: "v", Kind: KindBounty, Currency: "T", Events: map[string][]BountyReward{"birthday": {{Amount: decp("1")}}}}, false},
		{"bounty percent on signup", Program{ID: "v", Kind: KindBounty, Currency: "T", Events: map[string][]BountyReward{"signup": {{Percent: decp("0.1")}}}}, false},
		{"unknown kind", Program{ID: "u", Kind: "pyramid"}, false},
		{"bad id", Program{ID: "Bad Id", Kind: KindTable}, false},
	}
	for _, tt := range tests {
		err := reg.ValidateProgram(&tt.p)
		if (err == nil) != tt.ok {
			t.Errorf("%s: ValidateProgram = %v, want ok=%v", tt.name, err, tt.ok)
		}
	}
}

func TestBountyShares(t *testing.T) {
	p := &Program{Kind: KindBounty, Currency: "TOKEN", Events: map[string][]BountyReward{
		EventSignup:  {{Amount: decp("50")}, {Amount: decp("10")}},
		EventDeposit: {{Percent: decp("0.1"), MinBase: decp("100"), MaxReward: decp("25")}},
	}}
	c := chainOf("D", "B", "A")
	got, err := BountyShares(p, EventSignup, c, nil, 0)
	if err != nil || len(got) != 2 || got[0].Beneficiary != "B" || got[0].Amount.Text('f') != "50" || got[1].Amount.Text('f') != "10" {
		t.Fatalf("signup bounty = %+v, %v; want B 50, A 10", got, err)
	}
	for _, tc := range []struct{ deposit, want string }{{"50", ""}, {"100", "10"}, {"1000", "25"}, {"123.45", "12"}} {
		got, err := BountyShares(p, EventDeposit, c, decp(tc.deposit), 0)
		if err != nil {
			t.Fatal(err)
		}
		var s string
		if len(got) > 0 {
			s = got[0].Amount.Text('f')
		}
		if s != tc.want {
			t.Errorf("deposit %s bounty = %q, want %q", tc.deposit, s, tc.want)
		}
	}
}

// checkConservation asserts the invariants of docs/CONTRACT.md §2.3 on one split.
func checkConservation(t testing.TB, r *SplitResult, fee *apd.Decimal, precision int) {
	t.Helper()
	var sum apd.Decimal
	for _, s := range r.Shares {
		if s.Amount.Sign() <= 0 {
			t.Fatalf("share %s = %s, want > 0", s.Beneficiary, s.Amount.Text('f'))
		}
		if -int(s.Amount.Exponent) > precision {
			t.Fatalf("share %s has more than %d places", s.Amount.Text('f'), precision)
		}
		_, _ = exact.Add(&sum, &sum, &s.Amount)
	}
	if sum.Cmp(&r.Basis) > 0 {
		t.Fatalf("shares %s exceed basis %s", sum.Text('f'), r.Basis.Text('f'))
	}
	if r.Remainder.Sign() < 0 {
		t.Fatalf("remainder %s < 0", r.Remainder.Text('f'))
	}
	_, _ = exact.Add(&sum, &sum, &r.Remainder)
	if sum.Cmp(fee) != 0 {
		t.Fatalf("shares + remainder = %s, want fee %s", sum.Text('f'), fee.Text('f'))
	}
}

// randomCase builds a random program, chain and fee for property tests.
func randomCase(rng *rand.Rand) (Rule, *Program, *Chain, apd.Decimal, int) {
	precision := rng.IntN(19)
	depth := rng.IntN(8)
	names := make([]string, depth)
	for i := range names {
		names[i] = fmt.Sprintf("u%d", i)
	}
	c := chainOf("trader", names...)
	randRate := func(maxMilli int) apd.Decimal {
		return *apd.New(int64(rng.IntN(maxMilli+1)), -3)
	}
	fee := *apd.New(rng.Int64N(1_000_000_000_000)+1, -int32(rng.IntN(precision+1)))
	var rule Rule
	p := &Program{MaxLevels: 1 + rng.IntN(15)}
	switch rng.IntN(4) {
	case 0:
		rule, p.Kind = LevelsRule{}, KindLevels
		left := 1000
		for i := 0; i < 1+rng.IntN(5); i++ {
			r := rng.IntN(left + 1)
			left -= r
			p.Levels = append(p.Levels, *apd.New(int64(r), -3))
		}
	case 1:
		rule, p.Kind = DifferentialRule{}, KindDifferential
		for i := range c.Ancestors {
			r := randRate(1000)
			c.Ancestors[i].Rate = &r
		}
	case 2:
		rule, p.Kind = KickbackRule{}, KindKickback
		p.Rate = randRate(1000)
		k := randRate(1000)
		c.CodeKickback = &k
	default:
		rule, p.Kind = TableRule{}, KindTable
		left := 1000
		for i := 0; i < rng.IntN(4); i++ {
			r := rng.IntN(left + 1)
			left -= r
			c.Trader.Shares = append(c.Trader.Shares, TableShare{Beneficiary: fmt.Sprintf("b%d", i), Share: *apd.New(int64(r), -3)})
		}
	}
	return rule, p, c, fee, precision
}

func TestSplitProperties(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 20000; i++ {
		rule, p, c, fee, precision := randomCase(rng)
		var zero apd.Decimal
		r, err := Split(rule, p, c, &fee, &zero, precision)
		if err != nil {
			t.Fatalf("case %d (%s): %v", i, p.Kind, err)
		}
		checkConservation(t, r, &fee, precision)
	}
}

func FuzzSplit(f *testing.F) {
	f.Add(uint64(1), uint64(2))
	f.Add(uint64(42), uint64(7))
	f.Fuzz(func(t *testing.T, a, b uint64) {
		rule, p, c, fee, precision := randomCase(rand.New(rand.NewPCG(a, b)))
		var zero apd.Decimal
		r, err := Split(rule, p, c, &fee, &zero, precision)
		if err != nil {
			t.Fatalf("%s: %v", p.Kind, err)
		}
		checkConservation(t, r, &fee, precision)
	})
}
