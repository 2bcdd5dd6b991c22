package affiliate_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/folioledger/folio"
	"github.com/folioledger/folio/affiliate"
	"github.com/folioledger/folio/ledger"
)

func chainIDs(t *testing.T, f *fixture, id string) string {
	t.Helper()
	us, err := f.svc.Chain(ctx, id)
	must(t, "Chain "+id, err)
	var ids []string
	for _, u := range us {
		ids = append(ids, u.ID)
	}
	return strings.Join(ids, ",")
}

// Re-parenting (docs/CONTRACT.md §2.1): SetReferrer moves a whole subtree; later
// trades pay the new chain, earlier accruals are unchanged; cycles and
// self-referral are refused.
func TestReparenting(t *testing.T) {
	f := newFixture(t)
	brokerTree(t, f) // A → B → C → D, broker 25/10/5
	f.user(t, "X", "")
	f.post(t, affiliate.TradeCreated, trade("before", "D", "100"))

	must(t, "SetReferrer(C, X)", f.svc.SetReferrer(ctx, "C", "X", "ops"))
	if got, want := chainIDs(t, f, "D"), "C,X"; got != want {
		t.Errorf("Chain(D) after moving C under X = %s, want %s", got, want)
	}
	f.post(t, affiliate.TradeCreated, trade("after", "D", "100"))
	if got, want := f.tradeShares(t, "before"), map[string]string{"C": "25", "B": "10", "A": "5"}; !sameMap(got, want) {
		t.Errorf("accruals of the earlier trade = %v, want %v (unchanged)", got, want)
	}
	if got, want := f.tradeShares(t, "after"), map[string]string{"C": "25", "X": "10"}; !sameMap(got, want) {
		t.Errorf("accruals of the later trade = %v, want %v", got, want)
	}
	f.wantBalances(t, map[string]string{"208:USDT:C": "50", "208:USDT:B": "10", "208:USDT:A": "5", "208:USDT:X": "10", "605:USDT": "125", "101:USDT": "0"})

	refused := []struct {
		name, user, referrer, code string
	}{
		{"cycle through a descendant", "X", "D", folio.ECYCLE},
		{"cycle with the direct referee", "X", "C", folio.ECYCLE},
		{"self-referral", "X", "X", folio.ESELFREFERRAL},
		{"unknown referrer", "D", "ghost", folio.ENOTFOUND},
		{"unknown user", "ghost", "A", folio.ENOTFOUND},
	}
	for _, tt := range refused {
		wantCode(t, tt.name, f.svc.SetReferrer(ctx, tt.user, tt.referrer, "ops"), tt.code)
	}
	if got, want := chainIDs(t, f, "D"), "C,X"; got != want {
		t.Errorf("Chain(D) after refused changes = %s, want %s", got, want)
	}
	// Making a user a root.
	must(t, "SetReferrer(C, none)", f.svc.SetReferrer(ctx, "C", "", "ops"))
	f.post(t, affiliate.TradeCreated, trade("root", "D", "100"))
	if got, want := f.tradeShares(t, "root"), map[string]string{"C": "25"}; !sameMap(got, want) {
		t.Errorf("accruals after making C a root = %v, want %v", got, want)
	}
	f.verify(t)
}

// Servers cache the users trades read (affiliate/usercache.go). A second
// server that booked trades before a re-parenting and a program change made
// through the first books later trades on the new chain and program: the
// change invalidated its cache through cache_versions.
func TestUserCacheAcrossServers(t *testing.T) {
	f := newFixture(t)
	brokerTree(t, f) // A → B → C → D, broker 25/10/5
	f.user(t, "X", "")
	other := affiliate.NewService(f.svc.DB, f.ledger)
	other.Now = f.svc.Now
	book := func(id string) map[string]string {
		t.Helper()
		res, err := other.PostTrades(ctx, []affiliate.NewTrade{trade(id, "D", "100")})
		if err != nil || res[0].Status != affiliate.TradeCreated {
			t.Fatalf("trade %s on the second server: %v %+v", id, err, res)
		}
		return f.tradeShares(t, id)
	}
	if got, want := book("t1"), map[string]string{"C": "25", "B": "10", "A": "5"}; !sameMap(got, want) {
		t.Fatalf("first trade = %v, want %v", got, want)
	}
	must(t, "SetReferrer(C, X)", f.svc.SetReferrer(ctx, "C", "X", "ops"))
	if got, want := book("t2"), map[string]string{"C": "25", "X": "10"}; !sameMap(got, want) {
		t.Errorf("trade after re-parenting on the other server = %v, want %v", got, want)
	}
	if _, err := f.svc.PutProgram(ctx, "flat", affiliate.ProgramSpec{Kind: "levels", Levels: []string{"0.5"}}, "ops"); err != nil {
		t.Fatal(err)
	}
	must(t, "AssignProgram(D, flat)", f.svc.AssignProgram(ctx, "D", "flat", "ops"))
	if got, want := book("t3"), map[string]string{"C": "50"}; !sameMap(got, want) {
		t.Errorf("trade after the program change on the other server = %v, want %v", got, want)
	}
	f.verify(t)
}

