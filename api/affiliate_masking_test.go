package api

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/folioledger/folio/affiliate"
	"github.com/folioledger/folio/keys"
	"github.com/folioledger/folio/periods"
)

// maskingTree seeds what an affiliate's dashboard shows in real life and
// returns the affiliate's id, carol:
//
//	alice ← bob.m ← carol ← u-4960cd12 ← erin-99
//	                      ← dave_k
//	zoe.q ← yann7                         (another tree, same payout batch)
//
// on the levels program 25/10/5% and a signup bounty program (5/2 USDT, so
// carol's 208 carries "signup bounty for u-4960cd12"); trades by every
// referee, by carol herself and in the other tree, one of them with a trade
// id that embeds its trader's id; a payout batch executed (one entry
// paying every affiliate: carol's 208 line has the others' 201 accounts as
// counter-accounts); later trades, one busted and reversed; and two manual
// entries whose descriptions name other users.
func maskingTree(f *payoutFixture) string {
	f.t.Helper()
	f.levels(nil, "0.25", "0.10", "0.05")
	f.program("welcome", map[string]any{"kind": "bounty", "currency": "USDT", "events": map[string]any{"signup": []string{"5", "2"}}})
	f.chain("alice", "bob.m", "carol", "u-4960cd12", "erin-99")
	f.user(userSpec{id: "dave_k", referrer: "carol"})
	f.chain("zoe.q", "yann7")
	f.event("u-4960cd12", "kyc_verified")
	f.trades(tradeSpec{user: "u-4960cd12", fee: "100", volume: "10000"}, tradeSpec{user: "dave_k", fee: "40", volume: "4000", market: "ETHUSDT"},
		tradeSpec{id: "fill-erin-99-0001", user: "erin-99", fee: "20", volume: "2000"}, tradeSpec{user: "carol", fee: "10", volume: "1000"},
		tradeSpec{user: "yann7", fee: "50", volume: "5000"})
	f.pay(f.build(http.StatusCreated).ID)
	f.trades(tradeSpec{id: "fill-erin-99-0002", user: "erin-99", fee: "30", volume: "3000"}, tradeSpec{user: "dave_k", fee: "8"})
	f.call(http.StatusCreated, req{Method: "POST", Path: "/v1/trades/fill-erin-99-0002/reverse", Body: map[string]any{}})
	f.post(map[string]any{"idempotency_key": "mask-1", "description": "Transfer from alice to carol (ticket of bob.m)", "postings": []any{
		posting("201:USDT:alice", "debit", "1"), posting("201:USDT:carol", "credit", "1")}})
	f.post(map[string]any{"idempotency_key": "mask-2", "description": "Deposit for carol; referee u-4960cd12's promo, yann7.", "postings": []any{
		posting("110:USDT", "debit", "3"), posting("201:USDT:carol", "credit", "3")}})
	return "carol"
}

// otherIDs returns what identifies users other than holder: every other
// registered user id, every other holder of an account, and every referral
// code that holder does not own (a code names its owner as well as an id).
func otherIDs(t *testing.T, e *env, holder string) []string {
	t.Helper()
	rows, err := e.db.Admin.Query(context.Background(), `SELECT id FROM users WHERE id <> $1
		UNION SELECT split_part(account, ':', 3) FROM balances WHERE split_part(account, ':', 3) NOT IN ('', $1)
		UNION SELECT code FROM referral_codes WHERE owner_id <> $1`, holder)
	if err != nil {
		t.Fatalf("other ids: %v", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatalf("other ids: %v", err)
	}
	return ids
}

// holderAccounts returns every account of holder in the journal.
func holderAccounts(t *testing.T, e *env, holder string) []string {
	t.Helper()
	rows, err := e.db.Admin.Query(context.Background(), `SELECT account FROM balances WHERE split_part(account, ':', 3) = $1 ORDER BY account`, holder)
	if err != nil {
		t.Fatalf("holder accounts: %v", err)
	}
	accts, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatalf("holder accounts: %v", err)
	}
	return accts
}

