package affiliate_test

import (
	"fmt"
	"testing"

	"github.com/folioledger/folio"
	"github.com/folioledger/folio/accounts"
	"github.com/folioledger/folio/affiliate"
)

// Differential rate changes (docs/CONTRACT.md §2.2): an increase changes only the node;
// a decrease to X' clamps every descendant and their codes' default rates to
// max(P, min(X_child, X'_parent)), recursively; trades after a change use
// the new rates and earlier accruals never change.
func TestDifferentialRateChanges(t *testing.T) {
	f := newFixture(t)
	f.putProgram(t, "orderly", affiliate.ProgramSpec{Kind: "differential", MinPassDown: "0.10", Default: true})
	// R 0.50 → A 0.40 → B 0.30 → C 0.20 → trader T (code without rate).
	f.user(t, "R", "")
	f.setRate(t, "R", "0.50")
	f.rateCode(t, "R", "RRRRRR", "0.40")
	f.user(t, "A", "RRRRRR")
	f.rateCode(t, "A", "AAAAAA", "0.30")
	f.user(t, "B", "AAAAAA")
	f.rateCode(t, "B", "BBBBBB", "0.20")
	f.user(t, "C", "BBBBBB")
	f.code(t, "C", "CCCCCC")
	f.user(t, "T", "CCCCCC")

	type state struct {
		rates map[string]string // user → rate
		codes map[string]string // code → default rate
	}
	check := func(t *testing.T, when string, want state) {
		t.Helper()
		for id, w := range want.rates {
			if got := f.rateOf(t, id); got != w {
				t.Errorf("%s: rate of %s = %s, want %s", when, id, got, w)
			}
		}
		got := map[string]string{}
		for _, owner := range []string{"R", "A", "B", "C"} {
			for c, r := range f.codeRates(t, owner) {
				got[c] = r
			}
		}
		if !sameMap(got, want.codes) {
			t.Errorf("%s: code rates = %v, want %v", when, got, want.codes)
		}
	}

	steps := []struct {
		name   string
		change func(t *testing.T)
		state  state
		shares map[string]string // of a trade of 100 by T after the change
	}{
		{
			name:   "initial",
			change: func(*testing.T) {},
			state: state{map[string]string{"R": "0.5", "A": "0.4", "B": "0.3", "C": "0.2"},
				map[string]string{"RRRRRR": "0.4", "AAAAAA": "0.3", "BBBBBB": "0.2", "CCCCCC": "<nil>"}},
			shares: map[string]string{"C": "20", "B": "10", "A": "10", "R": "10"},
		},
		{
			// An increase affects only the node: descendants and codes keep
			// their rates, so A's spread grows and R's shrinks.
			name:   "increase A to 0.45",
			change: func(t *testing.T) { f.setRate(t, "A", "0.45") },
			state: state{map[string]string{"R": "0.5", "A": "0.45", "B": "0.3", "C": "0.2"},
				map[string]string{"RRRRRR": "0.4", "AAAAAA": "0.3", "BBBBBB": "0.2", "CCCCCC": "<nil>"}},
			shares: map[string]string{"C": "20", "B": "10", "A": "15", "R": "5"},
		},
		{
			// A decrease clamps B (0.30 → 0.25) and A's code; C (0.20) and
			// B's code (0.20) are already below and stay.
			name:   "decrease A to 0.25",
			change: func(t *testing.T) { f.setRate(t, "A", "0.25") },
			state: state{map[string]string{"R": "0.5", "A": "0.25", "B": "0.25", "C": "0.2"},
				map[string]string{"RRRRRR": "0.4", "AAAAAA": "0.25", "BBBBBB": "0.2", "CCCCCC": "<nil>"}},
			shares: map[string]string{"C": "20", "B": "5", "R": "25"}, // A's spread is 0: no share
		},
		{
			// A deeper decrease clamps recursively: B and C and both codes.
			name:   "decrease A to 0.15",
			change: func(t *testing.T) { f.setRate(t, "A", "0.15") },
			state: state{map[string]string{"R": "0.5", "A": "0.15", "B": "0.15", "C": "0.15"},
				map[string]string{"RRRRRR": "0.4", "AAAAAA": "0.15", "BBBBBB": "0.15", "CCCCCC": "<nil>"}},
			shares: map[string]string{"C": "15", "R": "35"},
		},
		{
			// A decrease of the root down to P clamps the whole tree to P.
			name:   "decrease R to P",
			change: func(t *testing.T) { f.setRate(t, "R", "0.10") },
			state: state{map[string]string{"R": "0.1", "A": "0.1", "B": "0.1", "C": "0.1"},
				map[string]string{"RRRRRR": "0.1", "AAAAAA": "0.1", "BBBBBB": "0.1", "CCCCCC": "<nil>"}},
			shares: map[string]string{"C": "10"},
		},
		{
			// Raising the root again does not raise anyone below it.
			name:   "increase R to 0.60",
			change: func(t *testing.T) { f.setRate(t, "R", "0.60") },
			state: state{map[string]string{"R": "0.6", "A": "0.1", "B": "0.1", "C": "0.1"},
				map[string]string{"RRRRRR": "0.1", "AAAAAA": "0.1", "BBBBBB": "0.1", "CCCCCC": "<nil>"}},
			shares: map[string]string{"C": "10", "R": "50"},
		},
	}
	booked := map[string]map[string]string{} // trade → its shares when booked
	for i, s := range steps {
		s.change(t)
		check(t, s.name, s.state)
		id := fmt.Sprintf("t-%d", i)
		f.post(t, affiliate.TradeCreated, trade(id, "T", "100"))
		got := f.tradeShares(t, id)
		if !sameMap(got, s.shares) {
			t.Errorf("%s: shares of a trade of 100 = %v, want %v", s.name, got, s.shares)
		}
		booked[id] = got
		// Earlier trades' accruals are never recalculated.
		for j, prev := range steps[:i] {
			pid := fmt.Sprintf("t-%d", j)
			if got := f.tradeShares(t, pid); !sameMap(got, booked[pid]) {
				t.Errorf("after %s: accruals of %s (%s) = %v, were %v", s.name, pid, prev.name, got, booked[pid])
			}
		}
	}
	// The balances are the sums of the booked shares.
	want := map[string]string{"208:USDT:C": "95", "208:USDT:B": "25", "208:USDT:A": "25", "208:USDT:R": "125", "101:USDT": "0"}
	f.wantBalances(t, want)

	// A new referee joining through a clamped code gets the clamped rate.
	f.user(t, "B2", "AAAAAA")
	if got := f.rateOf(t, "B2"); got != "0.1" {
		t.Errorf("rate of B2 joining through the clamped code = %s, want 0.1", got)
	}
	f.verify(t)
}