// A user cannot sign up with its own code, nor with an unknown one.
func TestSignupWithOwnCode(t *testing.T) {
	f := newFixture(t)
	f.user(t, "A", "")
	f.code(t, "A", "AAAAAA")
	_, _, err := f.svc.CreateUser(ctx, affiliate.NewUser{ID: "A", ReferralCode: "aaaaaa"})
	wantCode(t, "CreateUser with its own code", err, folio.ESELFREFERRAL)
	_, _, err = f.svc.CreateUser(ctx, affiliate.NewUser{ID: "B", ReferralCode: "ZZZZZZ"})
	wantCode(t, "CreateUser with an unknown code", err, folio.EINVALID)
	// Registering the same user again with the same data is a replay.
	f.user(t, "B", "AAAAAA")
	u, created, err := f.svc.CreateUser(ctx, affiliate.NewUser{ID: "B", ReferralCode: "aaaaaa"})
	if err != nil || created || u.ReferrerID != "A" {
		t.Errorf("CreateUser replay = %+v, created %v, %v; want B under A, not created", u, created, err)
	}
	_, _, err = f.svc.CreateUser(ctx, affiliate.NewUser{ID: "B", ReferralCode: "AAAAAA", Country: "DE"})
	wantCode(t, "CreateUser again with other data", err, folio.ECONFLICT)
}

// The read APIs an affiliate's UI uses: chain, referee counts by level,
// direct referees page by page, codes with referral counts.
func TestTreeReads(t *testing.T) {
	f := newFixture(t)
	f.user(t, "A", "")
	base := f.now
	f.code(t, "A", "AAAAAA")
	f.now = base.Add(time.Second)
	f.code(t, "A", "AAAAA2")
	// A's direct referees B1..B5, registered a minute apart, except B4 and
	// B5 at the same instant (the id breaks the tie).
	at := []time.Duration{1, 2, 3, 4, 4}
	for i, off := range at {
		code := "AAAAAA"
		if i >= 3 {
			code = "aaaaa2"
		}
		if _, _, err := f.svc.CreateUser(ctx, affiliate.NewUser{ID: fmt.Sprintf("B%d", i+1), ReferralCode: code, RegisteredAt: base.Add(off * time.Minute)}); err != nil {
			t.Fatal(err)
		}
	}
	f.code(t, "B1", "BBBBBB")
	f.user(t, "C1", "BBBBBB")
	f.user(t, "C2", "BBBBBB")
	f.code(t, "C1", "CCCCCC")
	f.user(t, "D1", "CCCCCC")

	if got, want := chainIDs(t, f, "D1"), "C1,B1,A"; got != want {
		t.Errorf("Chain(D1) = %s, want %s", got, want)
	}
	if got := chainIDs(t, f, "A"); got != "" {
		t.Errorf("Chain(A) = %s, want empty", got)
	}
	if _, err := f.svc.Chain(ctx, "ghost"); errCode(err) != folio.ENOTFOUND {
		t.Errorf("Chain(ghost) error = %v, want not_found", err)
	}

	for _, tc := range []struct {
		user string
		max  int
		want string
	}{
		{"A", 15, "1:5 2:2 3:1"},
		{"A", 2, "1:5 2:2"},
		{"B1", 15, "1:2 2:1"},
		{"D1", 15, ""},
	} {
		lc, err := f.svc.RefereeCounts(ctx, tc.user, tc.max)
		must(t, "RefereeCounts", err)
		var parts []string
		for _, c := range lc {
			parts = append(parts, fmt.Sprintf("%d:%d", c.Level, c.Count))
		}
		if got := strings.Join(parts, " "); got != tc.want {
			t.Errorf("RefereeCounts(%s, %d) = %q, want %q", tc.user, tc.max, got, tc.want)
		}
	}

	// Pages of two through the (registered_at, id) cursor.
	var pages []string
	var afterAt time.Time
	afterID := ""
	for page := 0; page < 5; page++ {
		us, err := f.svc.DirectReferees(ctx, "A", afterAt, afterID, 2)
		must(t, "DirectReferees", err)
		var ids []string
		for _, u := range us {
			ids = append(ids, u.ID)
		}
		pages = append(pages, strings.Join(ids, ","))
		if len(us) == 0 {
			break
		}
		afterAt, afterID = us[len(us)-1].RegisteredAt, us[len(us)-1].ID
	}
	if want := []string{"B1,B2", "B3,B4", "B5", ""}; !slices.Equal(pages, want) {
		t.Errorf("DirectReferees pages = %q, want %q", pages, want)
	}

	cs, err := f.svc.ListCodes(ctx, "A")
	must(t, "ListCodes", err)
	var got []string
	for _, c := range cs {
		got = append(got, fmt.Sprintf("%s:%d", c.Code, c.Referrals))
	}
	if want := []string{"AAAAAA:3", "AAAAA2:2"}; !slices.Equal(got, want) {
		t.Errorf("ListCodes(A) = %v, want %v", got, want)
	}
	if _, err := f.svc.ListCodes(ctx, "ghost"); errCode(err) != folio.ENOTFOUND {
		t.Errorf("ListCodes(ghost) error = %v, want not_found", err)
	}
}

