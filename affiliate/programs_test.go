package affiliate_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/folioledger/folio"
	"github.com/folioledger/folio/affiliate"
	"github.com/folioledger/folio/ledger"
)

// Each program kind end to end (docs/CONTRACT.md §2.2, §2.4): the trade's fee leaves
// the trader's 202, passes through 101 (back to 0 after every batch) and
// lands in 208 per beneficiary and 605 for the remainder.

func TestLevelsProgram(t *testing.T) {
	f := newFixture(t)
	brokerTree(t, f) // A → B → C → D, broker 25/10/5
	tests := []struct {
		trader string
		want   map[string]string // balances after this trade alone
	}{
		// Full chain: C 25, B 10, A 5, platform 60.
		{"D", map[string]string{"208:USDT:C": "25", "208:USDT:B": "10", "208:USDT:A": "5", "605:USDT": "60", "202:USDT:D": "-100"}},
		// Short chains: the missing levels go to the platform.
		{"C", map[string]string{"208:USDT:B": "25", "208:USDT:A": "10", "605:USDT": "65", "202:USDT:C": "-100"}},
		{"B", map[string]string{"208:USDT:A": "25", "605:USDT": "75", "202:USDT:B": "-100"}},
		{"A", map[string]string{"605:USDT": "100", "202:USDT:A": "-100"}},
	}
	for _, tt := range tests {
		t.Run("trader "+tt.trader, func(t *testing.T) {
			f := newFixture(t)
			brokerTree(t, f)
			f.post(t, affiliate.TradeCreated, trade("t-"+tt.trader, tt.trader, "100"))
			want := map[string]string{"101:USDT": "0", "208:USDT:A": "0", "208:USDT:B": "0", "208:USDT:C": "0", "208:USDT:D": "0"}
			for k, v := range tt.want {
				want[k] = v
			}
			f.wantBalances(t, want)
			f.verify(t)
		})
	}
	// All four in one batch: balances add up.
	f.post(t, affiliate.TradeCreated, trade("1", "D", "100"), trade("2", "C", "100"), trade("3", "B", "100"), trade("4", "A", "100"))
	f.wantBalances(t, map[string]string{"208:USDT:C": "25", "208:USDT:B": "35", "208:USDT:A": "40", "605:USDT": "300", "101:USDT": "0"})
	// The accrual rows snapshot level, rate, basis, program and kind.
	info, err := f.svc.GetTrade(ctx, "1")
	must(t, "GetTrade", err)
	got := map[string]string{}
	for _, a := range info.Accruals {
		got[a.Beneficiary] = fmt.Sprintf("L%d %s×%s=%s %s/%s", a.Level, fmtDec(a.Rate), fmtDec(a.Basis), ledger.Format(&a.Amount), a.ProgramID, a.Kind)
	}
	want := map[string]string{"C": "L1 0.25×100=25 broker/levels", "B": "L2 0.1×100=10 broker/levels", "A": "L3 0.05×100=5 broker/levels"}
	if !sameMap(got, want) {
		t.Errorf("accruals of trade 1 = %v, want %v", got, want)
	}
	f.verify(t)
}

// orderlyTree builds the contract's (docs/CONTRACT.md) differential example: P = 0.10, root L1 with
// X_1 = 0.50 set by an operator, codes with default rates 0.35 and 0.25 down
// the chain, and trader T under L3 through a code without a rate.
func orderlyTree(t *testing.T, f *fixture, maxLevels int) {
	t.Helper()
	f.putProgram(t, "orderly", affiliate.ProgramSpec{Kind: "differential", MinPassDown: "0.10", MaxLevels: maxLevels, Default: true})
	f.user(t, "L1", "")
	f.setRate(t, "L1", "0.50")
	f.rateCode(t, "L1", "LAAAAA", "0.35")
	f.user(t, "L2", "laaaaa")
	f.rateCode(t, "L2", "LBBBBB", "0.25")
	f.user(t, "L3", "LBBBBB")
	f.code(t, "L3", "LCCCCC")
	f.user(t, "T", "LCCCCC")
}