// Rates outside [P, upstream] are refused (invalid_request), for users and
// for code default rates; nothing changes.
func TestDifferentialRateBounds(t *testing.T) {
	f := newFixture(t)
	f.putProgram(t, "orderly", affiliate.ProgramSpec{Kind: "differential", MinPassDown: "0.10", Default: true})
	f.putProgram(t, "broker", affiliate.ProgramSpec{Kind: "levels", Levels: []string{"0.2"}, Groups: []string{"lv"}})
	f.user(t, "R", "")
	f.code(t, "R", "RPLAN2")
	_, err := f.svc.CreateCode(ctx, "R", affiliate.NewCode{Code: "RRATED", Rate: dp("0.3")}, "R")
	wantCode(t, "code rate before the owner has a rate", err, folio.EINVALID)
	f.user(t, "Q", "RPLAN2")
	wantCode(t, "rate under a referrer without a rate", f.svc.SetRate(ctx, "Q", d("0.2"), "ops"), folio.EINVALID)
	f.setRate(t, "R", "0.50")
	f.rateCode(t, "R", "RRATED", "0.40")
	f.user(t, "A", "RRATED")
	f.userIn(t, "L", "RRATED", "lv")

	tests := []struct {
		name string
		user string
		rate string
	}{
		{"root above 1", "R", "1.5"},
		{"root below P", "R", "0.05"},
		{"negative", "R", "-0.1"},
		{"referee above its referrer", "A", "0.6"},
		{"referee below P", "A", "0.09"},
		{"user of a levels program", "L", "0.2"},
		{"unknown user", "ghost", "0.2"},
	}
	for _, tt := range tests {
		err := f.svc.SetRate(ctx, tt.user, d(tt.rate), "ops")
		want := folio.EINVALID
		if tt.user == "ghost" {
			want = folio.ENOTFOUND
		}
		wantCode(t, "SetRate "+tt.name, err, want)
	}
	for _, tc := range []struct{ name, rate string }{{"code above the owner", "0.45"}, {"code below P", "0.05"}} {
		_, err := f.svc.CreateCode(ctx, "A", affiliate.NewCode{Code: "AAAAAA", Rate: dp(tc.rate)}, "A")
		wantCode(t, "CreateCode "+tc.name, err, folio.EINVALID)
	}
	// The boundaries themselves are accepted: P and the referrer's rate.
	f.setRate(t, "A", "0.10")
	f.setRate(t, "A", "0.50")
	for id, want := range map[string]string{"R": "0.5", "A": "0.5", "L": "0.4"} {
		if got := f.rateOf(t, id); got != want {
			t.Errorf("rate of %s = %s, want %s", id, got, want)
		}
	}
}

// Re-parenting a differential user under a lower-rate referrer clamps its
// stored rate (and its subtree's) to the new referrer's, audit-logged, so the
// chain never pays more than its top rate.
func TestDifferentialReparentUnderLowerRate(t *testing.T) {
	f := newFixture(t)
	f.putProgram(t, "orderly", affiliate.ProgramSpec{Kind: "differential", MinPassDown: "0.10", Default: true})
	f.user(t, "R", "")
	f.setRate(t, "R", "0.50")
	f.rateCode(t, "R", "RRRRRR", "0.40")
	f.user(t, "A", "RRRRRR")
	f.code(t, "A", "AAAAAA")
	f.user(t, "T", "AAAAAA")
	f.user(t, "S", "")
	f.setRate(t, "S", "0.30")
	must(t, "SetReferrer", f.svc.SetReferrer(ctx, "A", "S", "ops"))
	if got := f.rateOf(t, "A"); got != "0.3" {
		t.Errorf("A's stored rate after re-parenting = %s, want 0.3 (clamped to S)", got)
	}
	recs, err := accounts.ListAudit(ctx, f.db.Admin, accounts.AuditFilter{Object: "user:A", Action: "user.rate.clamp"})
	if err != nil || len(recs) != 1 {
		t.Errorf("clamp audit records = %d, %v; want 1", len(recs), err)
	}
	f.post(t, affiliate.TradeCreated, trade("t-1", "T", "100"))
	if got, want := f.tradeShares(t, "t-1"), map[string]string{"A": "30"}; !sameMap(got, want) {
		t.Errorf("shares under S (0.30) = %v, want %v", got, want)
	}
}
