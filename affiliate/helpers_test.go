package affiliate_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/apd/v3"
	"github.com/folioledger/folio"
	"github.com/folioledger/folio/affiliate"
	"github.com/folioledger/folio/audit"
	"github.com/folioledger/folio/ledger"
)

// Helpers shared by the service-level integration tests. Every call goes
// through the exported Service API with plain inputs, so each test ports
// to the HTTP layer by swapping these helpers for requests.

var ctx = context.Background()

// d parses a decimal literal of a test.
func d(s string) apd.Decimal {
	v, _, err := apd.NewFromString(s)
	if err != nil {
		panic(err)
	}
	return *v
}

func dp(s string) *apd.Decimal { v := d(s); return &v }

// fmtDec renders an optional decimal ("<nil>" for nil).
func fmtDec(v *apd.Decimal) string {
	if v == nil {
		return "<nil>"
	}
	return ledger.Format(v)
}

// errCode returns the error code of err ("" for nil).
func errCode(err error) string { return folio.ErrorCode(err) }

// wantCode fails t unless err carries the given code.
func wantCode(t testing.TB, what string, err error, want string) {
	t.Helper()
	if got := errCode(err); got != want {
		t.Errorf("%s: error code = %q (%v), want %q", what, got, err, want)
	}
}

// must fails t on an error.
func must(t testing.TB, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// wantBalances checks account balances (canonical decimal text).
func (f *fixture) wantBalances(t testing.TB, want map[string]string) {
	t.Helper()
	for acct, w := range want {
		if got := f.balance(t, acct); got != w {
			t.Errorf("balance %s = %s, want %s", acct, got, w)
		}
	}
}

// putProgram configures a program or fails t.
func (f *fixture) putProgram(t testing.TB, id string, spec affiliate.ProgramSpec) {
	t.Helper()
	if _, err := f.svc.PutProgram(ctx, id, spec, "ops"); err != nil {
		t.Fatalf("PutProgram(%s): %v", id, err)
	}
}

// userIn registers a user in a group joining with code (may be "").
func (f *fixture) userIn(t testing.TB, id, code, group string) {
	t.Helper()
	if _, _, err := f.svc.CreateUser(ctx, affiliate.NewUser{ID: id, ReferralCode: code, Group: group}); err != nil {
		t.Fatalf("CreateUser(%s): %v", id, err)
	}
}

// rateCode gives owner a code carrying a differential default rate.
func (f *fixture) rateCode(t testing.TB, owner, code, rate string) {
	t.Helper()
	if _, err := f.svc.CreateCode(ctx, owner, affiliate.NewCode{Code: code, Rate: dp(rate)}, "ops"); err != nil {
		t.Fatalf("CreateCode(%s, rate %s): %v", code, rate, err)
	}
}

// setRate sets a differential rate or fails t.
func (f *fixture) setRate(t testing.TB, id, rate string) {
	t.Helper()
	if err := f.svc.SetRate(ctx, id, d(rate), "ops"); err != nil {
		t.Fatalf("SetRate(%s, %s): %v", id, rate, err)
	}
}

// rateOf returns a user's differential rate.
func (f *fixture) rateOf(t testing.TB, id string) string {
	t.Helper()
	u, err := f.svc.GetUser(ctx, id)
	must(t, "GetUser "+id, err)
	return fmtDec(u.Rate)
}

// codeRates returns owner's codes → default rate.
func (f *fixture) codeRates(t testing.TB, owner string) map[string]string {
	t.Helper()
	cs, err := f.svc.ListCodes(ctx, owner)
	must(t, "ListCodes "+owner, err)
	out := map[string]string{}
	for _, c := range cs {
		out[c.Code] = fmtDec(c.Rate)
	}
	return out
}

// post books trades and fails t unless every one has the wanted status.
func (f *fixture) post(t testing.TB, want string, trades ...affiliate.NewTrade) []affiliate.TradeResult {
	t.Helper()
	res, err := f.svc.PostTrades(ctx, trades)
	if err != nil {
		t.Fatalf("PostTrades: %v", err)
	}
	if len(res) != len(trades) {
		t.Fatalf("PostTrades returned %d results for %d trades", len(res), len(trades))
	}
	for _, r := range res {
		if r.Status != want {
			t.Fatalf("trade %s: status %s (%v), want %s", r.ID, r.Status, r.Err, want)
		}
	}
	return res
}

// feeTrade is a trade carrying its fee in currency cur.
func feeTrade(id, user, fee, cur string) affiliate.NewTrade {
	t := trade(id, user, fee)
	t.Fee.Currency = cur
	return t
}

// volumeTrade is a trade carrying only its volume in USDT.
func volumeTrade(id, user, market, liquidity, volume string) affiliate.NewTrade {
	return affiliate.NewTrade{ID: id, UserID: user, Market: market, Liquidity: liquidity,
		Volume: &affiliate.Money{Amount: volume, Currency: "USDT"}, ExecutedAt: time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)}
}

// tradeShares returns a trade's accruals as beneficiary → amount (trade
// accruals only, reversals excluded).
func (f *fixture) tradeShares(t testing.TB, id string) map[string]string {
	t.Helper()
	info, err := f.svc.GetTrade(ctx, id)
	must(t, "GetTrade "+id, err)
	out := map[string]string{}
	for _, a := range info.Accruals {
		if a.Source == "trade" {
			out[a.Beneficiary] = ledger.Format(&a.Amount)
		}
	}
	return out
}

// sameMap reports whether two string maps are equal.
func sameMap(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// entryPostings renders an entry's postings as "side account amount" lines.
func (f *fixture) entryPostings(t testing.TB, id string) []string {
	t.Helper()
	e, _, err := f.ledger.GetEntry(ctx, id)
	must(t, "GetEntry "+id, err)
	var out []string
	for _, p := range e.Postings {
		out = append(out, string(p.Side)+" "+p.Account.String()+" "+ledger.Format(&p.Amount))
	}
	return out
}

// audit returns the audit records of an object (all actions).
func (f *fixture) audit(t testing.TB, object string) []audit.Record {
	t.Helper()
	recs, err := audit.List(ctx, f.db.Admin, audit.Filter{Object: object, Limit: 1000})
	must(t, "ListAudit "+object, err)
	return recs
}

// jsonField returns the JSON text of one field of an audit before/after
// object ("" when absent or the document is null).
func jsonField(t testing.TB, raw json.RawMessage, field string) string {
	t.Helper()
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("audit document %s: %v", raw, err)
	}
	return strings.Trim(string(m[field]), `"`)
}

// count runs a count query on the test database.
func (f *fixture) count(t testing.TB, sql string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := f.db.Admin.QueryRow(ctx, sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

// goldTier is a fixture whose default program is kickback at 20%, with a
// gold volume tier at 30% from 10,000 USD of referred volume in 30 days,
// USDT at 1 USD from 60 days back, and trader T referred by S (code
// SPLAN2).
func goldTier(t testing.TB) *fixture {
	f := newFixture(t)
	f.putProgram(t, "bn", affiliate.ProgramSpec{Kind: "kickback", Rate: "0.20", Default: true, Tiers: []affiliate.TierSpec{
		{Name: "gold", MinVolume: "10000", Rate: "0.30"},
	}})
	// In force before every trade (volumes convert at the trade's time).
	must(t, "PutRate", f.svc.PutRate(ctx, "USDT", "USD", "oracle", d("1"), f.now.Add(-60*24*time.Hour), "ops"))
	f.user(t, "S", "")
	f.code(t, "S", "SPLAN2")
	f.user(t, "T", "SPLAN2")
	return f
}