func TestDifferentialProgram(t *testing.T) {
	tests := []struct {
		name      string
		maxLevels int
		want      map[string]string
	}{
		{"full chain", 0, map[string]string{"208:USDT:L1": "15", "208:USDT:L2": "10", "208:USDT:L3": "25", "605:USDT": "50"}},
		{"max_levels 2", 2, map[string]string{"208:USDT:L1": "0", "208:USDT:L2": "10", "208:USDT:L3": "25", "605:USDT": "65"}},
		{"max_levels 1", 1, map[string]string{"208:USDT:L1": "0", "208:USDT:L2": "0", "208:USDT:L3": "25", "605:USDT": "75"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			orderlyTree(t, f, tt.maxLevels)
			for id, want := range map[string]string{"L1": "0.5", "L2": "0.35", "L3": "0.25", "T": "<nil>"} {
				if got := f.rateOf(t, id); got != want {
					t.Errorf("rate of %s = %s, want %s", id, got, want)
				}
			}
			f.post(t, affiliate.TradeCreated, trade("t-1", "T", "100"))
			want := map[string]string{"101:USDT": "0", "202:USDT:T": "-100", "208:USDT:T": "0"}
			for k, v := range tt.want {
				want[k] = v
			}
			f.wantBalances(t, want)
			f.verify(t)
		})
	}
}

// An ancestor without an assigned rate ends the paying chain: it and every
// ancestor above it earn nothing, even those with rates.
func TestDifferentialAncestorWithoutRateEndsChain(t *testing.T) {
	f := newFixture(t)
	f.putProgram(t, "orderly", affiliate.ProgramSpec{Kind: "differential", MinPassDown: "0.10", Default: true})
	f.user(t, "R", "")
	f.setRate(t, "R", "0.50")
	f.code(t, "R", "RPLAN2") // no default rate: M joins without a rate
	f.user(t, "M", "RPLAN2")
	f.code(t, "M", "MPLAN2")
	f.user(t, "T", "MPLAN2")
	f.user(t, "T2", "RPLAN2")
	f.post(t, affiliate.TradeCreated, trade("t-1", "T", "100"), trade("t-2", "T2", "100"))
	// T's direct referrer M has no rate: nobody is paid. T2's direct
	// referrer R has 0.50: R earns its full rate.
	f.wantBalances(t, map[string]string{"208:USDT:M": "0", "208:USDT:R": "50", "605:USDT": "150", "101:USDT": "0"})
	info, err := f.svc.GetTrade(ctx, "t-1")
	must(t, "GetTrade", err)
	if len(info.Accruals) != 0 || info.Explanation["reason"] == nil {
		t.Errorf("trade t-1: accruals %v, explanation %v; want none and a reason", info.Accruals, info.Explanation)
	}
}

