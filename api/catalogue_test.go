package api

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/folioledger/folio"
)

// TestBadInputCatalogue sends requests that must be refused with a clear
// 4xx problem (docs/CONTRACT.md §9) and checks, after each, that nothing was written:
// the journal, every balance figure and the configuration are unchanged.
func TestBadInputCatalogue(t *testing.T) {
	e := newEnv(t)
	e.currencies()
	admin := bootstrapKey

	good := func(key string) map[string]any {
		return entryBody(key, posting("110:USD", "debit", "10"), posting("201:USD:alice", "credit", "10"))
	}
	reversed := e.post(good("setup-reversed"))["id"].(string)
	reversal := e.must(http.StatusCreated, req{Method: "POST", Path: "/v1/entries/" + reversed + "/reverse", Key: admin}).JSON(t)["id"].(string)
	posted := e.post(good("setup-posted"))["id"].(string)
	pendingBody := good("setup-pending")
	pendingBody["pending"] = true
	voided := e.post(pendingBody)["id"].(string)
	e.must(http.StatusCreated, req{Method: "POST", Path: "/v1/entries/" + voided + "/void", Key: admin})

	withPostings := func(ps ...map[string]any) map[string]any { return entryBody("cat-key", ps...) }
	with := func(field string, value any) map[string]any {
		b := good("cat-key")
		b[field] = value
		return b
	}
	entries := func(n int) string {
		items := make([]string, n)
		for i := range items {
			items[i] = fmt.Sprintf(`{"idempotency_key":"b%d","postings":[{"account":"110:USD","side":"debit","amount":"1"},{"account":"201:USD:alice","side":"credit","amount":"1"}]}`, i)
		}
		return `{"entries":[` + strings.Join(items, ",") + `]}`
	}
	huge := `{"idempotency_key":"big","description":"` + strings.Repeat("x", 1<<20) + `","postings":[]}`

	cases := []struct {
		name   string
		q      req
		status int
		code   string
	}{
		{"malformed JSON", req{Method: "POST", Path: "/v1/entries", Body: `{"idempotency_key": "k", "postings": [`}, 400, folio.EINVALID},
		{"syntax error", req{Method: "POST", Path: "/v1/entries", Body: `{"idempotency_key" "k"}`}, 400, folio.EINVALID},
		{"unknown field", req{Method: "POST", Path: "/v1/entries", Body: with("colour", "red")}, 400, folio.EINVALID},
		{"unknown posting field", req{Method: "POST", Path: "/v1/entries", Body: withPostings(posting("110:USD", "debit", "1"),
			map[string]any{"account": "201:USD:alice", "side": "credit", "amount": "1", "memo": "x"})}, 400, folio.EINVALID},
		{"wrong type: description number", req{Method: "POST", Path: "/v1/entries", Body: with("description", 42)}, 400, folio.EINVALID},
		{"wrong type: postings object", req{Method: "POST", Path: "/v1/entries", Body: with("postings", map[string]any{})}, 400, folio.EINVALID},
		{"wrong type: pending string", req{Method: "POST", Path: "/v1/entries", Body: with("pending", "yes")}, 400, folio.EINVALID},
		{"amount as a number", req{Method: "POST", Path: "/v1/entries", Body: withPostings(posting("110:USD", "debit", "10"),
			map[string]any{"account": "201:USD:alice", "side": "credit", "amount": 10})}, 400, folio.EAMOUNT},
		{"negative amount", req{Method: "POST", Path: "/v1/entries", Body: withPostings(posting("110:USD", "debit", "-10"), posting("201:USD:alice", "credit", "-10"))}, 400, folio.EAMOUNT},
		{"zero amount", req{Method: "POST", Path: "/v1/entries", Body: withPostings(posting("110:USD", "debit", "0"), posting("201:USD:alice", "credit", "0"))}, 400, folio.EAMOUNT},
		{"too precise amount", req{Method: "POST", Path: "/v1/entries", Body: withPostings(posting("110:USD", "debit", "1.001"), posting("201:USD:alice", "credit", "1.001"))}, 400, folio.EAMOUNT},
		{"huge amount", req{Method: "POST", Path: "/v1/entries", Body: withPostings(posting("110:USD", "debit", "1"+strings.Repeat("0", 25)), posting("201:USD:alice", "credit", "1"+strings.Repeat("0", 25)))}, 400, folio.EAMOUNT},
		{"exponent amount", req{Method: "POST", Path: "/v1/entries", Body: withPostings(posting("110:USD", "debit", "1e3"), posting("201:USD:alice", "credit", "1e3"))}, 400, folio.EAMOUNT},
		{"unknown account code", req{Method: "POST", Path: "/v1/entries", Body: withPostings(posting("999:USD", "debit", "1"), posting("201:USD:alice", "credit", "1"))}, 400, folio.EACCOUNT},
		{"per-holder account without holder", req{Method: "POST", Path: "/v1/entries", Body: withPostings(posting("110:USD", "debit", "1"), posting("201:USD", "credit", "1"))}, 400, folio.EACCOUNT},
		{"unknown currency", req{Method: "POST", Path: "/v1/entries", Body: withPostings(posting("110:XYZ", "debit", "1"), posting("201:XYZ:alice", "credit", "1"))}, 400, folio.ECURRENCY},
		{"unbalanced", req{Method: "POST", Path: "/v1/entries", Body: withPostings(posting("110:USD", "debit", "10"), posting("201:USD:alice", "credit", "9.99"))}, 400, folio.EUNBALANCED},
		{"one posting", req{Method: "POST", Path: "/v1/entries", Body: withPostings(posting("110:USD", "debit", "10"))}, 400, folio.EUNBALANCED},
		{"bad side", req{Method: "POST", Path: "/v1/entries", Body: withPostings(posting("110:USD", "left", "10"), posting("201:USD:alice", "credit", "10"))}, 400, folio.EINVALID},
		{"ledger-only kind", req{Method: "POST", Path: "/v1/entries", Body: with("kind", "reversal")}, 400, folio.EINVALID},
		{"metadata not an object", req{Method: "POST", Path: "/v1/entries", Body: with("metadata", []int{1})}, 400, folio.EINVALID},
		{"bad effective_at", req{Method: "POST", Path: "/v1/entries", Body: with("effective_at", "yesterday")}, 400, folio.EINVALID},
		{"expires_at on a posted entry", req{Method: "POST", Path: "/v1/entries", Body: with("expires_at", "2026-02-01T00:00:00Z")}, 400, folio.EINVALID},
		{"no idempotency key", req{Method: "POST", Path: "/v1/entries", Body: good("")}, 400, folio.EINVALID},
		{"header and body keys differ", req{Method: "POST", Path: "/v1/entries", Body: good("body-key"), Header: map[string]string{"Idempotency-Key": "header-key"}}, 400, folio.EINVALID},
		{"idempotency key with spaces", req{Method: "POST", Path: "/v1/entries", Body: good("has space")}, 400, folio.EINVALID},
		{"oversized body", req{Method: "POST", Path: "/v1/entries", Body: huge}, 413, folio.ETOOLARGE},
		{"empty body", req{Method: "POST", Path: "/v1/entries", Body: ""}, 400, folio.EINVALID},
		{"body is null", req{Method: "POST", Path: "/v1/entries", Body: "null"}, 400, folio.EINVALID},
		{"body is an array", req{Method: "POST", Path: "/v1/entries", Body: `[{"idempotency_key":"k"}]`}, 400, folio.EINVALID},
		{"trailing garbage", req{Method: "POST", Path: "/v1/entries", Body: `{"idempotency_key":"k","postings":[]} {"x":1}`}, 400, folio.EINVALID},
		{"wrong content type", req{Method: "POST", Path: "/v1/entries", Body: good("ct"), Header: map[string]string{"Content-Type": "text/plain"}}, 415, codeUnsupportedMedia},
		{"form content type", req{Method: "POST", Path: "/v1/entries", Body: good("ct"), Header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}}, 415, codeUnsupportedMedia},
		{"key conflict", req{Method: "POST", Path: "/v1/entries", Body: entryBody("setup-posted", posting("110:USD", "debit", "11"), posting("201:USD:alice", "credit", "11"))}, 409, folio.EIDEMPOTENCY},
		{"insufficient balance", req{Method: "POST", Path: "/v1/entries", Body: withPostings(posting("230:USD:alice", "debit", "5"), posting("110:USD", "credit", "5"))}, 422, folio.EINSUFFICIENT},
		{"unknown parent", req{Method: "POST", Path: "/v1/entries", Body: with("parent_id", "not-a-uuid")}, 400, folio.EINVALID},
		{"batch of 1001", req{Method: "POST", Path: "/v1/entries/batch", Body: entries(1001)}, 400, folio.EINVALID},
		{"empty batch", req{Method: "POST", Path: "/v1/entries/batch", Body: `{"entries":[]}`}, 400, folio.EINVALID},
		{"batch with a header key", req{Method: "POST", Path: "/v1/entries/batch", Body: entries(1), Header: map[string]string{"Idempotency-Key": "k"}}, 400, folio.EINVALID},
		{"atomic batch with a bad item", req{Method: "POST", Path: "/v1/entries/batch", Body: map[string]any{"atomic": true, "entries": []any{
			good("atomic-1"), withPostings(posting("110:USD", "debit", "1"), posting("201:USD:alice", "credit", "2"))}}}, 400, folio.EINVALID},
		{"atomic batch with a bad time", req{Method: "POST", Path: "/v1/entries/batch", Body: map[string]any{"atomic": true, "entries": []any{
			good("atomic-2"), with("effective_at", "soon")}}}, 400, folio.EINVALID},
		{"already reversed", req{Method: "POST", Path: "/v1/entries/" + reversed + "/reverse"}, 409, folio.EREVERSED},
		{"reverse a reversal", req{Method: "POST", Path: "/v1/entries/" + reversal + "/reverse"}, 409, folio.ECONFLICT},
		{"reverse an unknown entry", req{Method: "POST", Path: "/v1/entries/00000000-0000-4000-8000-000000000000/reverse"}, 404, folio.ENOTFOUND},
		{"reverse with a bad UUID", req{Method: "POST", Path: "/v1/entries/12345/reverse"}, 400, folio.EINVALID},
		{"reverse with an unknown field", req{Method: "POST", Path: "/v1/entries/" + posted + "/reverse", Body: `{"reason":"oops"}`}, 400, folio.EINVALID},
		{"post a posted entry", req{Method: "POST", Path: "/v1/entries/" + posted + "/post"}, 409, folio.ECONFLICT},
		{"void a voided entry", req{Method: "POST", Path: "/v1/entries/" + voided + "/void"}, 409, folio.ECONFLICT},
		{"get with a bad UUID", req{Method: "GET", Path: "/v1/entries/not-a-uuid"}, 400, folio.EINVALID},
		{"get an unknown entry", req{Method: "GET", Path: "/v1/entries/00000000-0000-4000-8000-000000000000"}, 404, folio.ENOTFOUND},
		{"bad cursor", req{Method: "GET", Path: "/v1/entries?cursor=bm9wZQ"}, 400, folio.EINVALID},
		{"cursor of another list", req{Method: "GET", Path: "/v1/entries?cursor=" + encodeCursor("audit", "1")}, 400, folio.EINVALID},
		{"limit too large", req{Method: "GET", Path: "/v1/entries?limit=5000"}, 400, folio.EINVALID},
		{"limit zero", req{Method: "GET", Path: "/v1/entries?limit=0"}, 400, folio.EINVALID},
		{"bad list from", req{Method: "GET", Path: "/v1/entries?from=last-week"}, 400, folio.EINVALID},
		{"bad account filter", req{Method: "GET", Path: "/v1/entries?account=alice"}, 400, folio.EINVALID},
		{"bad as_of", req{Method: "GET", Path: "/v1/accounts/201:USD:alice/balance?as_of=noon"}, 400, folio.EINVALID},
		{"bad as_of_seq", req{Method: "GET", Path: "/v1/accounts/201:USD:alice/balance?as_of_seq=-1"}, 400, folio.EINVALID},
		{"two as_of parameters", req{Method: "GET", Path: "/v1/accounts/201:USD:alice/balance?as_of_seq=1&as_of=2026-01-01"}, 400, folio.EINVALID},
		{"balance of an unknown account", req{Method: "GET", Path: "/v1/accounts/999:USD/balance"}, 400, folio.EACCOUNT},
		{"statement from after to", req{Method: "GET", Path: "/v1/accounts/201:USD:alice/statement?from=2026-02-01&to=2026-01-01"}, 400, folio.EINVALID},
		{"statement bad format", req{Method: "GET", Path: "/v1/accounts/201:USD:alice/statement?format=xlsx"}, 400, folio.EINVALID},
		{"trial balance bad currency", req{Method: "GET", Path: "/v1/reports/trial-balance?currency=usd"}, 400, folio.EINVALID},
		{"trial balance unknown currency", req{Method: "GET", Path: "/v1/reports/trial-balance?currency=XYZ"}, 400, folio.ECURRENCY},
		{"trial balance by effective time", req{Method: "GET", Path: "/v1/reports/trial-balance?as_of_effective=2026-01-01"}, 400, folio.EINVALID},
		{"trial balance of an unknown basis", req{Method: "GET", Path: "/v1/reports/trial-balance?basis=business"}, 400, folio.EINVALID},
		{"trial balance basis in capitals", req{Method: "GET", Path: "/v1/reports/trial-balance?basis=EFFECTIVE"}, 400, folio.EINVALID},
		{"trial balance at a seq by effective time", req{Method: "GET", Path: "/v1/reports/trial-balance?as_of_seq=1&basis=effective"}, 400, folio.EINVALID},
		{"trial balance with two bases", req{Method: "GET", Path: "/v1/reports/trial-balance?basis=effective&basis=recorded"}, 400, folio.EINVALID},
		{"statement of an unknown basis", req{Method: "GET", Path: "/v1/accounts/201:USD:alice/statement?basis=booked"}, 400, folio.EINVALID},
		{"reconciliation of an unknown basis", req{Method: "GET", Path: "/v1/reports/reconciliation?basis=effective%00"}, 400, folio.EINVALID},
		{"audit log bad cursor", req{Method: "GET", Path: "/v1/audit/log?cursor=" + encodeCursor("audit", "x|y")}, 400, folio.EINVALID},
		{"currency precision 19", req{Method: "PUT", Path: "/v1/currencies/BTC", Body: map[string]any{"precision": 19}}, 400, folio.EINVALID},
		{"currency precision as a string", req{Method: "PUT", Path: "/v1/currencies/BTC", Body: `{"precision":"8"}`}, 400, folio.EINVALID},
		{"currency precision fractional", req{Method: "PUT", Path: "/v1/currencies/BTC", Body: `{"precision":8.5}`}, 400, folio.EINVALID},
		{"currency without precision", req{Method: "PUT", Path: "/v1/currencies/BTC", Body: `{"enabled":true}`}, 400, folio.EINVALID},
		{"currency lower-case id", req{Method: "PUT", Path: "/v1/currencies/btc", Body: map[string]any{"precision": 8}}, 400, folio.EINVALID},
		{"precision change of a used currency", req{Method: "PUT", Path: "/v1/currencies/USD", Body: map[string]any{"precision": 4}}, 409, folio.ECONFLICT},
		{"chart code invalid", req{Method: "POST", Path: "/v1/chart", Body: map[string]any{"code": "12", "name": "x", "type": "asset", "normal_side": "debit"}}, 400, folio.EINVALID},
		{"chart type invalid", req{Method: "POST", Path: "/v1/chart", Body: map[string]any{"code": "150", "name": "x", "type": "cash", "normal_side": "debit"}}, 400, folio.EINVALID},
		{"chart builtin type change", req{Method: "POST", Path: "/v1/chart", Body: map[string]any{"code": "201", "name": "x", "type": "asset", "normal_side": "debit", "per_holder": true}}, 409, folio.ECONFLICT},
		{"key with a bad role", req{Method: "POST", Path: "/v1/keys", Body: map[string]any{"role": "root"}}, 400, folio.EINVALID},
		{"affiliate key without holder", req{Method: "POST", Path: "/v1/keys", Body: map[string]any{"role": "affiliate"}}, 400, folio.EINVALID},
		{"auditor key with holder", req{Method: "POST", Path: "/v1/keys", Body: map[string]any{"role": "auditor", "holder": "alice"}}, 400, folio.EINVALID},
		{"affiliate key with a bad holder", req{Method: "POST", Path: "/v1/keys", Body: map[string]any{"role": "affiliate", "holder": "a b"}}, 400, folio.EINVALID},
		{"revoke an unknown key", req{Method: "DELETE", Path: "/v1/keys/00000000-0000-4000-8000-000000000000"}, 404, folio.ENOTFOUND},
		{"revoke with a bad UUID", req{Method: "DELETE", Path: "/v1/keys/42"}, 400, folio.EINVALID},
		{"payout build with a future cut-off", req{Method: "POST", Path: "/v1/payouts/batches", Body: map[string]any{"cutoff": "2030-01-01T00:00:00Z"}}, 400, folio.EINVALID},
		{"payout build with a bad cut-off", req{Method: "POST", Path: "/v1/payouts/batches", Body: map[string]any{"cutoff": "tonight"}}, 400, folio.EINVALID},
		{"payout build with an unknown field", req{Method: "POST", Path: "/v1/payouts/batches", Body: map[string]any{"currency": "USDT"}}, 400, folio.EINVALID},
		{"payout build of an unknown program", req{Method: "POST", Path: "/v1/payouts/batches", Body: map[string]any{"program": "nope"}}, 404, folio.ENOTFOUND},
		{"payout build with nothing payable", req{Method: "POST", Path: "/v1/payouts/batches"}, 404, folio.ENOTFOUND},
		{"approve an unknown batch", req{Method: "POST", Path: "/v1/payouts/batches/pb_" + strings.Repeat("0", 32) + "/approve"}, 404, folio.ENOTFOUND},
		{"execute a malformed batch id", req{Method: "POST", Path: "/v1/payouts/batches/batch-1/execute"}, 400, folio.EINVALID},
		{"reject-lines without lines", req{Method: "POST", Path: "/v1/payouts/batches/pb_" + strings.Repeat("0", 32) + "/reject-lines", Body: map[string]any{"lines": []string{}}}, 400, folio.EINVALID},
		{"reject-lines with a bad line id", req{Method: "POST", Path: "/v1/payouts/batches/pb_" + strings.Repeat("0", 32) + "/reject-lines", Body: map[string]any{"lines": []string{"line-1"}}}, 400, folio.EINVALID},
		{"reject-lines naming a line twice", req{Method: "POST", Path: "/v1/payouts/batches/pb_" + strings.Repeat("0", 32) + "/reject-lines",
			Body: map[string]any{"lines": []string{"00000000-0000-4000-8000-000000000000", "00000000-0000-4000-8000-000000000000"}}}, 400, folio.EINVALID},
		{"reject-lines forfeit as a string", req{Method: "POST", Path: "/v1/payouts/batches/pb_" + strings.Repeat("0", 32) + "/reject-lines",
			Body: map[string]any{"lines": []string{"00000000-0000-4000-8000-000000000000"}, "forfeit": "yes"}}, 400, folio.EINVALID},
		{"reject-lines of an unknown batch", req{Method: "POST", Path: "/v1/payouts/batches/pb_" + strings.Repeat("0", 32) + "/reject-lines",
			Body: map[string]any{"lines": []string{"00000000-0000-4000-8000-000000000000"}, "forfeit": true}}, 404, folio.ENOTFOUND},
		{"clear-lines with forfeit", req{Method: "POST", Path: "/v1/payouts/batches/pb_" + strings.Repeat("0", 32) + "/clear-lines",
			Body: map[string]any{"lines": []string{"00000000-0000-4000-8000-000000000000"}, "forfeit": false}}, 400, folio.EINVALID},
		{"payout batches bad cursor", req{Method: "GET", Path: "/v1/payouts/batches?cursor=" + encodeCursor("payout_batches", "x|y")}, 400, folio.EINVALID},
		{"fraud rules bad window", req{Method: "PUT", Path: "/v1/payouts/fraud-rules", Body: map[string]any{"farm_window": "-1h"}}, 400, folio.EINVALID},
		{"fraud rules unknown field", req{Method: "PUT", Path: "/v1/payouts/fraud-rules", Body: map[string]any{"max_payout": "1"}}, 400, folio.EINVALID},
		{"fraud rules empty body", req{Method: "PUT", Path: "/v1/payouts/fraud-rules"}, 400, folio.EINVALID},
		{"reconciliation from after to", req{Method: "GET", Path: "/v1/reports/reconciliation?from=2026-02-01&to=2026-01-01"}, 400, folio.EINVALID},
		{"reconciliation bad format", req{Method: "GET", Path: "/v1/reports/reconciliation?format=pdf"}, 400, folio.EINVALID},
		{"tax report bad year", req{Method: "GET", Path: "/v1/reports/tax?year=99"}, 400, folio.EINVALID},
		{"stats bad interval", req{Method: "GET", Path: "/v1/affiliates/alice/stats?interval=fortnight"}, 400, folio.EINVALID},
		{"stats of an unknown affiliate", req{Method: "GET", Path: "/v1/affiliates/nobody/stats"}, 404, folio.ENOTFOUND},
		{"referrals cursor of another list", req{Method: "GET", Path: "/v1/affiliates/alice/referrals?cursor=" + encodeCursor("entries", "1")}, 400, folio.EINVALID},
		{"method not allowed", req{Method: "DELETE", Path: "/v1/chart"}, 405, codeMethodNotAllowed},
		{"unknown route", req{Method: "GET", Path: "/v1/nothing-here"}, 404, folio.ENOTFOUND},
	}
	if len(cases) < 30 {
		t.Fatalf("the catalogue has %d cases, want at least 30", len(cases))
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := e.snapshot()
			q := c.q
			q.Key = admin
			res := e.do(q)
			if res.Status != c.status {
				t.Errorf("%s %s = %d, want %d\n%s", q.Method, q.Path, res.Status, c.status, truncate(string(res.Body), 500))
			}
			if code := problemCode(t, res); code != c.code {
				t.Errorf("code = %q, want %q\n%s", code, c.code, truncate(string(res.Body), 500))
			}
			if after := e.snapshot(); after != before {
				t.Errorf("the request changed the database:\nbefore %s\nafter  %s", before, after)
			}
		})
	}
}

