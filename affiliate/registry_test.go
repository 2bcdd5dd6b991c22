package affiliate_test

import (
	"testing"

	"github.com/cockroachdb/apd/v3"
	"github.com/folioledger/folio"
	"github.com/folioledger/folio/affiliate"
	"github.com/folioledger/folio/ledger"
)

var onePercent = apd.New(1, -2)

// flatRule is an integrator's rule: 1% of the basis to the direct referrer.
type flatRule struct{}

func (flatRule) Validate(p *affiliate.Program) error { return nil }

func (flatRule) Depth(p *affiliate.Program) int { return 1 }

func (flatRule) Inputs(p *affiliate.Program) affiliate.Inputs { return 0 }

func (flatRule) Shares(p *affiliate.Program, c *affiliate.Chain, basis *apd.Decimal) ([]affiliate.Share, error) {
	if len(c.Ancestors) == 0 {
		return nil, nil
	}
	var amt apd.Decimal
	if _, err := apd.BaseContext.WithPrecision(60).Mul(&amt, basis, onePercent); err != nil {
		return nil, err
	}
	return []affiliate.Share{{Beneficiary: c.Ancestors[0].ID, Level: 1, Rate: *onePercent, Amount: amt}}, nil
}

// topRule pays 1% of the basis to the root of the trader's chain: it needs
// the whole chain, however deep.
type topRule struct{}

func (topRule) Validate(p *affiliate.Program) error {
	if len(p.Levels) > 0 {
		return folio.Errorf(folio.EINVALID, "top: takes no levels")
	}
	return nil
}

// Depth: the whole chain, as deep as the engine walks any chain.
func (topRule) Depth(p *affiliate.Program) int { return affiliate.DefaultMaxLevels }

func (topRule) Inputs(p *affiliate.Program) affiliate.Inputs { return 0 }

func (topRule) Shares(p *affiliate.Program, c *affiliate.Chain, basis *apd.Decimal) ([]affiliate.Share, error) {
	n := len(c.Ancestors)
	if n == 0 {
		return nil, nil
	}
	var amt apd.Decimal
	if _, err := apd.BaseContext.WithPrecision(60).Mul(&amt, basis, onePercent); err != nil {
		return nil, err
	}
	return []affiliate.Share{{Beneficiary: c.Ancestors[n-1].ID, Level: n, Rate: *onePercent, Amount: amt}}, nil
}

// A custom Rule registered by an integrator is validated and used by a
// program of its kind end to end, like the built-in kinds.
func TestCustomRule(t *testing.T) {
	f := newFixture(t)
	_, err := f.svc.PutProgram(ctx, "flat1", affiliate.ProgramSpec{Kind: "flat", Default: true}, "ops")
	wantCode(t, "program of an unregistered kind", err, folio.EINVALID)

	f.svc.Rules.Register("flat", flatRule{})
	f.svc.Rules.Register("top", topRule{})
	f.putProgram(t, "flat1", affiliate.ProgramSpec{Kind: "flat", Default: true})
	_, err = f.svc.PutProgram(ctx, "top1", affiliate.ProgramSpec{Kind: "top", Levels: []string{"0.1"}}, "ops")
	wantCode(t, "the custom rule's own validation", err, folio.EINVALID)
	f.putProgram(t, "top1", affiliate.ProgramSpec{Kind: "top"})

	// A → B → C → D → E; E is on the top program.
	f.user(t, "A", "")
	prev := "A"
	for _, id := range []string{"B", "C", "D", "E"} {
		code := prev + prev + prev + prev + prev + prev
		f.code(t, prev, code)
		f.user(t, id, code)
		prev = id
	}
	must(t, "AssignProgram", f.svc.AssignProgram(ctx, "E", "top1", "ops"))
	f.post(t, affiliate.TradeCreated, trade("flat", "D", "100"), trade("top", "E", "250"))
	f.wantBalances(t, map[string]string{"208:USDT:C": "1", "208:USDT:A": "2.5", "208:USDT:D": "0", "605:USDT": "346.5", "101:USDT": "0"})
	info, err := f.svc.GetTrade(ctx, "flat")
	must(t, "GetTrade", err)
	if len(info.Accruals) != 1 {
		t.Fatalf("flat trade accruals = %+v, want one", info.Accruals)
	}
	a := info.Accruals[0]
	if a.Kind != "flat" || a.ProgramID != "flat1" || a.Beneficiary != "C" || a.Level != 1 || fmtDec(a.Rate) != "0.01" || ledger.Format(&a.Amount) != "1" {
		t.Errorf("flat accrual = %+v, want C level 1, rate 0.01, amount 1 under flat1/flat", a)
	}
	if got := f.tradeShares(t, "top"); !sameMap(got, map[string]string{"A": "2.5"}) {
		t.Errorf("top trade shares = %v, want the root A 2.5", got)
	}
	f.verify(t)
}

// highestRule pays 1% of the basis to the highest ancestor it is given: its
// depth, declared through the Rule interface alone, decides who that is.
type highestRule struct{ depth int }

func (highestRule) Validate(p *affiliate.Program) error { return nil }

func (r highestRule) Depth(p *affiliate.Program) int { return r.depth }

func (highestRule) Inputs(p *affiliate.Program) affiliate.Inputs { return 0 }

func (highestRule) Shares(p *affiliate.Program, c *affiliate.Chain, basis *apd.Decimal) ([]affiliate.Share, error) {
	return topRule{}.Shares(p, c, basis)
}

// A new commission kind registered through the Rule interface alone: its
// Depth bounds the chain the trade path loads and hands it (a kind of depth
// 2 on A → B → C → D → E pays E's trade to C, one of depth 4 to A, one of
// depth 0 to nobody), with no change to the trade path.
func TestCustomRuleDepth(t *testing.T) {
	f := newFixture(t)
	f.svc.Rules.Register("two", highestRule{depth: 2})
	f.svc.Rules.Register("four", highestRule{depth: 4})
	f.svc.Rules.Register("none", highestRule{depth: 0})
	f.putProgram(t, "two1", affiliate.ProgramSpec{Kind: "two"})
	f.putProgram(t, "four1", affiliate.ProgramSpec{Kind: "four"})
	f.putProgram(t, "none1", affiliate.ProgramSpec{Kind: "none"})
	f.user(t, "A", "")
	prev := "A"
	for _, id := range []string{"B", "C", "D", "E", "F", "G"} {
		code := prev + prev + prev + prev + prev + prev
		f.code(t, prev, code)
		f.user(t, id, code)
		prev = id
	}
	must(t, "AssignProgram", f.svc.AssignProgram(ctx, "E", "two1", "ops"))
	must(t, "AssignProgram", f.svc.AssignProgram(ctx, "F", "four1", "ops"))
	must(t, "AssignProgram", f.svc.AssignProgram(ctx, "G", "none1", "ops"))
	f.post(t, affiliate.TradeCreated, trade("two", "E", "100"), trade("four", "F", "200"), trade("none", "G", "300"))
	for id, want := range map[string]map[string]string{
		"two":  {"C": "1"},
		"four": {"B": "2"},
		"none": {},
	} {
		if got := f.tradeShares(t, id); !sameMap(got, want) {
			t.Errorf("trade %s shares = %v, want %v", id, got, want)
		}
	}
	info, err := f.svc.GetTrade(ctx, "none")
	must(t, "GetTrade", err)
	if len(info.Accruals) != 0 {
		t.Errorf("depth-0 trade accruals = %+v, want none", info.Accruals)
	}
	f.verify(t)
}