func TestKickbackProgram(t *testing.T) {
	f := newFixture(t)
	f.putProgram(t, "bn", affiliate.ProgramSpec{Kind: "kickback", Rate: "0.20", Default: true, Tiers: []affiliate.TierSpec{
		{Name: "silver", MinReferrals: 3, Rate: "0.25"},
		{Name: "gold", MinReferrals: 5, Rate: "0.30"},
	}})
	f.user(t, "R", "")
	if _, err := f.svc.CreateCode(ctx, "R", affiliate.NewCode{Code: "RKCKS2", Kickback: dp("0.05")}, "R"); err != nil {
		t.Fatal(err)
	}
	f.user(t, "T", "rkcks2")

	// R 20%, k 5%: referrer 15, trader 5 (as a credit on its own 208).
	f.post(t, affiliate.TradeCreated, trade("t-1", "T", "100"))
	f.wantBalances(t, map[string]string{"208:USDT:R": "15", "208:USDT:T": "5", "605:USDT": "80", "202:USDT:T": "-100", "101:USDT": "0"})
	got := map[string]string{}
	info, err := f.svc.GetTrade(ctx, "t-1")
	must(t, "GetTrade", err)
	for _, a := range info.Accruals {
		got[a.Beneficiary] = fmt.Sprintf("L%d %s", a.Level, fmtDec(a.Rate))
	}
	if want := map[string]string{"R": "L1 0.15", "T": "L0 0.05"}; !sameMap(got, want) {
		t.Errorf("accruals = %v, want %v", got, want)
	}

	// A kickback above the affiliate's rate R is refused at code creation.
	_, err = f.svc.CreateCode(ctx, "R", affiliate.NewCode{Code: "RGREED", Kickback: dp("0.25")}, "R")
	wantCode(t, "CreateCode kickback 0.25 > R 0.20", err, folio.EINVALID)

	// An affiliate override raises R (and what codes may give back).
	must(t, "SetKickbackRate", f.svc.SetKickbackRate(ctx, "R", dp("0.40"), "ops"))
	if _, err := f.svc.CreateCode(ctx, "R", affiliate.NewCode{Code: "RGREED", Kickback: dp("0.25")}, "R"); err != nil {
		t.Errorf("CreateCode kickback 0.25 ≤ override 0.40: %v", err)
	}
	f.post(t, affiliate.TradeCreated, trade("t-2", "T", "100"))
	if got, want := f.tradeShares(t, "t-2"), map[string]string{"R": "35", "T": "5"}; !sameMap(got, want) {
		t.Errorf("trade with override: shares %v, want %v", got, want)
	}
	// Clearing the override falls back to the program rate.
	must(t, "SetKickbackRate nil", f.svc.SetKickbackRate(ctx, "R", nil, "ops"))
	f.post(t, affiliate.TradeCreated, trade("t-3", "T", "100"))
	if got, want := f.tradeShares(t, "t-3"), map[string]string{"R": "15", "T": "5"}; !sameMap(got, want) {
		t.Errorf("trade after clearing the override: shares %v, want %v", got, want)
	}

	// Volume tiers by referral count: S without override earns 20% with
	// one referral, silver 25% from 3, gold 30% from 5.
	f.user(t, "S", "")
	f.code(t, "S", "SPLAN2")
	tiers := []struct {
		referrals int
		want      string
	}{{1, "20"}, {3, "25"}, {4, "25"}, {5, "30"}}
	n := 0
	for _, tc := range tiers {
		for n < tc.referrals {
			n++
			f.user(t, fmt.Sprintf("S%d", n), "SPLAN2")
		}
		id := fmt.Sprintf("s-%d", tc.referrals)
		f.post(t, affiliate.TradeCreated, trade(id, "S1", "100"))
		if got := f.tradeShares(t, id)["S"]; got != tc.want {
			t.Errorf("S with %d referrals earns %s, want %s", tc.referrals, got, tc.want)
		}
	}
	f.wantBalances(t, map[string]string{"101:USDT": "0", "208:USDT:S": "100"})
	f.verify(t)
}

// After a re-parenting the code's kickback belongs to the old referrer's
// deal: the new referrer earns its full rate and the trader nothing.
func TestKickbackAfterReparenting(t *testing.T) {
	f := newFixture(t)
	f.putProgram(t, "bn", affiliate.ProgramSpec{Kind: "kickback", Rate: "0.20", Default: true})
	f.user(t, "R", "")
	f.user(t, "S", "")
	if _, err := f.svc.CreateCode(ctx, "R", affiliate.NewCode{Code: "RKCKS2", Kickback: dp("0.05")}, "R"); err != nil {
		t.Fatal(err)
	}
	f.user(t, "T", "RKCKS2")
	must(t, "SetReferrer", f.svc.SetReferrer(ctx, "T", "S", "ops"))
	f.post(t, affiliate.TradeCreated, trade("t-1", "T", "100"))
	f.wantBalances(t, map[string]string{"208:USDT:S": "20", "208:USDT:T": "0", "208:USDT:R": "0", "605:USDT": "80"})
}