// affiliateQueries are the query strings each affiliate-readable GET route
// is scanned with, besides none: CSV (by parameter and by Accept), pages of
// one (cursors and Link headers are scanned too), a range holding the
// whole fixture, every grouping of the statistics, and every accrual
// source.
func affiliateQueries() []string {
	const all = "from=2020-01-01&to=2027-01-01"
	qs := []string{"format=csv", "limit=1", "limit=1&format=csv", all, all + "&interval=day&format=csv"}
	for _, g := range affiliate.StatsGroupings {
		qs = append(qs, "group_by="+g+"&"+all, "group_by="+g+"&format=csv&"+all)
	}
	for _, s := range []string{"trade", "bounty", "reversal"} {
		qs = append(qs, "source="+s)
	}
	// The referral list: every level, each order, a search of the notes.
	qs = append(qs, "level=all&limit=1", "level=all&order=commission&limit=1", "level=all&order=volume&limit=1&format=csv", "level=all&q=sister", "level=2")
	return qs
}

// base64Token matches what could be a base64 cursor.
var base64Token = regexp.MustCompile(`[A-Za-z0-9_\-+/]{8,}={0,2}`)

// leaked returns the ids of others found in a response: in its body and
// headers, as sent, percent-decoded, and inside anything that decodes as
// base64 (cursors).
func leaked(res *response, others []string) []string {
	texts := []string{string(res.Body)}
	for _, vs := range res.Header {
		texts = append(texts, vs...)
	}
	for _, s := range slices.Clone(texts) {
		if u, err := url.QueryUnescape(s); err == nil {
			texts = append(texts, u)
		}
	}
	for _, s := range slices.Clone(texts) {
		for _, tok := range base64Token.FindAllString(s, -1) {
			for _, enc := range []*base64.Encoding{base64.RawURLEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.StdEncoding} {
				if b, err := enc.DecodeString(tok); err == nil {
					texts = append(texts, string(b))
				}
			}
		}
	}
	var found []string
	for _, id := range others {
		for _, s := range texts {
			if strings.Contains(s, id) {
				found = append(found, id)
				break
			}
		}
	}
	return found
}

// nextPage returns the path of the next page of a list answer: its
// next_cursor (JSON) or its Link header (CSV); "" on the last page.
func nextPage(path string, res *response) string {
	if link := res.Header.Get("Link"); link != "" {
		next, _, _ := strings.Cut(strings.TrimPrefix(link, "<"), ">")
		return next
	}
	var page struct {
		NextCursor string `json:"next_cursor"`
	}
	if json.Unmarshal(res.Body, &page) != nil || page.NextCursor == "" {
		return ""
	}
	u, err := url.Parse(path)
	if err != nil {
		return ""
	}
	q := u.Query()
	q.Set("cursor", page.NextCursor)
	u.RawQuery = q.Encode()
	return u.String()
}

// TestAffiliateRoutesLeakNoOtherIDs walks the server's route table and, for
// every route an affiliate key may call, reads it with the affiliate's key
// — its own id for {id}, each of its accounts for {account} — in JSON and
// CSV, with every query of affiliateQueries and through every page, and
// fails if any id of another user (or another user's referral code)
// appears anywhere in a response. A new affiliate-readable route is
// scanned without touching this test; one it cannot call (a method other
// than GET, a parameter it cannot fill) fails it until it is taught to.
// The same walk with an auditor's key must find the ids (the journal and
// the auditor's view keep them), or the scan would prove nothing.
func TestAffiliateRoutesLeakNoOtherIDs(t *testing.T) {
	f := newPayoutFixture(t)
	me := maskingTree(f)
	others := otherIDs(t, f.env, me)
	for _, want := range []string{"alice", "bob.m", "u-4960cd12", "erin-99", "dave_k", "zoe.q", "yann7", f.code("u-4960cd12"), f.code("bob.m")} {
		if !slices.Contains(others, want) {
			t.Fatalf("other ids %v lack %s", others, want)
		}
	}
	seen := walkAffiliateRoutes(t, f, f.auditor.secret, me, others)
	for _, want := range []string{"alice", "bob.m", "u-4960cd12", "erin-99", "dave_k", "zoe.q", "yann7", f.code("u-4960cd12"), f.code("bob.m")} {
		if len(seen[want]) == 0 {
			t.Errorf("the auditor's walk never shows %s: the fixture no longer exercises it", want)
		}
	}
	for id, where := range walkAffiliateRoutes(t, f, f.newKey(keys.RoleAffiliate, me).secret, me, others) {
		t.Errorf("%s's affiliate key sees %s in %d responses, e.g. %s", me, id, len(where), where[0])
	}
}

