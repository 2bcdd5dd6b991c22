package api

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/apd/v3"

	"github.com/folioledger/folio"
	"github.com/folioledger/folio/affiliate"
	"github.com/folioledger/folio/keys"
	"github.com/folioledger/folio/ledger"
)

// Helpers of the affiliate HTTP tests: every call goes through the real
// router with the bootstrap admin key unless a test says otherwise.

// executedAt is the execution time of test trades: an hour before the
// test clock (2026-01-10T12:00:00Z).
const executedAt = "2026-01-10T11:00:00Z"

// putProgram configures a program through the API.
func (e *env) putProgram(id string, spec map[string]any) {
	e.t.Helper()
	res := e.do(req{Method: "PUT", Path: "/v1/programs/" + id, Key: bootstrapKey, Body: spec})
	if res.Status != http.StatusCreated && res.Status != http.StatusOK {
		e.t.Fatalf("PUT /v1/programs/%s = %d %s", id, res.Status, res.Body)
	}
}

// user registers a user joining with code ("" for none).
func (e *env) user(id, code string) userJSON {
	e.t.Helper()
	body := map[string]any{"id": id, "registered_at": "2026-01-01T00:00:00Z"}
	if code != "" {
		body["referral_code"] = code
	}
	var u userJSON
	e.must(http.StatusCreated, req{Method: "POST", Path: "/v1/users", Key: bootstrapKey, Body: body}).Decode(e.t, &u)
	return u
}

// code gives owner a referral code with optional fields ("rate",
// "kickback", "note").
func (e *env) code(owner, code string, fields ...string) referralCodeJSON {
	e.t.Helper()
	body := map[string]any{"code": code}
	for i := 0; i+1 < len(fields); i += 2 {
		body[fields[i]] = fields[i+1]
	}
	var c referralCodeJSON
	e.must(http.StatusCreated, req{Method: "POST", Path: "/v1/affiliates/" + owner + "/codes", Key: bootstrapKey, Body: body}).Decode(e.t, &c)
	return c
}

// tree registers users along "parent>child" edges, each parent getting a
// code derived from its id, children joining with it. Roots are "root>".
func (e *env) tree(edges ...string) {
	e.t.Helper()
	coded := map[string]string{}
	for _, edge := range edges {
		parent, child, _ := strings.Cut(edge, ">")
		if child == "" {
			e.user(parent, "")
			continue
		}
		c, ok := coded[parent]
		if !ok {
			c = codeFor(parent)
			e.code(parent, c)
			coded[parent] = c
		}
		e.user(child, c)
	}
}

// codeFor derives a valid referral code from a user id: upper-cased, the
// characters the code alphabet lacks replaced (0→Z, 1→Y, I→J, O→Q, others
// dropped), padded with Xs to 6.
func codeFor(id string) string {
	var b strings.Builder
	for _, r := range strings.ToUpper(id) {
		switch {
		case strings.ContainsRune(affiliate.CodeAlphabet, r):
			b.WriteRune(r)
		case strings.ContainsRune("01IO", r):
			b.WriteByte("ZYJQ"[strings.IndexRune("01IO", r)])
		}
	}
	for b.Len() < 6 {
		b.WriteByte('X')
	}
	return b.String()[:min(b.Len(), 12)]
}

// trade builds one trade of a POST /v1/trades body with a USDT fee.
func trade(id, user, fee string) map[string]any {
	return map[string]any{"id": id, "user_id": user, "market": "BTCUSDT", "liquidity": "taker",
		"fee": map[string]string{"amount": fee, "currency": "USDT"}, "executed_at": executedAt}
}

// postTrades books trades and returns the results.
func (e *env) postTrades(key string, trades ...map[string]any) []tradeResultJSON {
	e.t.Helper()
	if key == "" {
		key = bootstrapKey
	}
	var out struct {
		Results []tradeResultJSON `json:"results"`
	}
	e.must(http.StatusOK, req{Method: "POST", Path: "/v1/trades", Key: key, Body: map[string]any{"trades": trades}}).Decode(e.t, &out)
	if len(out.Results) != len(trades) {
		e.t.Fatalf("POST /v1/trades: %d results for %d trades", len(out.Results), len(trades))
	}
	return out.Results
}

// book posts trades and fails the test unless each one is created.
func (e *env) book(trades ...map[string]any) []tradeResultJSON {
	e.t.Helper()
	res := e.postTrades("", trades...)
	for i, r := range res {
		if r.Status != "created" || r.FeeEntryID == "" || r.CommissionEntryID == "" || r.Index != i {
			e.t.Fatalf("trade %s: %+v, want created with entry ids", r.ID, r)
		}
	}
	return res
}