func TestTableProgram(t *testing.T) {
	f := newFixture(t)
	f.putProgram(t, "applogic", affiliate.ProgramSpec{Kind: "table", Default: true})
	for _, id := range []string{"A", "B", "T", "U"} {
		f.user(t, id, "")
	}
	must(t, "SetRevenueShare", f.svc.SetRevenueShare(ctx, "T", []affiliate.TableShare{{Beneficiary: "B", Share: d("0.30")}, {Beneficiary: "A", Share: d("0.10")}}, "ops"))
	f.post(t, affiliate.TradeCreated, trade("t-1", "T", "100"), trade("u-1", "U", "100"))
	// U has no table: the platform keeps the fee.
	f.wantBalances(t, map[string]string{"208:USDT:B": "30", "208:USDT:A": "10", "605:USDT": "160", "101:USDT": "0", "202:USDT:T": "-100", "202:USDT:U": "-100"})
	info, err := f.svc.GetTrade(ctx, "u-1")
	must(t, "GetTrade", err)
	if got, want := info.Explanation["reason"], "the trader has no revenue-share table"; got != want {
		t.Errorf("reason of u-1 = %v, want %q", got, want)
	}

	refused := []struct {
		name   string
		user   string
		shares []affiliate.TableShare
		code   string
	}{
		{"over 100%", "T", []affiliate.TableShare{{Beneficiary: "B", Share: d("0.7")}, {Beneficiary: "A", Share: d("0.4")}}, folio.EINVALID},
		{"share above 1", "T", []affiliate.TableShare{{Beneficiary: "B", Share: d("1.5")}}, folio.EINVALID},
		{"negative share", "T", []affiliate.TableShare{{Beneficiary: "B", Share: d("-0.1")}}, folio.EINVALID},
		{"self beneficiary", "T", []affiliate.TableShare{{Beneficiary: "T", Share: d("0.1")}}, folio.ESELFREFERRAL},
		{"beneficiary twice", "T", []affiliate.TableShare{{Beneficiary: "B", Share: d("0.1")}, {Beneficiary: "B", Share: d("0.1")}}, folio.EINVALID},
		{"unknown beneficiary", "T", []affiliate.TableShare{{Beneficiary: "ghost", Share: d("0.1")}}, folio.ENOTFOUND},
		{"unknown user", "ghost", []affiliate.TableShare{{Beneficiary: "B", Share: d("0.1")}}, folio.ENOTFOUND},
	}
	for _, tt := range refused {
		wantCode(t, "SetRevenueShare "+tt.name, f.svc.SetRevenueShare(ctx, tt.user, tt.shares, "ops"), tt.code)
	}
	// The refused tables left the first one in force.
	f.post(t, affiliate.TradeCreated, trade("t-2", "T", "100"))
	if got, want := f.tradeShares(t, "t-2"), map[string]string{"B": "30", "A": "10"}; !sameMap(got, want) {
		t.Errorf("shares after refused tables = %v, want %v", got, want)
	}
	f.verify(t)
}

// viral is the contract's (docs/CONTRACT.md) bounty example plus kyc, first deposit and a
// deposit percentage with a minimum base and a maximum reward.
func viral() affiliate.ProgramSpec {
	raw := func(s string) json.RawMessage { return json.RawMessage(s) }
	return affiliate.ProgramSpec{Kind: "bounty", Currency: "TOKEN", Events: map[string][]json.RawMessage{
		"signup":        {raw(`"50"`), raw(`"10"`)},
		"kyc_verified":  {raw(`"5"`)},
		"first_deposit": {raw(`"20"`)},
		"deposit":       {raw(`{"percent": "0.1", "min_base": "100", "max_reward": "25"}`)},
	}}
}