// affiliateWrite is a request an affiliate key sends to a write route.
type affiliateWrite struct {
	path string
	body any
}

// affiliateWrites are the writes the walk sends for holder (carol of
// maskingTree): each answer is scanned like a read; notes and bodies
// name other users, whose ids must come back masked.
func affiliateWrites(f *payoutFixture, holder string) map[string]affiliateWrite {
	return map[string]affiliateWrite{
		"POST /v1/affiliates/{id}/codes":                   {"/v1/affiliates/" + holder + "/codes", `{"note": "for dave_k and bob.m"}`},
		"PATCH /v1/affiliates/{id}/codes/{code}":           {"/v1/affiliates/" + holder + "/codes/" + f.code(holder), `{"note": "zoe.q asked"}`},
		"PUT /v1/affiliates/{id}/referrals/{referee}/note": {"/v1/affiliates/" + holder + "/referrals/erin-99/note", `{"note": "sister of yann7"}`},
		"PUT /v1/users/{id}/rate":                          {"/v1/users/dave_k/rate", `{"rate": "0.1"}`},
	}
}

// walkAffiliateRoutes reads, with key, every route that admits affiliate
// keys as the affiliate holder would, and returns where each of others
// appeared (id → "GET path: body excerpt").
func walkAffiliateRoutes(t *testing.T, f *payoutFixture, key, holder string, others []string) map[string][]string {
	t.Helper()
	accts := holderAccounts(t, f.env, holder)
	if !slices.Contains(accts, "208:USDT:"+holder) || !slices.Contains(accts, "201:USDT:"+holder) {
		t.Fatalf("%s's accounts = %v", holder, accts)
	}
	// The seal routes: the fixture's journal sealed, proofs of one of the
	// holder's own entries and between the first and the current tree.
	f.do(req{Method: http.MethodPost, Path: "/v1/audit/seals", Key: bootstrapKey})
	var st statementJSON
	if res := f.do(req{Method: http.MethodGet, Path: "/v1/accounts/208:USDT:" + holder + "/statement", Key: bootstrapKey}); res.Status != http.StatusOK {
		t.Fatalf("statement of %s = %d", holder, res.Status)
	} else {
		res.Decode(t, &st)
	}
	if len(st.Lines) == 0 {
		t.Fatalf("%s's 208 has no entry to prove", holder)
	}
	// The balance proof: the fixture's month closed (once, by two admins),
	// a proof of the holder's own 208 balance.
	month := periods.MonthOf(f.clock.Now())
	if f.periodState(month.String()) == "open" {
		f.clock.Advance(month.To().Sub(f.clock.Now()) + time.Hour)
		f.periodCall(http.StatusOK, f.admin1, "POST", "/v1/periods/"+month.String()+"/close", nil)
		f.periodCall(http.StatusOK, f.admin2, "POST", "/v1/periods/"+month.String()+"/close/confirm", nil)
	}
	required := map[string]string{
		"/v1/audit/proofs/inclusion":   "entry=" + st.Lines[0].EntryID,
		"/v1/audit/proofs/consistency": "from=1&to=1",
		"/v1/audit/proofs/balance":     "period=" + month.String() + "&account=208:USDT:" + holder,
	}
	seen := map[string][]string{}
	scanned := 0
	for _, rt := range f.srv.routes {
		if !slices.Contains(rt.Access.roles(), keys.RoleAffiliate) {
			continue
		}
		if rt.Pattern == "/v1/events/stream" {
			continue // never ends; the same events as /v1/events (TestEventStreamScoped)
		}
		if rt.Method != http.MethodGet {
			w, ok := affiliateWrites(f, holder)[rt.Method+" "+rt.Pattern]
			if !ok {
				t.Errorf("%s %s admits affiliate keys: teach this test what to send to it", rt.Method, rt.Pattern)
				continue
			}
			res := f.do(req{Method: rt.Method, Path: w.path, Body: w.body, Key: key})
			scanned++
			if res.Status >= 500 {
				t.Errorf("%s %s = %d %s", rt.Method, w.path, res.Status, res.Body)
			}
			for _, id := range leaked(res, others) {
				// An id the request itself names is the caller's to know.
				if !strings.Contains(w.path, id) {
					seen[id] = append(seen[id], fmt.Sprintf("%s %s: %.300s", rt.Method, w.path, res.Body))
				}
			}
			continue
		}
		paths := []string{rt.Pattern}
		if strings.Contains(rt.Pattern, "{account}") {
			paths = nil
			for _, a := range accts {
				paths = append(paths, strings.ReplaceAll(rt.Pattern, "{account}", a))
			}
		}
		sep := "?"
		if q, ok := required[rt.Pattern]; ok {
			paths, sep = []string{rt.Pattern + "?" + q}, "&"
		}
		for _, p := range paths {
			p = strings.ReplaceAll(p, "{id}", holder)
			if strings.Contains(p, "{") {
				t.Errorf("%s %s: cannot fill %s for an affiliate key: teach this test", rt.Method, rt.Pattern, p)
				continue
			}
			if res := f.do(req{Method: http.MethodGet, Path: p, Key: key}); res.Status != http.StatusOK {
				t.Errorf("GET %s = %d %s, want 200", p, res.Status, res.Body)
				continue
			}
			type visit struct {
				path string
				csv  bool
			}
			todo := []visit{{p, false}, {p, true}}
			for _, q := range affiliateQueries() {
				todo = append(todo, visit{p + sep + q, false})
			}
			for _, v := range todo {
				path := v.path
				for page := 0; path != "" && page < 50; page++ {
					q := req{Method: http.MethodGet, Path: path, Key: key}
					if v.csv {
						q.Header = map[string]string{"Accept": "text/csv"}
					}
					res := f.do(q)
					scanned++
					for _, id := range leaked(res, others) {
						seen[id] = append(seen[id], fmt.Sprintf("GET %s (Accept csv %v): %.300s", path, v.csv, res.Body))
					}
					if res.Status != http.StatusOK {
						break
					}
					path = nextPage(path, res)
				}
			}
		}
	}
	if scanned < 100 {
		t.Errorf("only %d responses scanned", scanned)
	}
	return seen
}