// Codes: format, uniqueness (case-insensitive), generation and the limit.
func TestCodes(t *testing.T) {
	f := newFixture(t)
	f.svc.MaxCodes = 3
	f.user(t, "A", "")
	f.user(t, "B", "")
	f.code(t, "A", "abcdef")
	gen, err := f.svc.CreateCode(ctx, "A", affiliate.NewCode{Note: "twitter"}, "A")
	must(t, "CreateCode generated", err)
	if len(gen.Code) < 6 || strings.ContainsAny(gen.Code, "0O1I") {
		t.Errorf("generated code %q is not 6+ characters of the unambiguous alphabet", gen.Code)
	}
	for _, tc := range []struct{ name, owner, code, want string }{
		{"taken, other case", "B", "ABCDEF", folio.ECONFLICT},
		{"ambiguous letters", "B", "ABCDE0", folio.EINVALID},
		{"too short", "B", "ABCDE", folio.EINVALID},
		{"too long", "B", "ABCDEFGHJKLMN", folio.EINVALID},
		{"unknown owner", "ghost", "GHXSTS", folio.ENOTFOUND},
	} {
		_, err := f.svc.CreateCode(ctx, tc.owner, affiliate.NewCode{Code: tc.code}, "ops")
		wantCode(t, "CreateCode "+tc.name, err, tc.want)
	}
	f.code(t, "A", "THRD33")
	_, err = f.svc.CreateCode(ctx, "A", affiliate.NewCode{Code: "FRTH44"}, "A")
	wantCode(t, "CreateCode over the limit", err, folio.ECONFLICT)
}

// GetTrade explains every trade, including why one paid nothing.
func TestTradeExplanations(t *testing.T) {
	f := newFixture(t)
	f.user(t, "A", "")
	f.code(t, "A", "AAAAAA")
	f.user(t, "B", "AAAAAA")
	// No program configured yet.
	f.post(t, affiliate.TradeCreated, trade("no-program", "B", "100"))
	f.putProgram(t, "broker", affiliate.ProgramSpec{Kind: "levels", Levels: []string{"0.25", "0.10"}, Default: true})
	f.post(t, affiliate.TradeCreated,
		trade("no-referrer", "A", "100"),
		trade("tiny", "B", "0.000001"), // 25% of 0.000001 is below USDT's precision 6
		trade("normal", "B", "100"))

	tests := []struct {
		id, program, basis, platform, reason string
		accruals                             int
	}{
		{"no-program", "", "100", "100", "no trade program applies", 0},
		{"no-referrer", "broker", "100", "100", "the trader has no referrer", 0},
		{"tiny", "broker", "0.000001", "0.000001", "rounded down to zero", 0},
		{"normal", "broker", "100", "75", "", 1},
	}
	for _, tt := range tests {
		info, err := f.svc.GetTrade(ctx, tt.id)
		must(t, "GetTrade "+tt.id, err)
		reason, _ := info.Explanation["reason"].(string)
		switch {
		case info.ProgramID != tt.program:
			t.Errorf("%s: program = %q, want %q", tt.id, info.ProgramID, tt.program)
		case ledger.Format(&info.Basis) != tt.basis || info.Explanation["basis"] != tt.basis:
			t.Errorf("%s: basis = %s (explained %v), want %s", tt.id, ledger.Format(&info.Basis), info.Explanation["basis"], tt.basis)
		case info.Explanation["platform"] != tt.platform:
			t.Errorf("%s: platform = %v, want %s", tt.id, info.Explanation["platform"], tt.platform)
		case tt.reason == "" && reason != "", tt.reason != "" && !strings.Contains(reason, tt.reason):
			t.Errorf("%s: reason = %q, want one containing %q", tt.id, reason, tt.reason)
		case len(info.Accruals) != tt.accruals:
			t.Errorf("%s: %d accruals, want %d", tt.id, len(info.Accruals), tt.accruals)
		}
		// Whatever the reason, the fee is booked and 101 emptied.
		if got := f.entryPostings(t, info.CommissionEntryID); got[0] != "debit 101:USDT "+ledger.Format(&info.Fee) {
			t.Errorf("%s: commission entry = %v, want it to empty 101", tt.id, got)
		}
	}
	f.wantBalances(t, map[string]string{"101:USDT": "0", "605:USDT": "275.000001", "208:USDT:A": "25"})
	if _, err := f.svc.GetTrade(ctx, "ghost"); errCode(err) != folio.ENOTFOUND {
		t.Errorf("GetTrade(ghost) error = %v, want not_found", err)
	}
}

