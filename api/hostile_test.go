package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/folioledger/folio"
	"github.com/folioledger/folio/keys"
)

// TestHostileCatalogue is a second catalogue of requests a hostile or
// careless client sends (issue 12, item 8), beyond TestBadInputCatalogue
// and TestAffiliateBadInputCatalogue: engine-owned kinds and entries, bad
// bytes, duplicate keys, impossible times, other people's keys and ids,
// roles, and query parameters. Each case states the status and the error
// code it must get (for a trade batch, which answers 200 with a result per
// trade, the code of the trade's result), and after each the books must be
// unchanged: verify passes, the trial balance is the same, the balances of
// the accounts the scenario touches are the same, and no journal,
// configuration or affiliate row was written.
func TestHostileCatalogue(t *testing.T) {
	e := newEnv(t)
	e.currencies()
	e.putProgram("broker", map[string]any{"kind": "levels", "levels": []string{"0.25", "0.10", "0.05"}, "default": true})
	e.tree("alice>", "alice>bob", "bob>carol")
	booked := e.book(trade("t-1", "carol", "10"))[0]
	manual := e.post(entryBody("h-manual", posting("110:USD", "debit", "10"), posting("201:USD:alice", "credit", "10")))["id"].(string)
	commission := booked.CommissionEntryID
	fee := booked.FeeEntryID
	var builder, child struct{ ID, Key string }
	e.must(http.StatusCreated, req{Method: "POST", Path: "/v1/keys", Key: bootstrapKey, Body: map[string]any{"role": "admin", "person": "Builder"}}).Decode(t, &builder)
	e.must(http.StatusCreated, req{Method: "POST", Path: "/v1/keys", Key: builder.Key, Body: map[string]any{"role": "admin", "person": "Someone else"}}).Decode(t, &child)
	var batch struct{ ID string }
	e.must(http.StatusCreated, req{Method: "POST", Path: "/v1/payouts/batches", Key: builder.Key}).Decode(t, &batch)
	poster := e.key(keys.RolePoster, "")
	auditor := e.key(keys.RoleAuditor, "")
	bobKey := e.key(keys.RoleAffiliate, "bob")

	good := func(key string) map[string]any {
		return entryBody(key, posting("110:USD", "debit", "1"), posting("201:USD:alice", "credit", "1"))
	}
	with := func(field string, value any) map[string]any {
		b := good("h-key")
		b[field] = value
		return b
	}
	tradeWith := func(field string, value any) map[string]any {
		tr := trade("h-t", "carol", "1")
		tr[field] = value
		return map[string]any{"trades": []any{tr}}
	}
	rawTrade := func(tr string) string { return `{"trades":[` + tr + `]}` }
	const validTrade = `"user_id":"carol","market":"BTCUSDT","liquidity":"taker","fee":{"amount":"1","currency":"USDT"},"executed_at":"2026-01-10T11:00:00Z"`

	type hcase struct {
		name   string
		q      req
		key    string // the caller's key; the bootstrap admin key when empty
		status int
		code   string
		item   bool // the code is the first trade result's, under a 200
	}
	cases := []hcase{
		// Entries: amounts in forms a decimal parser might take.
		{"amount NaN", req{Method: "POST", Path: "/v1/entries", Body: entryBody("h-k", posting("110:USD", "debit", "NaN"), posting("201:USD:alice", "credit", "NaN"))}, "", 400, folio.EAMOUNT, false},
		{"amount Infinity", req{Method: "POST", Path: "/v1/entries", Body: entryBody("h-k", posting("110:USD", "debit", "Infinity"), posting("201:USD:alice", "credit", "Infinity"))}, "", 400, folio.EAMOUNT, false},
		{"amount with a plus sign", req{Method: "POST", Path: "/v1/entries", Body: entryBody("h-k", posting("110:USD", "debit", "+1"), posting("201:USD:alice", "credit", "+1"))}, "", 400, folio.EAMOUNT, false},
		{"amount with spaces", req{Method: "POST", Path: "/v1/entries", Body: entryBody("h-k", posting("110:USD", "debit", " 1"), posting("201:USD:alice", "credit", " 1"))}, "", 400, folio.EAMOUNT, false},
		{"amount in hex", req{Method: "POST", Path: "/v1/entries", Body: entryBody("h-k", posting("110:USD", "debit", "0x10"), posting("201:USD:alice", "credit", "0x10"))}, "", 400, folio.EAMOUNT, false},
		{"amount with Arabic-Indic digits", req{Method: "POST", Path: "/v1/entries", Body: entryBody("h-k", posting("110:USD", "debit", "١"), posting("201:USD:alice", "credit", "١"))}, "", 400, folio.EAMOUNT, false},
		{"amount negative zero", req{Method: "POST", Path: "/v1/entries", Body: entryBody("h-k", posting("110:USD", "debit", "-0"), posting("201:USD:alice", "credit", "-0"))}, "", 400, folio.EAMOUNT, false},
		{"amount with a thousands separator", req{Method: "POST", Path: "/v1/entries", Body: entryBody("h-k", posting("110:USD", "debit", "1,000"), posting("201:USD:alice", "credit", "1,000"))}, "", 400, folio.EAMOUNT, false},
		{"amount empty", req{Method: "POST", Path: "/v1/entries", Body: entryBody("h-k", posting("110:USD", "debit", ""), posting("201:USD:alice", "credit", ""))}, "", 400, folio.EAMOUNT, false},
		{"amount null", req{Method: "POST", Path: "/v1/entries", Body: `{"idempotency_key":"h-k","postings":[{"account":"110:USD","side":"debit","amount":null},{"account":"201:USD:alice","side":"credit","amount":"1"}]}`}, "", 400, folio.EAMOUNT, false},
		// Entries: accounts and keys.
		{"account with a path", req{Method: "POST", Path: "/v1/entries", Body: entryBody("h-k", posting("110:USD", "debit", "1"), posting("201:USD:../alice", "credit", "1"))}, "", 400, folio.EACCOUNT, false},
		{"account with SQL", req{Method: "POST", Path: "/v1/entries", Body: entryBody("h-k", posting("110:USD", "debit", "1"), posting("201:USD:a';DROP TABLE entries;--", "credit", "1"))}, "", 400, folio.EACCOUNT, false},
		{"account lower-case currency", req{Method: "POST", Path: "/v1/entries", Body: entryBody("h-k", posting("110:usd", "debit", "1"), posting("201:usd:alice", "credit", "1"))}, "", 400, folio.ECURRENCY, false},
		{"two currencies each unbalanced", req{Method: "POST", Path: "/v1/entries", Body: entryBody("h-k", posting("110:USD", "debit", "1"), posting("201:USDT:alice", "credit", "1"))}, "", 400, folio.EUNBALANCED, false},
		{"idempotency key of 1000 bytes", req{Method: "POST", Path: "/v1/entries", Body: good(strings.Repeat("k", 1000))}, "", 400, folio.EINVALID, false},
		{"reserved key prefix in the header", req{Method: "POST", Path: "/v1/entries", Body: good(""), Header: map[string]string{"Idempotency-Key": "trade:t-9"}}, "", 400, folio.EINVALID, false},
		{"upper-case kind", req{Method: "POST", Path: "/v1/entries", Body: with("kind", "Manual")}, "", 400, folio.EINVALID, false},
		{"kind of 33 characters", req{Method: "POST", Path: "/v1/entries", Body: with("kind", strings.Repeat("k", 33))}, "", 400, folio.EINVALID, false},
		{"metadata a string", req{Method: "POST", Path: "/v1/entries", Body: with("metadata", "note")}, "", 400, folio.EINVALID, false},
		{"postings null", req{Method: "POST", Path: "/v1/entries", Body: `{"idempotency_key":"h-k","postings":null}`}, "", 400, folio.EUNBALANCED, false},
		{"pending with expiry in the past", req{Method: "POST", Path: "/v1/entries", Body: map[string]any{"idempotency_key": "h-k", "pending": true, "expires_at": "2020-01-01T00:00:00Z",
			"postings": []any{posting("110:USD", "debit", "1"), posting("201:USD:alice", "credit", "1")}}}, "", 400, folio.EINVALID, false},
		{"batch atomic as a string", req{Method: "POST", Path: "/v1/entries/batch", Body: `{"atomic":"yes","entries":[]}`}, "", 400, folio.EINVALID, false},
		{"batch entries null", req{Method: "POST", Path: "/v1/entries/batch", Body: `{"entries":null}`}, "", 400, folio.EINVALID, false},
		// Roles and other people's data.
		{"no key", req{Method: "GET", Path: "/v1/entries"}, "-", 401, folio.EUNAUTHORIZED, false},
		{"a made-up key", req{Method: "GET", Path: "/v1/entries"}, "folio_" + strings.Repeat("a", 52), 401, folio.EUNAUTHORIZED, false},
		{"poster writes a manual entry", req{Method: "POST", Path: "/v1/entries", Body: good("h-poster")}, poster, 403, folio.EFORBIDDEN, false},
		{"auditor reverses an entry", req{Method: "POST", Path: "/v1/entries/" + manual + "/reverse"}, auditor, 403, folio.EFORBIDDEN, false},
		{"auditor mints a key", req{Method: "POST", Path: "/v1/keys", Body: map[string]any{"role": "admin"}}, auditor, 403, folio.EFORBIDDEN, false},
		{"poster builds a payout batch", req{Method: "POST", Path: "/v1/payouts/batches"}, poster, 403, folio.EFORBIDDEN, false},
		{"affiliate reads another's statement", req{Method: "GET", Path: "/v1/accounts/208:USDT:alice/statement"}, bobKey, 403, folio.EFORBIDDEN, false},
		{"affiliate reads another's balance", req{Method: "GET", Path: "/v1/accounts/208:USDT:alice/balance"}, bobKey, 403, folio.EFORBIDDEN, false},
		{"affiliate reads another's referrals", req{Method: "GET", Path: "/v1/affiliates/alice/referrals"}, bobKey, 403, folio.EFORBIDDEN, false},
		{"affiliate reads another's accruals", req{Method: "GET", Path: "/v1/affiliates/alice/accruals"}, bobKey, 403, folio.EFORBIDDEN, false},
		{"affiliate reads another's chain", req{Method: "GET", Path: "/v1/users/carol/chain"}, bobKey, 403, folio.EFORBIDDEN, false},
		{"affiliate reads the journal", req{Method: "GET", Path: "/v1/entries"}, bobKey, 403, folio.EFORBIDDEN, false},
		{"affiliate posts a trade", req{Method: "POST", Path: "/v1/trades", Body: rawTrade(`{"id":"h-aff",` + validTrade + `}`)}, bobKey, 403, folio.EFORBIDDEN, false},
		{"affiliate mints a code for another", req{Method: "POST", Path: "/v1/affiliates/carol/codes", Body: `{}`}, bobKey, 403, folio.EFORBIDDEN, false},
		{"affiliate edits another's code", req{Method: "PATCH", Path: "/v1/affiliates/carol/codes/CAROLX", Body: `{"note": "x"}`}, bobKey, 403, folio.EFORBIDDEN, false},
		// Trades (per-trade results).
		{"trade fee NaN", req{Method: "POST", Path: "/v1/trades", Body: rawTrade(`{"id":"h-t","user_id":"carol","market":"BTCUSDT","liquidity":"taker","fee":{"amount":"NaN","currency":"USDT"}}`)}, "", 200, folio.EINVALID, true},
		{"trade fee negative", req{Method: "POST", Path: "/v1/trades", Body: rawTrade(`{"id":"h-t","user_id":"carol","market":"BTCUSDT","liquidity":"taker","fee":{"amount":"-1","currency":"USDT"}}`)}, "", 200, folio.EINVALID, true},
		{"trade fee too precise", req{Method: "POST", Path: "/v1/trades", Body: rawTrade(`{"id":"h-t","user_id":"carol","market":"BTCUSDT","liquidity":"taker","fee":{"amount":"0.0000001","currency":"USDT"}}`)}, "", 200, folio.EINVALID, true},
		{"trade fee in an unknown currency", req{Method: "POST", Path: "/v1/trades", Body: rawTrade(`{"id":"h-t","user_id":"carol","market":"BTCUSDT","liquidity":"taker","fee":{"amount":"1","currency":"XYZ"}}`)}, "", 200, folio.EINVALID, true},
		{"trade without fee", req{Method: "POST", Path: "/v1/trades", Body: rawTrade(`{"id":"h-t","user_id":"carol","market":"BTCUSDT","liquidity":"taker"}`)}, "", 200, folio.EINVALID, true},
		{"trade of an unknown user", req{Method: "POST", Path: "/v1/trades", Body: tradeWith("user_id", "nobody")}, "", 200, folio.ENOTFOUND, true},
		{"trade with a bad liquidity", req{Method: "POST", Path: "/v1/trades", Body: tradeWith("liquidity", "both")}, "", 200, folio.EINVALID, true},
		{"trade with a market of spaces", req{Method: "POST", Path: "/v1/trades", Body: tradeWith("market", "BTC USDT")}, "", 200, folio.EINVALID, true},
		{"trade id with a space", req{Method: "POST", Path: "/v1/trades", Body: tradeWith("id", "h t")}, "", 200, folio.EINVALID, true},
		{"trade id reused with another fee", req{Method: "POST", Path: "/v1/trades", Body: rawTrade(`{"id":"t-1","user_id":"carol","market":"BTCUSDT","liquidity":"taker","fee":{"amount":"11","currency":"USDT"},"executed_at":"2026-01-10T11:00:00Z"}`)}, "", 200, folio.EIDEMPOTENCY, true},
		{"trade with a bad executed_at", req{Method: "POST", Path: "/v1/trades", Body: tradeWith("executed_at", "now")}, "", 200, folio.EINVALID, true},
		{"trade fee as a number", req{Method: "POST", Path: "/v1/trades", Body: rawTrade(`{"id":"h-t","user_id":"carol","market":"BTCUSDT","liquidity":"taker","fee":{"amount":1,"currency":"USDT"}}`)}, "", 200, folio.EAMOUNT, true},
		// Users.
		{"signup id of 65 characters", req{Method: "POST", Path: "/v1/users", Body: map[string]any{"id": strings.Repeat("u", 65)}}, "", 400, folio.EINVALID, false},
		{"signup id with a slash", req{Method: "POST", Path: "/v1/users", Body: map[string]any{"id": "a/b"}}, "", 400, folio.EINVALID, false},
		{"signup code lower-case of nobody", req{Method: "POST", Path: "/v1/users", Body: map[string]any{"id": "newbie", "referral_code": "zzzzzz"}}, "", 400, folio.EINVALID, false},
		{"signup country lower-case", req{Method: "POST", Path: "/v1/users", Body: map[string]any{"id": "newbie", "country": "de"}}, "", 400, folio.EINVALID, false},
		{"signup body an array", req{Method: "POST", Path: "/v1/users", Body: `[{"id":"newbie"}]`}, "", 400, folio.EINVALID, false},
		{"user path with an encoded slash", req{Method: "GET", Path: "/v1/users/a%2Fb"}, "", 400, folio.EINVALID, false},
		// Programs.
		{"levels negative", req{Method: "PUT", Path: "/v1/programs/hostile", Body: `{"kind": "levels", "levels": ["-0.1"]}`}, "", 400, folio.EINVALID, false},
		{"levels empty", req{Method: "PUT", Path: "/v1/programs/hostile", Body: `{"kind": "levels", "levels": []}`}, "", 400, folio.EINVALID, false},
		{"levels NaN", req{Method: "PUT", Path: "/v1/programs/hostile", Body: `{"kind": "levels", "levels": ["NaN"]}`}, "", 400, folio.EINVALID, false},
		{"program id of 100 characters", req{Method: "PUT", Path: "/v1/programs/" + strings.Repeat("p", 100), Body: `{"kind": "levels", "levels": ["0.1"]}`}, "", 400, folio.EINVALID, false},
		{"program body null", req{Method: "PUT", Path: "/v1/programs/hostile", Body: `null`}, "", 400, folio.EINVALID, false},
		// Payouts.
		{"approve a batch id with SQL", req{Method: "POST", Path: "/v1/payouts/batches/pb_'%20OR%201=1/approve"}, "", 400, folio.EINVALID, false},
		{"execute an unknown batch", req{Method: "POST", Path: "/v1/payouts/batches/pb_" + strings.Repeat("0", 32) + "/execute"}, "", 404, folio.ENOTFOUND, false},
		{"payout build with a null body field", req{Method: "POST", Path: "/v1/payouts/batches", Body: `{"cutoff": 5}`}, "", 400, folio.EINVALID, false},
		// Keys.
		{"key role upper-case", req{Method: "POST", Path: "/v1/keys", Body: map[string]any{"role": "ADMIN"}}, "", 400, folio.EINVALID, false},
		{"key note too long", req{Method: "POST", Path: "/v1/keys", Body: map[string]any{"role": "auditor", "note": strings.Repeat("n", 201)}}, "", 400, folio.EINVALID, false},
		{"key with an unknown field", req{Method: "POST", Path: "/v1/keys", Body: map[string]any{"role": "auditor", "secret": "mine"}}, "", 400, folio.EINVALID, false},
		// Engine-owned kinds and entries (issue 12, items 1 and 2).
		{"manual payout entry", req{Method: "POST", Path: "/v1/entries", Body: with("kind", "payout")}, "", 400, folio.EINVALID, false},
		{"manual trade_fee entry", req{Method: "POST", Path: "/v1/entries", Body: with("kind", "trade_fee")}, "", 400, folio.EINVALID, false},
		{"manual commission entry", req{Method: "POST", Path: "/v1/entries", Body: with("kind", "commission")}, "", 400, folio.EINVALID, false},
		{"manual bounty entry", req{Method: "POST", Path: "/v1/entries", Body: with("kind", "bounty")}, "", 400, folio.EINVALID, false},
		{"manual forfeit entry", req{Method: "POST", Path: "/v1/entries", Body: with("kind", "forfeit")}, "", 400, folio.EINVALID, false},
		{"atomic batch with a commission entry", req{Method: "POST", Path: "/v1/entries/batch", Body: map[string]any{"atomic": true, "entries": []any{
			good("h-atomic-1"), map[string]any{"idempotency_key": "h-atomic-2", "kind": "commission", "postings": []any{posting("110:USD", "debit", "1"), posting("201:USD:alice", "credit", "1")}}}}}, "", 400, folio.EINVALID, false},
		{"reverse a trade's fee entry alone", req{Method: "POST", Path: "/v1/entries/" + fee + "/reverse"}, "", 409, folio.ECONFLICT, false},
		{"reverse a trade's commission entry alone", req{Method: "POST", Path: "/v1/entries/" + commission + "/reverse"}, "", 409, folio.ECONFLICT, false},
		{"post a trade's fee entry", req{Method: "POST", Path: "/v1/entries/" + fee + "/post"}, "", 409, folio.ECONFLICT, false},
		{"void a trade's commission entry", req{Method: "POST", Path: "/v1/entries/" + commission + "/void"}, "", 409, folio.ECONFLICT, false},
		// Four-eyes by person (item 3).
		{"approve with a key the builder minted", req{Method: "POST", Path: "/v1/payouts/batches/" + batch.ID + "/approve"}, child.Key, 403, folio.EFORBIDDEN, false},
		{"approve with the builder's key", req{Method: "POST", Path: "/v1/payouts/batches/" + batch.ID + "/approve"}, builder.Key, 403, folio.EFORBIDDEN, false},
		{"execute before approval", req{Method: "POST", Path: "/v1/payouts/batches/" + batch.ID + "/execute"}, child.Key, 409, folio.ECONFLICT, false},
		{"affiliate key of nobody", req{Method: "POST", Path: "/v1/keys", Body: map[string]any{"role": "affiliate", "holder": "nobody"}}, "", 400, folio.EINVALID, false},
		{"key person with a NUL", req{Method: "POST", Path: "/v1/keys", Body: map[string]any{"role": "admin", "person": "Ann\u0000"}}, "", 400, folio.EINVALID, false},
		// Bytes and values (item 6).
		{"description with a NUL", req{Method: "POST", Path: "/v1/entries", Body: `{"idempotency_key":"h-k","description":"a\u0000b","postings":[{"account":"110:USD","side":"debit","amount":"1"},{"account":"201:USD:alice","side":"credit","amount":"1"}]}`}, "", 400, folio.EINVALID, false},
		{"description of invalid UTF-8", req{Method: "POST", Path: "/v1/entries", Body: "{\"idempotency_key\":\"h-k\",\"description\":\"\xff\xfe\",\"postings\":[{\"account\":\"110:USD\",\"side\":\"debit\",\"amount\":\"1\"},{\"account\":\"201:USD:alice\",\"side\":\"credit\",\"amount\":\"1\"}]}"}, "", 400, folio.EINVALID, false},
		{"amount given twice", req{Method: "POST", Path: "/v1/entries", Body: `{"idempotency_key":"h-k","postings":[{"account":"110:USD","side":"debit","amount":"1","amount":"2"},{"account":"201:USD:alice","side":"credit","amount":"2"}]}`}, "", 400, folio.EINVALID, false},
		{"metadata key given twice", req{Method: "POST", Path: "/v1/entries", Body: `{"idempotency_key":"h-k","metadata":{"a":{"b":1,"b":2}},"postings":[{"account":"110:USD","side":"debit","amount":"1"},{"account":"201:USD:alice","side":"credit","amount":"1"}]}`}, "", 400, folio.EINVALID, false},
		{"trade user_id given twice", req{Method: "POST", Path: "/v1/trades", Body: rawTrade(`{"id":"h-t","user_id":"alice",` + validTrade + `}`)}, "", 400, folio.EINVALID, false},
		{"effective_at of year 1", req{Method: "POST", Path: "/v1/entries", Body: with("effective_at", "0001-01-01T00:00:00Z")}, "", 400, folio.EINVALID, false},
		{"parent_id of no entry", req{Method: "POST", Path: "/v1/entries", Body: with("parent_id", "00000000-0000-4000-8000-000000000001")}, "", 400, folio.EINVALID, false},
		{"trade executed in year 1", req{Method: "POST", Path: "/v1/trades", Body: tradeWith("executed_at", "0001-01-01T00:00:00Z")}, "", 200, folio.EINVALID, true},
		{"signup_ip with a NUL", req{Method: "POST", Path: "/v1/users", Body: map[string]any{"id": "newbie", "signup_ip": "1.2.3.4\u0000"}}, "", 400, folio.EINVALID, false},
		{"signup registered in 2999", req{Method: "POST", Path: "/v1/users", Body: map[string]any{"id": "newbie", "registered_at": "2999-01-01T00:00:00Z"}}, "", 400, folio.EINVALID, false},
		{"bounty in an unknown currency", req{Method: "PUT", Path: "/v1/programs/hostile", Body: `{"kind": "bounty", "currency": "NOPE", "events": {"signup": ["1"]}}`}, "", 400, folio.ECURRENCY, false},
		{"bounty reward too precise", req{Method: "PUT", Path: "/v1/programs/hostile", Body: `{"kind": "bounty", "currency": "USD", "events": {"signup": ["1.005"]}}`}, "", 400, folio.EAMOUNT, false},
		{"statement to year 1", req{Method: "GET", Path: "/v1/accounts/201:USD:alice/statement?to=0001-01-01T00:00:00Z"}, "", 400, folio.EINVALID, false},
		{"stats from year 1", req{Method: "GET", Path: "/v1/affiliates/alice/stats?from=0001-01-01T00:00:00Z"}, "", 400, folio.EINVALID, false},
		{"audit log filter with a NUL", req{Method: "GET", Path: "/v1/audit/log?object=user:%00"}, "", 400, folio.EINVALID, false},
		{"audit log filter of invalid UTF-8", req{Method: "GET", Path: "/v1/audit/log?object=%FF"}, "", 400, folio.EINVALID, false},
		// Query parameters.
		{"limit negative", req{Method: "GET", Path: "/v1/entries?limit=-1"}, "", 400, folio.EINVALID, false},
		{"limit in exponent form", req{Method: "GET", Path: "/v1/entries?limit=1e2"}, "", 400, folio.EINVALID, false},
		{"limit with a NUL", req{Method: "GET", Path: "/v1/entries?limit=1%00"}, "", 400, folio.EINVALID, false},
		{"cursor with a NUL", req{Method: "GET", Path: "/v1/entries?cursor=%00"}, "", 400, folio.EINVALID, false},
		{"entries from not a time", req{Method: "GET", Path: "/v1/entries?from=1'%20OR%20'1'='1"}, "", 400, folio.EINVALID, false},
		{"statement of an unknown code", req{Method: "GET", Path: "/v1/accounts/999:USDT/statement"}, "", 400, folio.EACCOUNT, false},
		{"balance as_of_seq not a number", req{Method: "GET", Path: "/v1/accounts/110:USD/balance?as_of_seq=1.5"}, "", 400, folio.EINVALID, false},
		{"trial balance as_of not a time", req{Method: "GET", Path: "/v1/reports/trial-balance?as_of=tomorrow"}, "", 400, folio.EINVALID, false},
		{"reconciliation from not a time", req{Method: "GET", Path: "/v1/reports/reconciliation?from=March"}, "", 400, folio.EINVALID, false},
		{"stats group_by unknown", req{Method: "GET", Path: "/v1/affiliates/alice/stats?group_by=password"}, "", 400, folio.EINVALID, false},
		{"accruals limit too large", req{Method: "GET", Path: "/v1/affiliates/alice/accruals?limit=100000"}, "", 400, folio.EINVALID, false},
		{"audit log filter too long", req{Method: "GET", Path: "/v1/audit/log?object=" + strings.Repeat("o", 201)}, "", 400, folio.EINVALID, false},
		// Query parameters a route does not take, or takes once (issue 15, item 4):
		// a filter that does nothing is refused rather than ignored.
		{"referrals filtered by a tier (no such filter)", req{Method: "GET", Path: "/v1/affiliates/alice/referrals?tier=1"}, "", 400, folio.EINVALID, false},
		{"referrals sorted by a typo", req{Method: "GET", Path: "/v1/affiliates/bob/referrals?sort=commission"}, bobKey, 400, folio.EINVALID, false},
		// The referral list's filters (issue 15, item 4).
		{"referrals country not ISO", req{Method: "GET", Path: "/v1/affiliates/alice/referrals?country=Germany"}, "", 400, folio.EINVALID, false},
		{"referrals country lower case", req{Method: "GET", Path: "/v1/affiliates/alice/referrals?country=de"}, "", 400, folio.EINVALID, false},
		{"referrals level 0", req{Method: "GET", Path: "/v1/affiliates/alice/referrals?level=0"}, "", 400, folio.EINVALID, false},
		{"referrals level 16", req{Method: "GET", Path: "/v1/affiliates/alice/referrals?level=16"}, "", 400, folio.EINVALID, false},
		{"referrals level words", req{Method: "GET", Path: "/v1/affiliates/alice/referrals?level=deep"}, "", 400, folio.EINVALID, false},
		{"referrals order unknown", req{Method: "GET", Path: "/v1/affiliates/alice/referrals?order=fees"}, "", 400, folio.EINVALID, false},
		{"referrals milestone unknown", req{Method: "GET", Path: "/v1/affiliates/alice/referrals?milestone=signup"}, "", 400, folio.EINVALID, false},
		{"referrals milestone range without milestone", req{Method: "GET", Path: "/v1/affiliates/alice/referrals?milestone_from=2026-01-01T00:00:00Z"}, "", 400, folio.EINVALID, false},
		{"referrals registered range reversed", req{Method: "GET", Path: "/v1/affiliates/alice/referrals?registered_from=2026-02-01T00:00:00Z&registered_to=2026-01-01T00:00:00Z"}, "", 400, folio.EINVALID, false},
		{"referrals registered_from not a time", req{Method: "GET", Path: "/v1/affiliates/alice/referrals?registered_from=yesterday"}, "", 400, folio.EINVALID, false},
		{"referrals q too long", req{Method: "GET", Path: "/v1/affiliates/alice/referrals?q=" + strings.Repeat("q", 65)}, "", 400, folio.EINVALID, false},
		{"referrals q with a line feed", req{Method: "GET", Path: "/v1/affiliates/alice/referrals?q=a%0Ab"}, "", 400, folio.EINVALID, false},
		{"referrals code with a quote", req{Method: "GET", Path: "/v1/affiliates/alice/referrals?code=AB'C"}, "", 400, folio.EINVALID, false},
		{"referrals cursor of another order", req{Method: "GET", Path: "/v1/affiliates/alice/referrals?order=volume&cursor=" + encodeCursor("referrals", "commission|1|2026-01-01T00:00:00Z|1")}, "", 400, folio.EINVALID, false},
		{"referrals cursor count 0", req{Method: "GET", Path: "/v1/affiliates/alice/referrals?cursor=" + encodeCursor("referrals", "registered_at|2026-01-01T00:00:00Z|2026-01-01T00:00:00Z|0")}, "", 400, folio.EINVALID, false},
		{"top referrals limit 0", req{Method: "GET", Path: "/v1/affiliates/alice/referrals/top?limit=0"}, "", 400, folio.EINVALID, false},
		{"top referrals reversed period", req{Method: "GET", Path: "/v1/affiliates/alice/referrals/top?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z"}, "", 400, folio.EINVALID, false},
		{"top referrals with an order", req{Method: "GET", Path: "/v1/affiliates/alice/referrals/top?order=volume"}, "", 400, folio.EINVALID, false},
		{"top referrals of another", req{Method: "GET", Path: "/v1/affiliates/alice/referrals/top"}, bobKey, 403, folio.EFORBIDDEN, false},
		// Self-service writes (issue 15, item 1).
		{"code patch not JSON", req{Method: "PATCH", Path: "/v1/affiliates/bob/codes/ZZZZZZ", Body: `rate=0.1`}, bobKey, 400, folio.EINVALID, false},
		{"code patch rate a number", req{Method: "PATCH", Path: "/v1/affiliates/bob/codes/ZZZZZZ", Body: `{"rate": 0.1}`}, bobKey, 400, folio.EINVALID, false},
		{"code patch rate too precise", req{Method: "PATCH", Path: "/v1/affiliates/bob/codes/ZZZZZZ", Body: `{"rate": "0.1000000000000000001"}`}, bobKey, 400, folio.EINVALID, false},
		{"code patch disabled a string", req{Method: "PATCH", Path: "/v1/affiliates/bob/codes/ZZZZZZ", Body: `{"disabled": "yes"}`}, bobKey, 400, folio.EINVALID, false},
		{"code patch note too long", req{Method: "PATCH", Path: "/v1/affiliates/bob/codes/ZZZZZZ", Body: `{"note": "` + strings.Repeat("n", 201) + `"}`}, bobKey, 400, folio.EINVALID, false},
		{"code patch note NUL", req{Method: "PATCH", Path: "/v1/affiliates/bob/codes/ZZZZZZ", Body: `{"note": "a\u0000b"}`}, bobKey, 400, folio.EINVALID, false},
		{"code patch code path too long", req{Method: "PATCH", Path: "/v1/affiliates/bob/codes/" + strings.Repeat("Z", 70), Body: `{"note": "x"}`}, bobKey, 400, folio.EINVALID, false},
		{"code patch unknown code", req{Method: "PATCH", Path: "/v1/affiliates/bob/codes/ZZZZZZ", Body: `{"note": "x"}`}, bobKey, 404, folio.ENOTFOUND, false},
		{"referral note missing", req{Method: "PUT", Path: "/v1/affiliates/bob/referrals/carol/note", Body: `{}`}, bobKey, 400, folio.EINVALID, false},
		{"referral note a number", req{Method: "PUT", Path: "/v1/affiliates/bob/referrals/carol/note", Body: `{"note": 7}`}, bobKey, 400, folio.EINVALID, false},
		{"referral note bad referee", req{Method: "PUT", Path: "/v1/affiliates/bob/referrals/a%20b/note", Body: `{"note": "x"}`}, bobKey, 400, folio.EINVALID, false},
		{"referee rate by an affiliate, empty", req{Method: "PUT", Path: "/v1/users/carol/rate", Body: `{}`}, bobKey, 400, folio.EINVALID, false},
		{"referee rate by an affiliate, negative", req{Method: "PUT", Path: "/v1/users/carol/rate", Body: `{"rate": "-0.1"}`}, bobKey, 400, folio.EINVALID, false},
		{"entries with a misspelt filter", req{Method: "GET", Path: "/v1/entries?acount=110:USD"}, auditor, 400, folio.EINVALID, false},
		{"statement filtered by kind", req{Method: "GET", Path: "/v1/accounts/110:USD/statement?kind=manual"}, "", 400, folio.EINVALID, false},
		{"limit given twice", req{Method: "GET", Path: "/v1/entries?limit=1&limit=2"}, "", 400, folio.EINVALID, false},
		{"format given twice", req{Method: "GET", Path: "/v1/affiliates/bob/referrals?format=csv&format=json"}, bobKey, 400, folio.EINVALID, false},
		{"query string that does not parse", req{Method: "GET", Path: "/v1/entries?limit=%zz"}, "", 400, folio.EINVALID, false},
		{"payout batch with a dry_run flag", req{Method: "POST", Path: "/v1/payouts/batches?dry_run=true"}, "", 400, folio.EINVALID, false},
		{"key revoked with a force flag", req{Method: "DELETE", Path: "/v1/keys/" + child.ID + "?force=1"}, "", 400, folio.EINVALID, false},
		{"trade booked with a query flag", req{Method: "POST", Path: "/v1/trades?async=1", Body: map[string]any{"trades": []any{trade("h-q", "carol", "1")}}}, poster, 400, folio.EINVALID, false},
	}
	_ = booked
	if len(cases) < 60 {
		t.Fatalf("the catalogue has %d cases, want at least 60", len(cases))
	}
	accountsInvolved := []string{"101:USDT", "605:USDT", "208:USDT:alice", "208:USDT:bob", "110:USD", "201:USD:alice"}
	books := func() string {
		var v struct {
			OK bool `json:"ok"`
		}
		e.must(http.StatusOK, req{Method: "GET", Path: "/v1/audit/verify", Key: auditor}).Decode(t, &v)
		if !v.OK {
			t.Fatalf("verify fails")
		}
		parts := []string{string(e.must(http.StatusOK, req{Method: "GET", Path: "/v1/reports/trial-balance", Key: auditor}).Body)}
		for _, a := range accountsInvolved {
			parts = append(parts, a+"="+e.balance(a))
		}
		return strings.Join(parts, "\n") + "\n" + e.snapshot() + "\n" + e.affiliateSnapshot()
	}
	seen := map[string]bool{}
	for _, c := range cases {
		if seen[c.name] {
			t.Fatalf("two cases are named %q", c.name)
		}
		seen[c.name] = true
		t.Run(c.name, func(t *testing.T) {
			before := books()
			q := c.q
			switch c.key {
			case "":
				q.Key = bootstrapKey
			case "-":
			default:
				q.Key = c.key
			}
			res := e.do(q)
			if res.Status != c.status {
				t.Errorf("%s %s = %d, want %d\n%s", q.Method, q.Path, res.Status, c.status, truncate(string(res.Body), 500))
			}
			if got := hostileCode(t, res, c.item); got != c.code {
				t.Errorf("code = %q, want %q\n%s", got, c.code, truncate(string(res.Body), 500))
			}
			if after := books(); after != before {
				t.Errorf("the request changed the books:\nbefore %s\nafter  %s", before, after)
			}
		})
	}
}

// hostileCode returns a problem's code, or with item the code of the first
// trade result's error ("" when the trade was booked).
func hostileCode(t *testing.T, res *response, item bool) string {
	t.Helper()
	if !item {
		return problemCode(t, res)
	}
	var out struct {
		Results []tradeResultJSON `json:"results"`
	}
	if err := json.Unmarshal(res.Body, &out); err != nil || len(out.Results) != 1 {
		return fmt.Sprintf("not one trade result (%v)", err)
	}
	if out.Results[0].Error == nil {
		return ""
	}
	return out.Results[0].Error.Code
}