// TestAffiliateStatementMasked pins what an affiliate sees of the entries
// on its 208 and 201 accounts: other holders masked in counter-accounts,
// other users' ids masked in descriptions (also inside trade ids), its
// own id and the platform's accounts as they are; and what an auditor
// sees: the stored text.
func TestAffiliateStatementMasked(t *testing.T) {
	f := newPayoutFixture(t)
	me := maskingTree(f)
	key := f.newKey(keys.RoleAffiliate, me).secret
	statement := func(account, key string) statementJSON {
		var st statementJSON
		f.call(http.StatusOK, req{Method: "GET", Path: "/v1/accounts/" + account + "/statement", Key: key}).Decode(t, &st)
		return st
	}
	lines := func(st statementJSON) []string {
		var out []string
		for _, ln := range st.Lines {
			out = append(out, ln.Kind+" | "+ln.Description+" | "+strings.Join(ln.CounterAccounts, " "))
		}
		return out
	}
	has := func(got []string, want string) bool {
		return slices.ContainsFunc(got, func(s string) bool { return s == want })
	}

	mine := lines(statement("208:USDT:"+me, key))
	for _, want := range []string{
		"bounty | signup bounty for u***12 (welcome) | 420:USDT",
		"bounty | signup bounty for e***99 (welcome) | 420:USDT",
		"commission | Commission split of trade fill-e***99-0001 | 101:USDT",
		"reversal | Reversal of the commission of busted trade fill-e***99-0002 | 101:USDT",
	} {
		if !has(mine, want) {
			t.Errorf("%s's 208 lacks %q:\n%s", me, want, strings.Join(mine, "\n"))
		}
	}
	payout := "| 201:USDT:a***e 201:USDT:b***m 201:USDT:carol 201:USDT:u***12 201:USDT:z***q"
	if !slices.ContainsFunc(mine, func(s string) bool {
		return strings.HasPrefix(s, "payout | Payout batch pb_") && strings.HasSuffix(s, payout)
	}) {
		t.Errorf("%s's 208 lacks the payout to %q:\n%s", me, payout, strings.Join(mine, "\n"))
	}
	wallet := lines(statement("201:USDT:"+me, key))
	for _, want := range []string{
		"manual | Transfer from a***e to carol (ticket of b***m) | 201:USDT:a***e",
		"manual | Deposit for carol; referee u***12's promo, y***7. | 110:USDT",
	} {
		if !has(wallet, want) {
			t.Errorf("%s's 201 lacks %q:\n%s", me, want, strings.Join(wallet, "\n"))
		}
	}

	// Auditors read the journal as stored.
	auditor := lines(statement("208:USDT:"+me, f.auditor.secret))
	if !has(auditor, "bounty | signup bounty for u-4960cd12 (welcome) | 420:USDT") {
		t.Errorf("auditor's view of %s's 208:\n%s", me, strings.Join(auditor, "\n"))
	}

	// CSV: the same masking.
	res := f.call(http.StatusOK, req{Method: "GET", Path: "/v1/accounts/201:USDT:" + me + "/statement?format=csv", Key: key})
	if body := string(res.Body); !strings.Contains(body, "Transfer from a***e to carol (ticket of b***m),201:USDT:a***e,") {
		t.Errorf("CSV statement:\n%s", body)
	}
}