func TestBountyProgram(t *testing.T) {
	f := newFixture(t)
	f.putProgram(t, "viral", viral())
	f.user(t, "A", "")
	f.code(t, "A", "AAAAAA")
	f.user(t, "B", "AAAAAA") // pays A 50
	f.code(t, "B", "BBBBBB")
	f.user(t, "D", "BBBBBB") // pays B 50, A 10
	f.wantBalances(t, map[string]string{"208:TOKEN:B": "50", "208:TOKEN:A": "60", "208:TOKEN:D": "0", "420:TOKEN": "110"})

	// D's signup entry: Dr 420:TOKEN 60 / Cr 208:TOKEN:B 50, 208:TOKEN:A 10.
	as, err := f.svc.ListAccruals(ctx, affiliate.AccrualFilter{Beneficiary: "B", Source: "bounty"})
	must(t, "ListAccruals", err)
	if len(as) != 1 || as[0].EventID != "signup:D" || as[0].Level != 1 || as[0].Kind != "bounty" || ledger.Format(&as[0].Amount) != "50" {
		t.Fatalf("B's bounty accruals = %+v, want one of 50 for signup:D at level 1", as)
	}
	if got, want := f.entryPostings(t, as[0].EntryID), []string{"debit 420:TOKEN 60", "credit 208:TOKEN:B 50", "credit 208:TOKEN:A 10"}; !slices.Equal(got, want) {
		t.Errorf("signup bounty entry = %v, want %v", got, want)
	}

	type step struct {
		name        string
		ev          affiliate.Event
		wantCreated bool
		wantEntries int
		wantB       string // 208:TOKEN:B afterwards
		wantCode    string
	}
	steps := []step{
		{"kyc pays B 5", affiliate.Event{ID: "kyc-D", Type: "kyc_verified"}, true, 1, "55", ""},
		{"kyc replay is a no-op", affiliate.Event{ID: "kyc-D", Type: "kyc_verified"}, false, 1, "55", ""}, // the replay answers the entry the first recording wrote
		{"second kyc event pays nothing", affiliate.Event{ID: "kyc-D-2", Type: "kyc_verified"}, true, 0, "55", ""},
		{"first deposit pays B 20", affiliate.Event{ID: "fd-D", Type: "first_deposit", Amount: dp("500"), Currency: "TOKEN"}, true, 1, "75", ""},
		{"another first_deposit id pays nothing", affiliate.Event{ID: "fd-D-2", Type: "first_deposit", Amount: dp("700"), Currency: "TOKEN"}, true, 0, "75", ""},
		{"deposit below min base pays nothing", affiliate.Event{ID: "dep-1", Type: "deposit", Amount: dp("50"), Currency: "TOKEN"}, true, 0, "75", ""},
		{"deposit 100 pays 10%", affiliate.Event{ID: "dep-2", Type: "deposit", Amount: dp("100"), Currency: "TOKEN"}, true, 1, "85", ""},
		{"deposit 1000 pays the max 25", affiliate.Event{ID: "dep-3", Type: "deposit", Amount: dp("1000"), Currency: "TOKEN"}, true, 1, "110", ""},
		{"deposits are not one-off", affiliate.Event{ID: "dep-4", Type: "deposit", Amount: dp("123"), Currency: "TOKEN"}, true, 1, "122", ""},
		{"deposit replay is a no-op", affiliate.Event{ID: "dep-4", Type: "deposit", Amount: dp("123"), Currency: "TOKEN"}, false, 1, "122", ""}, // the replay answers the entry the first recording wrote
		{"same id, other amount", affiliate.Event{ID: "dep-4", Type: "deposit", Amount: dp("124"), Currency: "TOKEN"}, false, 0, "122", folio.EIDEMPOTENCY},
		{"same id, other type", affiliate.Event{ID: "dep-4", Type: "kyc_verified"}, false, 0, "122", folio.EIDEMPOTENCY},
		{"same id, other currency", affiliate.Event{ID: "dep-4", Type: "deposit", Amount: dp("123"), Currency: "USDT"}, false, 0, "122", folio.EIDEMPOTENCY},
		{"signup is raised by registration", affiliate.Event{ID: "s", Type: "signup"}, false, 0, "122", folio.EINVALID},
		{"deposit without amount", affiliate.Event{ID: "x", Type: "deposit"}, false, 0, "122", folio.EINVALID},
	}
	for _, s := range steps {
		res, err := f.svc.RecordEvent(ctx, "D", s.ev)
		if s.wantCode != "" {
			wantCode(t, s.name, err, s.wantCode)
		} else if err != nil {
			t.Errorf("%s: RecordEvent: %v", s.name, err)
		} else if res.Created != s.wantCreated || len(res.EntryIDs) != s.wantEntries {
			t.Errorf("%s: RecordEvent = created %v, %d entries; want %v, %d", s.name, res.Created, len(res.EntryIDs), s.wantCreated, s.wantEntries)
		}
		if got := f.balance(t, "208:TOKEN:B"); got != s.wantB {
			t.Errorf("%s: 208:TOKEN:B = %s, want %s", s.name, got, s.wantB)
		}
	}
	// A deposit in another currency is converted into the reward currency
	// first: 100 USDT at 2 TOKEN/USDT is a 200 TOKEN deposit → 20.
	must(t, "PutRate", f.svc.PutRate(ctx, "USDT", "TOKEN", "oracle", d("2"), f.now, "ops"))
	if _, err := f.svc.RecordEvent(ctx, "D", affiliate.Event{ID: "dep-usdt", Type: "deposit", Amount: dp("100"), Currency: "USDT"}); err != nil {
		t.Fatal(err)
	}
	f.wantBalances(t, map[string]string{"208:TOKEN:B": "142", "208:TOKEN:A": "60", "420:TOKEN": "202"})
	u, err := f.svc.GetUser(ctx, "D")
	must(t, "GetUser", err)
	if u.KYCVerifiedAt == nil || u.FirstDepositAt == nil {
		t.Errorf("D's milestones kyc %v, first deposit %v; want both set", u.KYCVerifiedAt, u.FirstDepositAt)
	}
	f.verify(t)
}