// balance returns an account's balance through GET .../balance.
func (e *env) balance(account string) string {
	e.t.Helper()
	var b balanceJSON
	e.must(http.StatusOK, req{Method: "GET", Path: "/v1/accounts/" + account + "/balance", Key: bootstrapKey}).Decode(e.t, &b)
	return b.Balance
}

// getTrade reads a trade's explanation.
func (e *env) getTrade(id string) tradeJSON {
	e.t.Helper()
	var tj tradeJSON
	e.must(http.StatusOK, req{Method: "GET", Path: "/v1/trades/" + url.PathEscape(id), Key: bootstrapKey}).Decode(e.t, &tj)
	return tj
}

// shares returns beneficiary → amount of a trade's accruals.
func (e *env) shares(id string) map[string]string {
	e.t.Helper()
	out := map[string]string{}
	for _, a := range e.getTrade(id).Accruals {
		if a.Source == "trade" {
			out[a.Beneficiary] = a.Amount
		}
	}
	return out
}

// books tracks the balances a test expects and checks them through the
// API: every 208 and 202 account it touched, 605, and 101 (always zero).
type books struct {
	e        *env
	currency string
	want     map[string]*apd.Decimal
}

func newBooks(e *env, currency string) *books {
	b := &books{e: e, currency: currency, want: map[string]*apd.Decimal{}}
	b.add("101:"+currency, "0")
	b.add("605:"+currency, "0")
	return b
}

// add adds amount (may be negative) to an account's expected balance.
func (b *books) add(account, amount string) {
	b.e.t.Helper()
	v, _, err := apd.NewFromString(amount)
	if err != nil {
		b.e.t.Fatalf("books.add(%s, %q): %v", account, amount, err)
	}
	cur := b.want[account]
	if cur == nil {
		cur = new(apd.Decimal)
		b.want[account] = cur
	}
	if _, err := ledger.Decimal.Add(cur, cur, v); err != nil {
		b.e.t.Fatal(err)
	}
}

// trade records a trade of fee by trader split as shares (beneficiary →
// amount); the platform keeps the rest.
func (b *books) trade(trader, fee string, shares map[string]string) {
	b.e.t.Helper()
	b.add("202:"+b.currency+":"+trader, neg(fee))
	b.add("605:"+b.currency, fee)
	for who, amt := range shares {
		b.add("208:"+b.currency+":"+who, amt)
		b.add("605:"+b.currency, neg(amt))
	}
}

// neg negates a decimal literal.
func neg(s string) string {
	if rest, ok := strings.CutPrefix(s, "-"); ok {
		return rest
	}
	return "-" + s
}

// check compares every expected balance with GET .../balance.
func (b *books) check(when string) {
	b.e.t.Helper()
	accts := make([]string, 0, len(b.want))
	for a := range b.want {
		accts = append(accts, a)
	}
	sort.Strings(accts)
	for _, a := range accts {
		if got, want := b.e.balance(a), ledger.Format(b.want[a]); got != want {
			b.e.t.Errorf("%s: balance of %s = %s, want %s", when, a, got, want)
		}
	}
}

// problemOf decodes a problem response's code.
func problemOf(t *testing.T, res *response) string {
	t.Helper()
	var p problem
	res.Decode(t, &p)
	return p.Code
}

// adminKey creates an admin key and returns its id and secret.
func (e *env) adminKey() (id, secret string) {
	e.t.Helper()
	k, secret, err := keys.Create(context.Background(), e.app, keys.RoleAdmin, "", "affiliate test", "test")
	if err != nil {
		e.t.Fatal(err)
	}
	return k.ID, secret
}

// affiliateSnapshot digests every affiliate table (read as superuser), so
// that a refused request can be shown to have written nothing.
func (e *env) affiliateSnapshot() string {
	e.t.Helper()
	tables := []string{"users", "referral_codes", "programs", "revenue_shares", "user_events", "bounty_awards", "trades",
		"trade_reversals", "accruals", "fx_rates", "fee_schedules", "referred_volume_daily", "user_vip_levels", "program_versions", "referral_notes"}
	var parts []string
	for _, tbl := range tables {
		var digest string
		err := e.db.Admin.QueryRow(context.Background(),
			fmt.Sprintf(`SELECT count(*)::text || ':' || coalesce(md5(string_agg(t::text, ',' ORDER BY t::text)), '') FROM %s t`, tbl)).Scan(&digest)
		if err != nil {
			e.t.Fatalf("snapshot %s: %v", tbl, err)
		}
		parts = append(parts, tbl+"="+digest)
	}
	return strings.Join(parts, " ")
}

