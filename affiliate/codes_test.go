package affiliate_test

import (
	"testing"

	"github.com/folioledger/folio"
	"github.com/folioledger/folio/affiliate"
)

// TestCodeRateFollowers: R → code RRRRRR (0.30) → B, who has a code
// BBBBBB (0.25) → C following it, and P (pinned at 0.28) and M (moved to
// another referrer) who joined with RRRRRR too. Raising RRRRRR moves B
// only; lowering it below B's code clamps B, B's code and C (the subtree,
// as a rate decrease does) and not the pinned P above the new rate, whose
// clamp comes only with R's own decrease; each move is audit-logged.
func TestCodeRateFollowers(t *testing.T) {
	f := newFixture(t)
	f.putProgram(t, "orderly", affiliate.ProgramSpec{Kind: "differential", MinPassDown: "0.05", Default: true})
	f.user(t, "R", "")
	f.user(t, "X", "")
	f.setRate(t, "R", "0.50")
	f.setRate(t, "X", "0.50")
	f.rateCode(t, "R", "RRRRRR", "0.30")
	for _, id := range []string{"B", "P", "M"} {
		f.user(t, id, "RRRRRR")
	}
	f.rateCode(t, "B", "BBBBBB", "0.25")
	f.user(t, "C", "BBBBBB")
	f.setRate(t, "P", "0.28")
	must(t, "SetReferrer M", f.svc.SetReferrer(ctx, "M", "X", "ops"))

	update := func(rate string) {
		t.Helper()
		if _, err := f.svc.UpdateCode(ctx, "R", "rrrrrr", affiliate.CodeChange{Rate: dp(rate)}, "key-R"); err != nil {
			t.Fatalf("UpdateCode(%s): %v", rate, err)
		}
	}
	rates := func() map[string]string {
		out := map[string]string{}
		for _, id := range []string{"B", "P", "M", "C"} {
			out[id] = f.rateOf(t, id)
		}
		out["BBBBBB"] = f.codeRates(t, "B")["BBBBBB"]
		return out
	}
	check := func(step string, want map[string]string) {
		t.Helper()
		got := rates()
		for k, w := range want {
			if got[k] != w {
				t.Errorf("%s: %s = %s, want %s (all %v)", step, k, got[k], w, got)
			}
		}
	}
	update("0.40")
	check("raise", map[string]string{"B": "0.4", "P": "0.28", "M": "0.3", "C": "0.25", "BBBBBB": "0.25"})
	update("0.20")
	check("lower", map[string]string{"B": "0.2", "P": "0.28", "M": "0.3", "C": "0.2", "BBBBBB": "0.2"})
	f.setRate(t, "R", "0.10")
	check("R lowered", map[string]string{"B": "0.1", "P": "0.1", "C": "0.1", "BBBBBB": "0.1"})
	if n := len(f.audit(t, "user:B")); n < 3 {
		t.Errorf("user:B has %d audit records, want its rate changes logged", n)
	}
	// Validation as at creation: above the owner's rate, below P.
	for _, r := range []string{"0.11", "0.01"} {
		_, err := f.svc.UpdateCode(ctx, "R", "RRRRRR", affiliate.CodeChange{Rate: dp(r)}, "key-R")
		wantCode(t, "UpdateCode "+r, err, folio.EINVALID)
	}
	_, err := f.svc.UpdateCode(ctx, "X", "RRRRRR", affiliate.CodeChange{Note: new(string)}, "key-X")
	wantCode(t, "UpdateCode of another's code", err, folio.ENOTFOUND)
}
