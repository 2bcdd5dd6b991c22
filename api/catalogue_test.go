package api

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/folioledger/folio"
)

// TestBadInputCatalogue sends requests that must be refused with a clear
// 4xx problem (SPEC §9) and checks, after each, that nothing was written:
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