// ListAccruals: beneficiary with currency, trade, source and time filters
// and the (recorded_at, id) cursor.
func TestListAccruals(t *testing.T) {
	f := newFixture(t)
	brokerTree(t, f)
	start := f.now
	for i := 0; i < 5; i++ {
		f.now = start.Add(time.Duration(i) * time.Hour)
		f.post(t, affiliate.TradeCreated, trade(fmt.Sprintf("u%d", i), "D", "100"), feeTrade(fmt.Sprintf("b%d", i), "D", "0.001", "BTC"))
	}
	f.now = start.Add(5 * time.Hour)
	_, err := f.svc.ReverseTrade(ctx, "u4", "ops")
	must(t, "ReverseTrade", err)

	ids := func(as []affiliate.Accrual) string {
		var out []string
		for _, a := range as {
			out = append(out, a.TradeID+"/"+a.Source+"/"+ledger.Format(&a.Amount))
		}
		return strings.Join(out, " ")
	}
	tests := []struct {
		name   string
		filter affiliate.AccrualFilter
		want   string
	}{
		{"currency", affiliate.AccrualFilter{Beneficiary: "C", Currency: "USDT"}, "u0/trade/25 u1/trade/25 u2/trade/25 u3/trade/25 u4/trade/25 u4/reversal/-25"},
		{"trade", affiliate.AccrualFilter{Beneficiary: "B", TradeID: "b2"}, "b2/trade/0.0001"},
		{"source", affiliate.AccrualFilter{Beneficiary: "A", Source: "reversal"}, "u4/reversal/-5"},
		{"time window", affiliate.AccrualFilter{Beneficiary: "C", Currency: "BTC", From: start.Add(time.Hour), To: start.Add(3 * time.Hour)}, "b1/trade/0.00025 b2/trade/0.00025"},
		{"other beneficiary", affiliate.AccrualFilter{Beneficiary: "D"}, ""},
	}
	for _, tt := range tests {
		as, err := f.svc.ListAccruals(ctx, tt.filter)
		must(t, "ListAccruals", err)
		if got := ids(as); got != tt.want {
			t.Errorf("ListAccruals %s = %q, want %q", tt.name, got, tt.want)
		}
	}
	// Paging through all of C's accruals three at a time visits each once.
	all, err := f.svc.ListAccruals(ctx, affiliate.AccrualFilter{Beneficiary: "C", Limit: 100})
	must(t, "ListAccruals", err)
	if len(all) != 11 {
		t.Fatalf("C has %d accruals, want 11", len(all))
	}
	var paged []affiliate.Accrual
	filter := affiliate.AccrualFilter{Beneficiary: "C", Limit: 3}
	for i := 0; i < 10; i++ {
		page, err := f.svc.ListAccruals(ctx, filter)
		must(t, "ListAccruals page", err)
		if len(page) == 0 {
			break
		}
		paged = append(paged, page...)
		filter.AfterAt, filter.AfterID = page[len(page)-1].RecordedAt, page[len(page)-1].ID
	}
	if got, want := ids(paged), ids(all); got != want {
		t.Errorf("paged accruals = %q, want %q", got, want)
	}
}