// TestLevelsProgramEndToEnd: the broker program of docs/CONTRACT.md §5.1 on a chain
// alice → bob → carol → dave, through the API: registration (and its
// replay and conflict), a trade and its split, replay (exists) and
// conflict (rejected), the explanation, and the balances of 208, 605, 101
// and 202.
func TestLevelsProgramEndToEnd(t *testing.T) {
	e := newEnv(t)
	e.currencies()
	poster := e.key(keys.RolePoster, "")
	var prog programJSON
	e.must(http.StatusCreated, req{Method: "PUT", Path: "/v1/programs/broker", Key: bootstrapKey,
		Body: `{"kind": "levels", "levels": ["0.25", "0.10", "0.05"], "default": true}`}).Decode(t, &prog)
	if prog.ID != "broker" || prog.Kind != "levels" || !prog.Default || strings.Join(prog.Levels, ",") != "0.25,0.10,0.05" || prog.CreatedAt != "2026-01-10T12:00:00Z" {
		t.Fatalf("PUT /v1/programs/broker = %+v", prog)
	}
	e.must(http.StatusOK, req{Method: "PUT", Path: "/v1/programs/broker", Key: bootstrapKey,
		Body: `{"kind": "levels", "levels": ["0.25", "0.10", "0.05"], "default": true}`})
	var progs listJSON[programJSON]
	e.must(http.StatusOK, req{Method: "GET", Path: "/v1/programs", Key: e.key(keys.RoleAuditor, "")}).Decode(t, &progs)
	if len(progs.Data) != 1 || progs.Data[0].ID != "broker" {
		t.Fatalf("GET /v1/programs = %+v", progs)
	}

	e.user("alice", "")
	c := e.code("alice", "alce22", "note", "blog")
	if c.Code != "ALCE22" || c.Owner != "alice" || c.Note != "blog" || c.Rate != nil || c.Referrals != 0 {
		t.Fatalf("POST codes = %+v", c)
	}
	e.clock.Advance(time.Minute) // codes list in creation order
	gen := e.code("alice", "")
	if len(gen.Code) != 8 || strings.ContainsAny(gen.Code, "01IO") {
		t.Fatalf("generated code = %q", gen.Code)
	}
	e.user("bob", "alce22")
	e.code("bob", "BBBB22")
	e.user("carol", "BBBB22")
	e.code("carol", "CARL22")
	// The exchange (a poster key) registers dave: 201, then the same data
	// again 200, other data 409.
	dave := map[string]any{"id": "dave", "referral_code": "carl22", "country": "DE", "signup_ip": "203.0.113.7",
		"device_id": "dev-1", "registered_at": "2026-01-01T00:00:00Z"}
	var u userJSON
	first := e.must(http.StatusCreated, req{Method: "POST", Path: "/v1/users", Key: poster, Body: dave})
	first.Decode(t, &u)
	if u.ID != "dave" || u.Referrer == nil || *u.Referrer != "carol" || u.ReferralCode == nil || *u.ReferralCode != "CARL22" ||
		u.Country != "DE" || u.RegisteredAt != "2026-01-01T00:00:00Z" || first.Header.Get("Location") != "/v1/users/dave" {
		t.Fatalf("POST /v1/users = %s", first.Body)
	}
	e.must(http.StatusOK, req{Method: "POST", Path: "/v1/users", Key: poster, Body: dave})
	dave["country"] = "FR"
	if res := e.must(http.StatusConflict, req{Method: "POST", Path: "/v1/users", Key: poster, Body: dave}); problemOf(t, res) != folio.ECONFLICT {
		t.Fatalf("conflicting registration = %s", res.Body)
	}

	var codes listJSON[referralCodeJSON]
	e.must(http.StatusOK, req{Method: "GET", Path: "/v1/affiliates/alice/codes", Key: bootstrapKey}).Decode(t, &codes)
	if len(codes.Data) != 2 || codes.Data[0].Code != "ALCE22" || codes.Data[0].Referrals != 1 || codes.Data[1].Referrals != 0 {
		t.Fatalf("GET alice's codes = %+v", codes.Data)
	}

	b := newBooks(e, "USDT")
	res := e.postTrades(poster, trade("t-1", "dave", "100"))
	if res[0].Status != "created" || res[0].ID != "t-1" || res[0].Error != nil {
		t.Fatalf("trade t-1 = %+v", res[0])
	}
	b.trade("dave", "100", map[string]string{"carol": "25", "bob": "10", "alice": "5"})
	b.check("after t-1")
	if got := e.balance("605:USDT"); got != "60" {
		t.Errorf("605:USDT = %s, want 60", got)
	}

	// Replay: exists with the original entries; other content: rejected.
	again := e.postTrades(poster, trade("t-1", "dave", "100"), trade("t-2", "carol", "10"))
	if again[0].Status != "exists" || again[0].FeeEntryID != res[0].FeeEntryID || again[0].CommissionEntryID != res[0].CommissionEntryID {
		t.Fatalf("replayed t-1 = %+v, want exists with %+v", again[0], res[0])
	}
	if again[1].Status != "created" {
		t.Fatalf("t-2 = %+v", again[1])
	}
	b.trade("carol", "10", map[string]string{"bob": "2.5", "alice": "1"})
	conflict := e.postTrades(poster, trade("t-1", "dave", "99"))
	if conflict[0].Status != "rejected" || conflict[0].Error == nil || conflict[0].Error.Code != folio.EIDEMPOTENCY || conflict[0].FeeEntryID != "" {
		t.Fatalf("conflicting t-1 = %+v", conflict[0])
	}
	b.check("after replay and conflict")

	// The explanation of t-1 and of a trade without a referrer.
	tj := e.getTrade("t-1")
	if tj.Program == nil || *tj.Program != "broker" || tj.Kind == nil || *tj.Kind != "levels" || tj.Basis != "100" || tj.Reason != nil ||
		tj.Fee != (moneyJSON{"100", "USDT"}) || tj.FeeComputed || tj.Reversed || len(tj.Accruals) != 3 || len(tj.Entries) != 2 ||
		tj.Entries[0].ID != res[0].FeeEntryID || tj.Entries[1].ParentID == nil || *tj.Entries[1].ParentID != res[0].FeeEntryID ||
		tj.Explanation["platform"] != "60" {
		t.Fatalf("GET /v1/trades/t-1 = %+v", tj)
	}
	for _, a := range tj.Accruals {
		if a.TradeID == nil || *a.TradeID != "t-1" || a.Program != "broker" || a.Kind != "levels" || a.Basis == nil || *a.Basis != "100" ||
			a.EntryID != res[0].CommissionEntryID || a.TraderID != "dave" {
			t.Errorf("accrual %+v", a)
		}
	}
	e.book(trade("t-root", "alice", "7"))
	b.trade("alice", "7", nil)
	if tj := e.getTrade("t-root"); tj.Reason == nil || !strings.Contains(*tj.Reason, "no referrer") || len(tj.Accruals) != 0 {
		t.Fatalf("GET /v1/trades/t-root = %+v", tj)
	}
	b.check("after t-root")
	e.must(http.StatusNotFound, req{Method: "GET", Path: "/v1/trades/nope", Key: bootstrapKey})
	// Trade ids may hold any printable ASCII: paths carry them percent-encoded.
	odd := "ord/42?x#y%z"
	e.book(trade(odd, "dave", "1"))
	b.trade("dave", "1", map[string]string{"carol": "0.25", "bob": "0.1", "alice": "0.05"})
	if tj := e.getTrade(odd); tj.ID != odd || len(tj.Accruals) != 3 {
		t.Fatalf("GET /v1/trades/%s = %+v", url.PathEscape(odd), tj)
	}
	e.must(http.StatusCreated, req{Method: "POST", Path: "/v1/trades/" + url.PathEscape(odd) + "/reverse", Key: poster})
	b.trade("dave", "-1", map[string]string{"carol": "-0.25", "bob": "-0.1", "alice": "-0.05"})
	b.check("after the odd trade id")

	// GET user and chain.
	var got userJSON
	e.must(http.StatusOK, req{Method: "GET", Path: "/v1/users/dave", Key: bootstrapKey}).Decode(t, &got)
	if got.Referrer == nil || *got.Referrer != "carol" || got.SignupIP != "203.0.113.7" || got.Milestones.FirstTradeAt == nil {
		t.Fatalf("GET /v1/users/dave = %+v", got)
	}
	var chain struct {
		UserID string            `json:"user_id"`
		Chain  []chainMemberJSON `json:"chain"`
	}
	e.must(http.StatusOK, req{Method: "GET", Path: "/v1/users/dave/chain", Key: bootstrapKey}).Decode(t, &chain)
	if len(chain.Chain) != 3 || chain.Chain[0].ID != "carol" || chain.Chain[2].ID != "alice" || chain.Chain[2].Level != 3 {
		t.Fatalf("GET chain = %+v", chain)
	}
	var verify ledger.Report
	e.must(http.StatusOK, req{Method: "GET", Path: "/v1/audit/verify", Key: bootstrapKey}).Decode(t, &verify)
	if !verify.OK {
		t.Fatalf("verify = %+v", verify)
	}
}