// TestAffiliateBadInputCatalogue is the catalogue's affiliate part (docs/CONTRACT.md
// §9): users, codes, referrers, rates, programs, events, trades, reversals,
// FX rates and fee schedules refused with a clear 4xx problem, after each
// of which neither the journal and configuration nor any affiliate table
// (users, codes, programs, shares, events, trades, accruals, rates, fees)
// has changed.
func TestAffiliateBadInputCatalogue(t *testing.T) {
	e := newEnv(t)
	e.currencies()
	e.putProgram("broker", map[string]any{"kind": "levels", "levels": []string{"0.25", "0.10", "0.05"}, "default": true})
	e.putProgram("orderly", map[string]any{"kind": "differential", "min_pass_down": "0.10"})
	e.putProgram("viral", map[string]any{"kind": "bounty", "currency": "USDT", "events": map[string]any{"kyc_verified": []string{"1"}}})
	e.tree("alice>", "alice>bob", "bob>carol")
	e.user("root", "")
	e.user("leaf", "")
	e.must(http.StatusOK, req{Method: "PUT", Path: "/v1/users/root/program", Key: bootstrapKey, Body: `{"program": "orderly"}`})
	e.must(http.StatusOK, req{Method: "PUT", Path: "/v1/users/leaf/program", Key: bootstrapKey, Body: `{"program": "orderly"}`})
	e.must(http.StatusOK, req{Method: "PUT", Path: "/v1/users/root/rate", Key: bootstrapKey, Body: `{"rate": "0.40"}`})
	e.must(http.StatusOK, req{Method: "PUT", Path: "/v1/users/leaf/referrer", Key: bootstrapKey, Body: `{"referrer": "root"}`})
	e.must(http.StatusCreated, req{Method: "POST", Path: "/v1/users/carol/events", Key: bootstrapKey, Body: `{"id": "ev-1", "type": "kyc_verified"}`})
	e.book(trade("t-1", "carol", "10"))
	e.must(http.StatusCreated, req{Method: "POST", Path: "/v1/trades/t-1/reverse", Key: bootstrapKey})

	tradesOf := func(n int) string {
		items := make([]string, n)
		for i := range items {
			items[i] = fmt.Sprintf(`{"id":"c%d","user_id":"carol","market":"BTCUSDT","liquidity":"taker","fee":{"amount":"1","currency":"USDT"},"executed_at":"2026-01-10T11:00:00Z"}`, i)
		}
		return `{"trades":[` + strings.Join(items, ",") + `]}`
	}
	cases := []struct {
		name   string
		q      req
		status int
		code   string
	}{
		// Users.
		{"signup with one's own code", req{Method: "POST", Path: "/v1/users", Body: map[string]any{"id": "alice", "referral_code": codeFor("alice")}}, 400, folio.ESELFREFERRAL},
		{"signup with an unknown code", req{Method: "POST", Path: "/v1/users", Body: map[string]any{"id": "newbie", "referral_code": "ZZZZZZ"}}, 400, folio.EINVALID},
		{"signup again with other data", req{Method: "POST", Path: "/v1/users", Body: map[string]any{"id": "carol", "country": "FR", "registered_at": "2026-01-01T00:00:00Z", "referral_code": codeFor("bob")}}, 409, folio.ECONFLICT},
		{"signup with a bad id", req{Method: "POST", Path: "/v1/users", Body: map[string]any{"id": "a b"}}, 400, folio.EINVALID},
		{"signup with a bad country", req{Method: "POST", Path: "/v1/users", Body: map[string]any{"id": "newbie", "country": "Germany"}}, 400, folio.EINVALID},
		{"signup with an unknown field", req{Method: "POST", Path: "/v1/users", Body: map[string]any{"id": "newbie", "referrer": "alice"}}, 400, folio.EINVALID},
		{"signup with a bad time", req{Method: "POST", Path: "/v1/users", Body: map[string]any{"id": "newbie", "registered_at": "last week"}}, 400, folio.EINVALID},
		{"get an unknown user", req{Method: "GET", Path: "/v1/users/nobody"}, 404, folio.ENOTFOUND},
		{"chain of an unknown user", req{Method: "GET", Path: "/v1/users/nobody/chain"}, 404, folio.ENOTFOUND},
		// The tree.
		{"re-parent into a cycle", req{Method: "PUT", Path: "/v1/users/alice/referrer", Body: map[string]any{"referrer": "carol"}}, 409, folio.ECYCLE},
		{"re-parent to itself", req{Method: "PUT", Path: "/v1/users/bob/referrer", Body: map[string]any{"referrer": "bob"}}, 400, folio.ESELFREFERRAL},
		{"re-parent under an unknown user", req{Method: "PUT", Path: "/v1/users/bob/referrer", Body: map[string]any{"referrer": "nobody"}}, 404, folio.ENOTFOUND},
		{"re-parent without referrer", req{Method: "PUT", Path: "/v1/users/bob/referrer", Body: `{"referrer": null}`}, 400, folio.EINVALID},
		// Rates.
		{"rate above the referrer's", req{Method: "PUT", Path: "/v1/users/leaf/rate", Body: map[string]any{"rate": "0.45"}}, 400, folio.EINVALID},
		{"rate below the pass-down minimum", req{Method: "PUT", Path: "/v1/users/leaf/rate", Body: map[string]any{"rate": "0.05"}}, 400, folio.EINVALID},
		{"rate above 1", req{Method: "PUT", Path: "/v1/users/root/rate", Body: map[string]any{"rate": "1.01"}}, 400, folio.EINVALID},
		{"rate as a number", req{Method: "PUT", Path: "/v1/users/root/rate", Body: `{"rate": 0.3}`}, 400, folio.EINVALID},
		{"rate too precise", req{Method: "PUT", Path: "/v1/users/root/rate", Body: map[string]any{"rate": "0.1234567890123456789"}}, 400, folio.EINVALID},
		{"rate outside a differential program", req{Method: "PUT", Path: "/v1/users/bob/rate", Body: map[string]any{"rate": "0.3"}}, 400, folio.EINVALID},
		{"kickback rate missing", req{Method: "PUT", Path: "/v1/users/bob/kickback-rate", Body: `{}`}, 400, folio.EINVALID},
		{"kickback rate as a number", req{Method: "PUT", Path: "/v1/users/bob/kickback-rate", Body: `{"rate": 0.3}`}, 400, folio.EINVALID},
		{"kickback rate negative", req{Method: "PUT", Path: "/v1/users/bob/kickback-rate", Body: `{"rate": "-0.1"}`}, 400, folio.EINVALID},
		{"revenue shares over 100%", req{Method: "PUT", Path: "/v1/users/carol/revenue-share", Body: `{"shares": [{"beneficiary": "alice", "share": "0.7"}, {"beneficiary": "bob", "share": "0.4"}]}`}, 400, folio.EINVALID},
		{"revenue share to oneself", req{Method: "PUT", Path: "/v1/users/carol/revenue-share", Body: `{"shares": [{"beneficiary": "carol", "share": "0.1"}]}`}, 400, folio.ESELFREFERRAL},
		{"revenue share to an unknown user", req{Method: "PUT", Path: "/v1/users/carol/revenue-share", Body: `{"shares": [{"beneficiary": "nobody", "share": "0.1"}]}`}, 404, folio.ENOTFOUND},
		{"revenue shares missing", req{Method: "PUT", Path: "/v1/users/carol/revenue-share", Body: `{}`}, 400, folio.EINVALID},
		{"assign an unknown program", req{Method: "PUT", Path: "/v1/users/bob/program", Body: map[string]any{"program": "nope"}}, 404, folio.ENOTFOUND},
		{"assign without program", req{Method: "PUT", Path: "/v1/users/bob/program", Body: `{}`}, 400, folio.EINVALID},
		{"assign a program as a number", req{Method: "PUT", Path: "/v1/users/bob/program", Body: `{"program": 7}`}, 400, folio.EINVALID},
		{"assign a bounty program", req{Method: "PUT", Path: "/v1/users/bob/program", Body: map[string]any{"program": "viral"}}, 400, folio.EINVALID},
		{"tax id too long", req{Method: "PUT", Path: "/v1/users/bob/tax-id", Body: map[string]any{"tax_id": strings.Repeat("9", 65)}}, 400, folio.EINVALID},
		// Codes.
		{"code with ambiguous characters", req{Method: "POST", Path: "/v1/affiliates/bob/codes", Body: map[string]any{"code": "BROKER01"}}, 400, folio.EINVALID},
		{"code too short", req{Method: "POST", Path: "/v1/affiliates/bob/codes", Body: map[string]any{"code": "ABC"}}, 400, folio.EINVALID},
		{"code taken", req{Method: "POST", Path: "/v1/affiliates/bob/codes", Body: map[string]any{"code": strings.ToLower(codeFor("alice"))}}, 409, folio.ECONFLICT},
		{"code of an unknown affiliate", req{Method: "POST", Path: "/v1/affiliates/nobody/codes", Body: `{}`}, 404, folio.ENOTFOUND},
		{"code rate outside a differential program", req{Method: "POST", Path: "/v1/affiliates/bob/codes", Body: map[string]any{"rate": "0.2"}}, 400, folio.EINVALID},
		{"code rate above the owner's", req{Method: "POST", Path: "/v1/affiliates/root/codes", Body: map[string]any{"rate": "0.5"}}, 400, folio.EINVALID},
		{"code kickback outside a kickback program", req{Method: "POST", Path: "/v1/affiliates/bob/codes", Body: map[string]any{"kickback": "0.05"}}, 400, folio.EINVALID},
		{"codes of an unknown affiliate", req{Method: "GET", Path: "/v1/affiliates/nobody/codes"}, 404, folio.ENOTFOUND},
		// Programs.
		{"levels paying over 100%", req{Method: "PUT", Path: "/v1/programs/greedy", Body: `{"kind": "levels", "levels": ["0.6", "0.3", "0.2"]}`}, 400, folio.EINVALID},
		{"level rate above 1", req{Method: "PUT", Path: "/v1/programs/greedy", Body: `{"kind": "levels", "levels": ["1.5"]}`}, 400, folio.EINVALID},
		{"level rate as a number", req{Method: "PUT", Path: "/v1/programs/greedy", Body: `{"kind": "levels", "levels": [0.25]}`}, 400, folio.EINVALID},
		{"kickback rate over 100%", req{Method: "PUT", Path: "/v1/programs/greedy", Body: `{"kind": "kickback", "rate": "1.2"}`}, 400, folio.EINVALID},
		{"kickback without rate", req{Method: "PUT", Path: "/v1/programs/greedy", Body: `{"kind": "kickback"}`}, 400, folio.EINVALID},
		{"differential pass-down above 1", req{Method: "PUT", Path: "/v1/programs/greedy", Body: `{"kind": "differential", "min_pass_down": "2"}`}, 400, folio.EINVALID},
		{"unknown program kind", req{Method: "PUT", Path: "/v1/programs/greedy", Body: `{"kind": "pyramid"}`}, 400, folio.EINVALID},
		{"unknown program field", req{Method: "PUT", Path: "/v1/programs/greedy", Body: `{"kind": "levels", "levels": ["0.1"], "cap": "5"}`}, 400, folio.EINVALID},
		{"bad program id", req{Method: "PUT", Path: "/v1/programs/Greedy!", Body: `{"kind": "levels", "levels": ["0.1"]}`}, 400, folio.EINVALID},
		{"bounty without currency", req{Method: "PUT", Path: "/v1/programs/greedy", Body: `{"kind": "bounty", "events": {"signup": ["1"]}}`}, 400, folio.EINVALID},
		{"bounty for an unknown event", req{Method: "PUT", Path: "/v1/programs/greedy", Body: `{"kind": "bounty", "currency": "USDT", "events": {"birthday": ["1"]}}`}, 400, folio.EINVALID},
		{"kind change of a used program", req{Method: "PUT", Path: "/v1/programs/broker", Body: `{"kind": "kickback", "rate": "0.2", "default": true}`}, 409, folio.ECONFLICT},
		{"bad payout schedule", req{Method: "PUT", Path: "/v1/programs/greedy", Body: `{"kind": "levels", "levels": ["0.1"], "payout": {"schedule": "hourly"}}`}, 400, folio.EINVALID},
		// Events.
		{"event of an unknown type", req{Method: "POST", Path: "/v1/users/carol/events", Body: map[string]any{"id": "ev-x", "type": "birthday"}}, 400, folio.EINVALID},
		{"signup event", req{Method: "POST", Path: "/v1/users/carol/events", Body: map[string]any{"id": "ev-x", "type": "signup"}}, 400, folio.EINVALID},
		{"reserved event id", req{Method: "POST", Path: "/v1/users/carol/events", Body: map[string]any{"id": "signup:carol", "type": "kyc_verified"}}, 400, folio.EINVALID},
		{"deposit without amount", req{Method: "POST", Path: "/v1/users/carol/events", Body: map[string]any{"id": "ev-x", "type": "deposit"}}, 400, folio.EINVALID},
		{"deposit amount as a number", req{Method: "POST", Path: "/v1/users/carol/events", Body: `{"id": "ev-x", "type": "deposit", "amount": 5, "currency": "USDT"}`}, 400, folio.EAMOUNT},
		{"deposit amount negative", req{Method: "POST", Path: "/v1/users/carol/events", Body: map[string]any{"id": "ev-x", "type": "deposit", "amount": "-5", "currency": "USDT"}}, 400, folio.EAMOUNT},
		{"deposit in an unknown currency", req{Method: "POST", Path: "/v1/users/carol/events", Body: map[string]any{"id": "ev-x", "type": "deposit", "amount": "5", "currency": "XYZ"}}, 400, folio.ECURRENCY},
		{"deposit too precise", req{Method: "POST", Path: "/v1/users/carol/events", Body: map[string]any{"id": "ev-x", "type": "deposit", "amount": "5.001", "currency": "USD"}}, 400, folio.EAMOUNT},
		{"event of an unknown user", req{Method: "POST", Path: "/v1/users/nobody/events", Body: map[string]any{"id": "ev-x", "type": "kyc_verified"}}, 404, folio.ENOTFOUND},
		{"event id reused with other content", req{Method: "POST", Path: "/v1/users/carol/events", Body: map[string]any{"id": "ev-1", "type": "first_trade"}}, 409, folio.EIDEMPOTENCY},
		// Trades.
		{"batch of 1001 trades", req{Method: "POST", Path: "/v1/trades", Body: tradesOf(1001)}, 400, folio.EINVALID},
		{"empty batch of trades", req{Method: "POST", Path: "/v1/trades", Body: `{"trades": []}`}, 400, folio.EINVALID},
		{"trades not an array", req{Method: "POST", Path: "/v1/trades", Body: `{"trades": {"id": "t"}}`}, 400, folio.EINVALID},
		{"trades body with an unknown field", req{Method: "POST", Path: "/v1/trades", Body: `{"trades": [], "atomic": true}`}, 400, folio.EINVALID},
		{"reverse an unknown trade", req{Method: "POST", Path: "/v1/trades/nope/reverse"}, 404, folio.ENOTFOUND},
		{"reverse a reversed trade", req{Method: "POST", Path: "/v1/trades/t-1/reverse"}, 409, folio.EREVERSED},
		{"reverse with a body field", req{Method: "POST", Path: "/v1/trades/t-1/reverse", Body: `{"reason": "bust"}`}, 400, folio.EINVALID},
		{"explain an unknown trade", req{Method: "GET", Path: "/v1/trades/nope"}, 404, folio.ENOTFOUND},
		// Reads.
		{"accruals bad source", req{Method: "GET", Path: "/v1/affiliates/bob/accruals?source=gift"}, 400, folio.EINVALID},
		{"accruals bad cursor", req{Method: "GET", Path: "/v1/affiliates/bob/accruals?cursor=" + encodeCursor("accruals", "x|y")}, 400, folio.EINVALID},
		{"accruals from after to", req{Method: "GET", Path: "/v1/affiliates/bob/accruals?from=2026-02-01&to=2026-01-01"}, 400, folio.EINVALID},
		{"accruals of an unknown affiliate", req{Method: "GET", Path: "/v1/affiliates/nobody/accruals"}, 404, folio.ENOTFOUND},
		{"referees bad cursor", req{Method: "GET", Path: "/v1/affiliates/bob/referees?cursor=" + encodeCursor("referees", "2026-01-01T00:00:00Z|a b")}, 400, folio.EINVALID},
		{"referees of an unknown affiliate", req{Method: "GET", Path: "/v1/affiliates/nobody/referees"}, 404, folio.ENOTFOUND},
		// FX rates and fees.
		{"fx rate of a currency to itself", req{Method: "PUT", Path: "/v1/rates/USDT/USDT", Body: map[string]any{"rate": "1"}}, 400, folio.EINVALID},
		{"fx rate zero", req{Method: "PUT", Path: "/v1/rates/USDT/USD", Body: map[string]any{"rate": "0"}}, 400, folio.EINVALID},
		{"fx rate as a number", req{Method: "PUT", Path: "/v1/rates/USDT/USD", Body: `{"rate": 1}`}, 400, folio.EINVALID},
		{"fx rate with a bad currency", req{Method: "PUT", Path: "/v1/rates/usdt/USD", Body: map[string]any{"rate": "1"}}, 400, folio.EINVALID},
		{"fx rate with a bad source", req{Method: "PUT", Path: "/v1/rates/USDT/USD", Body: map[string]any{"rate": "1", "source": "a b"}}, 400, folio.EINVALID},
		{"fee rate above 1", req{Method: "PUT", Path: "/v1/fee-schedule", Body: map[string]any{"maker": "1.5", "taker": "0.1"}}, 400, folio.EINVALID},
		{"fee rate missing", req{Method: "PUT", Path: "/v1/fee-schedule", Body: map[string]any{"maker": "0.001"}}, 400, folio.EINVALID},
		{"fee schedule bad group", req{Method: "PUT", Path: "/v1/fee-schedule", Body: map[string]any{"group": "v i p", "maker": "0.001", "taker": "0.001"}}, 400, folio.EINVALID},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := e.snapshot() + "\n" + e.affiliateSnapshot()
			q := c.q
			q.Key = bootstrapKey
			res := e.do(q)
			if res.Status != c.status {
				t.Errorf("%s %s = %d, want %d\n%s", q.Method, q.Path, res.Status, c.status, truncate(string(res.Body), 500))
			}
			if code := problemCode(t, res); code != c.code {
				t.Errorf("code = %q, want %q\n%s", code, c.code, truncate(string(res.Body), 500))
			}
			if after := e.snapshot() + "\n" + e.affiliateSnapshot(); after != before {
				t.Errorf("the request changed the database:\nbefore %s\nafter  %s", before, after)
			}
		})
	}
}