// Configuration that could pay more than 100% of the basis, or makes no
// sense, is refused when configured; nothing is stored.
func TestProgramConfigurationRefused(t *testing.T) {
	f := newFixture(t)
	bountyDefault := viral()
	bountyDefault.Default = true
	noCurrency := viral()
	noCurrency.Currency = ""
	tests := []struct {
		name string
		spec affiliate.ProgramSpec
	}{
		{"levels summing over 1", affiliate.ProgramSpec{Kind: "levels", Levels: []string{"0.6", "0.3", "0.2"}}},
		{"level rate over 1", affiliate.ProgramSpec{Kind: "levels", Levels: []string{"1.5"}}},
		{"negative level rate", affiliate.ProgramSpec{Kind: "levels", Levels: []string{"-0.1"}}},
		{"no levels", affiliate.ProgramSpec{Kind: "levels"}},
		{"16 levels", affiliate.ProgramSpec{Kind: "levels", Levels: slices.Repeat([]string{"0.01"}, 16)}},
		{"rate not a decimal", affiliate.ProgramSpec{Kind: "levels", Levels: []string{"1e-1"}}},
		{"kickback rate over 1", affiliate.ProgramSpec{Kind: "kickback", Rate: "1.2"}},
		{"kickback negative rate", affiliate.ProgramSpec{Kind: "kickback", Rate: "-0.2"}},
		{"kickback without rate", affiliate.ProgramSpec{Kind: "kickback"}},
		{"kickback tier over 1", affiliate.ProgramSpec{Kind: "kickback", Rate: "0.2", Tiers: []affiliate.TierSpec{{Name: "x", Rate: "1.01"}}}},
		{"differential P over 1", affiliate.ProgramSpec{Kind: "differential", MinPassDown: "2"}},
		{"differential max_levels over 100", affiliate.ProgramSpec{Kind: "differential", MaxLevels: 101}},
		{"differential max_levels 16", affiliate.ProgramSpec{Kind: "differential", MaxLevels: 16}},
		{"base_fee_rate over 1", affiliate.ProgramSpec{Kind: "levels", Levels: []string{"0.1"}, BaseFeeRate: "1.1"}},
		{"unknown kind", affiliate.ProgramSpec{Kind: "pyramid"}},
		{"empty kind", affiliate.ProgramSpec{}},
		{"bounty as default", bountyDefault},
		{"bounty without currency", noCurrency},
		{"bounty without events", affiliate.ProgramSpec{Kind: "bounty", Currency: "TOKEN"}},
		{"events on a levels program", affiliate.ProgramSpec{Kind: "levels", Levels: []string{"0.1"}, Currency: "TOKEN"}},
	}
	for _, tt := range tests {
		_, err := f.svc.PutProgram(ctx, "p", tt.spec, "ops")
		wantCode(t, tt.name, err, folio.EINVALID)
	}
	_, err := f.svc.PutProgram(ctx, "Bad Id", affiliate.ProgramSpec{Kind: "table"}, "ops")
	wantCode(t, "bad program id", err, folio.EINVALID)
	ps, err := f.svc.ListPrograms(ctx)
	must(t, "ListPrograms", err)
	if len(ps) != 0 {
		t.Errorf("ListPrograms after refusals = %d programs, want 0", len(ps))
	}
	if n := f.count(t, `SELECT count(*) FROM audit_log WHERE action LIKE 'program.%'`); n != 0 {
		t.Errorf("audit records of refused programs = %d, want 0", n)
	}
}