// TestAffiliateAccrualsMasked: accrual lines seen by the affiliate mask the
// trader, other users' ids in trade and event ids and other users'
// referral codes; its own trades and codes stay as they are.
func TestAffiliateAccrualsMasked(t *testing.T) {
	f := newPayoutFixture(t)
	me := maskingTree(f)
	key := f.newKey(keys.RoleAffiliate, me).secret
	var lines listJSON[accrualJSON]
	f.call(http.StatusOK, req{Method: "GET", Path: "/v1/affiliates/" + me + "/accruals", Key: key}).Decode(t, &lines)
	deref := func(s *string) string {
		if s == nil {
			return ""
		}
		return *s
	}
	var got []string
	for _, a := range lines.Data {
		got = append(got, strings.Join([]string{a.Source, a.TraderID, deref(a.TradeID), deref(a.EventID), a.Code, a.Amount}, " "))
	}
	own := f.code(me)
	for _, want := range []string{
		"bounty u***12  signup:u***12 " + own + " 5",
		"trade e***99 fill-e***99-0001  " + affiliate.MaskID(f.code("u-4960cd12")) + " 2",
		"trade d***_k t-", // maskID("dave_k"); the trade id is the fixture's
	} {
		if !slices.ContainsFunc(got, func(s string) bool { return strings.HasPrefix(s, want) }) {
			t.Errorf("%s's accruals lack %q:\n%s", me, want, strings.Join(got, "\n"))
		}
	}
}

// TestIDMaskText pins how other users' ids are found in free text: by runs
// of id characters and their spans between . _ -, the longest first, the
// key's own id kept whole; and that a nil mask changes nothing.
func TestIDMaskText(t *testing.T) {
	m := &idMask{own: "carol-x", codes: map[string]bool{"CAROL1": true},
		users: map[string]bool{"alice": true, "u-4960cd12": true, "erin-99": true, "carol": true, "x": true, "bob.m": true}}
	for _, c := range []struct{ in, want string }{
		{"signup bounty for u-4960cd12 (welcome)", "signup bounty for u***12 (welcome)"},
		{"signup:u-4960cd12", "signup:u***12"},
		{"fill-erin-99-0001", "fill-e***99-0001"},
		{"Transfer from alice to carol-x.", "Transfer from a***e to carol-x."},
		{"carol and carol-x", "c***l and carol-x"},
		{"ticket of bob.m", "ticket of b***m"},
		{"bob.mx alice2024 malice", "bob.mx alice2024 malice"},
		{"x-alice_x", "***-a***e_***"},
		{"", ""},
	} {
		if got := m.text(c.in); got != c.want {
			t.Errorf("text(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	for _, c := range []struct {
		f        func(string) string
		in, want string
	}{
		{m.account, "201:USDT:alice", "201:USDT:a***e"},
		{m.account, "201:USDT:carol-x", "201:USDT:carol-x"},
		{m.account, "101:USDT", "101:USDT"},
		{m.account, "201:USDT:never-registered", "201:USDT:n***ed"},
		{m.code, "CAROL1", "CAROL1"},
		{m.code, "BCQRQPA9", "B***A9"},
		{m.id, "carol-x", "carol-x"},
		{m.id, "u-4960cd12", "u***12"},
		{m.id, "", ""},
	} {
		if got := c.f(c.in); got != c.want {
			t.Errorf("mask(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	var none *idMask
	if none.text("alice") != "alice" || none.account("201:USDT:alice") != "201:USDT:alice" || none.code("X1") != "X1" || none.id("alice") != "alice" {
		t.Errorf("a nil mask masked something")
	}
}