// Program resolution: own assignment, else group, else default; a bounty
// program cannot be assigned; a group belongs to one program; the default
// moves.
func TestProgramResolution(t *testing.T) {
	f := newFixture(t)
	f.putProgram(t, "broker", affiliate.ProgramSpec{Kind: "levels", Levels: []string{"0.25"}, Default: true})
	f.putProgram(t, "vip", affiliate.ProgramSpec{Kind: "levels", Levels: []string{"0.40"}, Groups: []string{"vip"}})
	f.putProgram(t, "own", affiliate.ProgramSpec{Kind: "levels", Levels: []string{"0.10"}})
	f.putProgram(t, "viral", viral())
	f.user(t, "A", "")
	f.code(t, "A", "AAAAAA")
	f.user(t, "T1", "AAAAAA")
	f.userIn(t, "T2", "AAAAAA", "vip")
	f.userIn(t, "T3", "AAAAAA", "vip")
	must(t, "AssignProgram", f.svc.AssignProgram(ctx, "T3", "own", "ops"))
	wantCode(t, "assign a bounty program", f.svc.AssignProgram(ctx, "T1", "viral", "ops"), folio.EINVALID)
	wantCode(t, "assign an unknown program", f.svc.AssignProgram(ctx, "T1", "nope", "ops"), folio.ENOTFOUND)
	_, err := f.svc.PutProgram(ctx, "vip2", affiliate.ProgramSpec{Kind: "table", Groups: []string{"vip"}}, "ops")
	wantCode(t, "group of another program", err, folio.ECONFLICT)

	f.post(t, affiliate.TradeCreated, trade("1", "T1", "100"), trade("2", "T2", "100"), trade("3", "T3", "100"))
	for id, want := range map[string]string{"1": "broker 25", "2": "vip 40", "3": "own 10"} {
		info, err := f.svc.GetTrade(ctx, id)
		must(t, "GetTrade", err)
		if got := info.ProgramID + " " + f.tradeShares(t, id)["A"]; got != want {
			t.Errorf("trade %s: program and A's share = %q, want %q", id, got, want)
		}
	}
	// A new default takes the flag from the old one.
	f.putProgram(t, "broker2", affiliate.ProgramSpec{Kind: "levels", Levels: []string{"0.05"}, Default: true})
	ps, err := f.svc.ListPrograms(ctx)
	must(t, "ListPrograms", err)
	var defaults []string
	for _, p := range ps {
		if p.Spec.Default {
			defaults = append(defaults, p.ID)
		}
	}
	if !slices.Equal(defaults, []string{"broker2"}) {
		t.Errorf("default programs = %v, want [broker2]", defaults)
	}
	f.post(t, affiliate.TradeCreated, trade("4", "T1", "100"))
	if got := f.tradeShares(t, "4")["A"]; got != "5" {
		t.Errorf("trade under the new default: A earns %s, want 5", got)
	}
	// A program with accruals cannot change kind.
	_, err = f.svc.PutProgram(ctx, "broker", affiliate.ProgramSpec{Kind: "table"}, "ops")
	wantCode(t, "kind change of a used program", err, folio.ECONFLICT)
	f.verify(t)
}

// Volume tiers by trailing-30-day referred volume in the reporting
// currency: volume older than 30 days does not count, and trades of one
// batch see the volume booked before it.
func TestKickbackVolumeTier(t *testing.T) {
	f := goldTier(t)
	withVolume := func(id, volume string, executed time.Time) affiliate.NewTrade {
		tr := trade(id, "T", "100")
		tr.Volume = &affiliate.Money{Amount: volume, Currency: "USDT"}
		tr.ExecutedAt = executed
		return tr
	}
	recent := f.now.Add(-24 * time.Hour)
	steps := []struct {
		trades []affiliate.NewTrade
		want   []string // S's share of each trade
	}{
		// 40 days old: booked but outside the window.
		{[]affiliate.NewTrade{withVolume("old", "50000", f.now.Add(-40*24*time.Hour))}, []string{"20"}},
		// Both see 0 in the window: the batch's own volume counts after it.
		{[]affiliate.NewTrade{withVolume("v-1", "6000", recent), withVolume("v-2", "6000", recent)}, []string{"20", "20"}},
		// 12000 ≥ 10000: gold.
		{[]affiliate.NewTrade{withVolume("v-3", "1", recent)}, []string{"30"}},
	}
	for _, s := range steps {
		f.post(t, affiliate.TradeCreated, s.trades...)
		for i, tr := range s.trades {
			if got := f.tradeShares(t, tr.ID)["S"]; got != s.want[i] {
				t.Errorf("trade %s: S earns %s, want %s", tr.ID, got, s.want[i])
			}
		}
	}
}
