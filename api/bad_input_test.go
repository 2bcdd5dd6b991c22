package api

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/folioledger/folio"
)

// TestBadBytesAndValues (issue 12, item 6): bytes and values that used to
// be stored silently (U+FFFD for invalid UTF-8, the last of two equal
// keys, "now" for the zero time, a dangling parent, a bounty that rounds)
// or to fail with 500 (NUL, which PostgreSQL refuses) are 400 problems with
// a stable code naming the field, and leave the journal, the configuration
// and every affiliate table unchanged.
func TestBadBytesAndValues(t *testing.T) {
	e := newEnv(t)
	e.currencies()
	admin := bootstrapKey
	e.must(http.StatusCreated, req{Method: "PUT", Path: "/v1/currencies/TOKEN", Key: admin, Body: map[string]any{"precision": 0}})
	e.user("alice", "")
	e.code("alice", "ALCEXX")
	e.post(entryBody("setup", posting("110:USD", "debit", "10"), posting("201:USD:alice", "credit", "10")))

	// user is a POST /v1/users body with one field's raw JSON text
	// replaced: value is inserted as is, so that it can hold escapes and
	// raw bytes that json.Marshal would not produce.
	user := func(field, value string) string {
		fields := map[string]string{"id": `"bob"`, "signup_ip": `"203.0.113.7"`, "device_id": `"dev-1"`, "registered_at": `"2026-01-01T00:00:00Z"`}
		fields[field] = value
		var parts []string
		for _, k := range []string{"id", "signup_ip", "device_id", "registered_at"} {
			parts = append(parts, `"`+k+`":`+fields[k])
		}
		return "{" + strings.Join(parts, ",") + "}"
	}
	chart := func(name string) string {
		return `{"code":"710","name":` + name + `,"type":"expense","normal_side":"debit"}`
	}
	bounty := func(currency, reward string) string {
		return `{"kind":"bounty","currency":"` + currency + `","events":{"signup":[` + reward + `]}}`
	}
	oldTrade := `{"trades":[{"id":"t-old","user_id":"alice","market":"BTCUSDT","liquidity":"taker",` +
		`"fee":{"amount":"1","currency":"USDT"},"executed_at":"1920-01-01T00:00:00Z"}]}`

	cases := []struct {
		name   string
		q      req
		code   string
		field  string // named in the problem's fields
		detail string // substring of the detail
	}{
		// NUL, escaped: used to be 500 (PostgreSQL 22021).
		{"signup_ip NUL escape", req{Method: "POST", Path: "/v1/users", Body: user("signup_ip", `"1.2.3.4\u0000"`)}, folio.EINVALID, "signup_ip", "NUL"},
		{"device_id NUL escape", req{Method: "POST", Path: "/v1/users", Body: user("device_id", `"\u0000dev"`)}, folio.EINVALID, "device_id", "NUL"},
		{"code note NUL escape", req{Method: "POST", Path: "/v1/affiliates/alice/codes", Body: `{"note":"a\u0000b"}`}, folio.EINVALID, "note", "NUL"},
		{"tax_id NUL escape", req{Method: "PUT", Path: "/v1/users/alice/tax-id", Body: `{"tax_id":"DE\u0000123"}`}, folio.EINVALID, "tax_id", "NUL"},
		{"key note NUL escape", req{Method: "POST", Path: "/v1/keys", Body: `{"role":"auditor","note":"x\u0000"}`}, folio.EINVALID, "note", "NUL"},
		{"chart name NUL escape", req{Method: "POST", Path: "/v1/chart", Body: chart(`"Fees\u0000"`)}, folio.EINVALID, "name", "NUL"},
		{"metadata NUL escape", req{Method: "POST", Path: "/v1/entries", Body: `{"idempotency_key":"m0","metadata":{"ref":["\u0000"]},"postings":[]}`}, folio.EINVALID, "metadata.ref[0]", "NUL"},
		// NUL and other control bytes, raw: a JSON syntax error, now named.
		{"signup_ip raw NUL", req{Method: "POST", Path: "/v1/users", Body: user("signup_ip", "\"1.2.3.4\x00\"")}, folio.EINVALID, "signup_ip", "raw control byte 0x00"},
		{"device_id raw NUL", req{Method: "POST", Path: "/v1/users", Body: user("device_id", "\"dev\x00\"")}, folio.EINVALID, "device_id", "raw control byte 0x00"},
		{"code note raw NUL", req{Method: "POST", Path: "/v1/affiliates/alice/codes", Body: "{\"note\":\"\x00\"}"}, folio.EINVALID, "note", "raw control byte 0x00"},
		{"tax_id raw NUL", req{Method: "PUT", Path: "/v1/users/alice/tax-id", Body: "{\"tax_id\":\"DE\x00\"}"}, folio.EINVALID, "tax_id", "raw control byte 0x00"},
		{"key note raw NUL", req{Method: "POST", Path: "/v1/keys", Body: "{\"role\":\"auditor\",\"note\":\"\x00\"}"}, folio.EINVALID, "note", "raw control byte 0x00"},
		{"chart name raw NUL", req{Method: "POST", Path: "/v1/chart", Body: chart("\"Fees\x00\"")}, folio.EINVALID, "name", "raw control byte 0x00"},
		// Other control characters, escaped, where they make no sense.
		{"signup_ip line feed", req{Method: "POST", Path: "/v1/users", Body: user("signup_ip", `"1.2.3.4\n"`)}, folio.EINVALID, "signup_ip", "U+000A"},
		{"device_id escape sequence", req{Method: "POST", Path: "/v1/users", Body: user("device_id", `"\u001b[31mdev"`)}, folio.EINVALID, "device_id", "U+001B"},
		{"device_id C1 control", req{Method: "POST", Path: "/v1/users", Body: user("device_id", `"dev\u0085"`)}, folio.EINVALID, "device_id", "U+0085"},
		{"tax_id tab", req{Method: "PUT", Path: "/v1/users/alice/tax-id", Body: `{"tax_id":"DE\t123"}`}, folio.EINVALID, "tax_id", "U+0009"},
		{"chart name line feed", req{Method: "POST", Path: "/v1/chart", Body: chart(`"Fees\nand more"`)}, folio.EINVALID, "name", "U+000A"},
		{"code note bell", req{Method: "POST", Path: "/v1/affiliates/alice/codes", Body: `{"note":"ding\u0007"}`}, folio.EINVALID, "note", "U+0007"},
		{"key note DEL", req{Method: "POST", Path: "/v1/keys", Body: `{"role":"auditor","note":"x\u007f"}`}, folio.EINVALID, "note", "U+007F"},
		// Invalid UTF-8: used to be stored as U+FFFD.
		{"signup_ip invalid UTF-8", req{Method: "POST", Path: "/v1/users", Body: user("signup_ip", "\"1.2.3.\xff\"")}, folio.EINVALID, "signup_ip", "not valid UTF-8"},
		{"device_id invalid UTF-8", req{Method: "POST", Path: "/v1/users", Body: user("device_id", "\"caf\xe9\"")}, folio.EINVALID, "device_id", "not valid UTF-8"},
		{"code note invalid UTF-8", req{Method: "POST", Path: "/v1/affiliates/alice/codes", Body: "{\"note\":\"\xc3\"}"}, folio.EINVALID, "note", "not valid UTF-8"},
		{"tax_id invalid UTF-8", req{Method: "PUT", Path: "/v1/users/alice/tax-id", Body: "{\"tax_id\":\"\xfe\xff\"}"}, folio.EINVALID, "tax_id", "not valid UTF-8"},
		{"key note invalid UTF-8", req{Method: "POST", Path: "/v1/keys", Body: "{\"role\":\"auditor\",\"note\":\"\xed\xa0\x80\"}"}, folio.EINVALID, "note", "not valid UTF-8"},
		{"chart name invalid UTF-8", req{Method: "POST", Path: "/v1/chart", Body: chart("\"Geb\xfchren\"")}, folio.EINVALID, "name", "not valid UTF-8"},
		{"description invalid UTF-8", req{Method: "POST", Path: "/v1/entries", Body: "{\"idempotency_key\":\"u8\",\"description\":\"\x80\",\"postings\":[]}"}, folio.EINVALID, "description", "not valid UTF-8"},
		{"metadata key invalid UTF-8", req{Method: "POST", Path: "/v1/entries", Body: "{\"idempotency_key\":\"u8k\",\"metadata\":{\"a\xff\":1},\"postings\":[]}"}, folio.EINVALID, "metadata.a\uFFFD", "not valid UTF-8"},
		{"unpaired surrogate escape", req{Method: "POST", Path: "/v1/users", Body: user("device_id", `"\ud800"`)}, folio.EINVALID, "device_id", "surrogate"},
		// Duplicate keys: the last one used to win.
		{"duplicate amount", req{Method: "POST", Path: "/v1/entries", Body: `{"idempotency_key":"dup","postings":[{"account":"110:USD","side":"debit","amount":"1","amount":"2"},{"account":"201:USD:alice","side":"credit","amount":"2"}]}`}, folio.EINVALID, "postings[0].amount", "appears twice"},
		{"duplicate top-level key", req{Method: "POST", Path: "/v1/users", Body: `{"id":"bob","id":"carol"}`}, folio.EINVALID, "id", "appears twice"},
		{"duplicate key in metadata", req{Method: "POST", Path: "/v1/entries", Body: `{"idempotency_key":"dupm","metadata":{"order":{"ref":"a","ref":"b"}},"postings":[{"account":"110:USD","side":"debit","amount":"1"},{"account":"201:USD:alice","side":"credit","amount":"1"}]}`}, folio.EINVALID, "metadata.order.ref", "appears twice"},
		{"duplicate key in a trade", req{Method: "POST", Path: "/v1/trades", Body: `{"trades":[{"id":"t1","user_id":"alice","user_id":"bob"}]}`}, folio.EINVALID, "trades[0].user_id", "appears twice"},
		{"duplicate key in a program", req{Method: "PUT", Path: "/v1/programs/viral", Body: `{"kind":"bounty","currency":"TOKEN","events":{"signup":["5"],"signup":["50"]}}`}, folio.EINVALID, "events.signup", "appears twice"},
		// The zero time used to mean "not given".
		{"effective_at zero time", req{Method: "POST", Path: "/v1/entries", Body: `{"idempotency_key":"z","effective_at":"0001-01-01T00:00:00Z","postings":[{"account":"110:USD","side":"debit","amount":"1"},{"account":"201:USD:alice","side":"credit","amount":"1"}]}`}, folio.EINVALID, "effective_at", "before 1900"},
		{"registered_at zero time", req{Method: "POST", Path: "/v1/users", Body: user("registered_at", `"0001-01-01T00:00:00Z"`)}, folio.EINVALID, "registered_at", "before 1900"},
		{"statement to zero time", req{Method: "GET", Path: "/v1/accounts/201:USD:alice/statement?to=0001-01-01T00:00:00Z"}, folio.EINVALID, "to", "before 1900"},
		{"stats from zero time", req{Method: "GET", Path: "/v1/affiliates/alice/stats?from=0001-01-01T00:00:00Z"}, folio.EINVALID, "from", "before 1900"},
		// Values that name nothing or no sane time.
		{"unknown parent_id", req{Method: "POST", Path: "/v1/entries", Body: `{"idempotency_key":"orphan","parent_id":"00000000-0000-4000-8000-000000000000","postings":[{"account":"110:USD","side":"debit","amount":"1"},{"account":"201:USD:alice","side":"credit","amount":"1"}]}`}, folio.EINVALID, "parent_id", "names no entry"},
		{"registered_at in 2999", req{Method: "POST", Path: "/v1/users", Body: user("registered_at", `"2999-01-01T00:00:00Z"`)}, folio.EINVALID, "registered_at", "24 hours in the future"},
		{"registered_at over 100 years ago", req{Method: "POST", Path: "/v1/users", Body: user("registered_at", `"1920-01-01T00:00:00Z"`)}, folio.EINVALID, "registered_at", "100 years"},
		// Bounty programs: checked against the chart, never rounded.
		{"bounty in an unknown currency", req{Method: "PUT", Path: "/v1/programs/viral", Body: bounty("NOPE", `"5"`)}, folio.ECURRENCY, "currency", `"NOPE" does not exist`},
		{"bounty 1.5 of a 0-place token", req{Method: "PUT", Path: "/v1/programs/viral", Body: bounty("TOKEN", `"1.5"`)}, folio.EAMOUNT, "events.signup[0]", "1 decimal places; TOKEN allows 0"},
		{"bounty 0.5 of a 0-place token", req{Method: "PUT", Path: "/v1/programs/viral", Body: bounty("TOKEN", `"50","0.5"`)}, folio.EAMOUNT, "events.signup[1]", "TOKEN allows 0"},
		{"bounty max_reward too precise", req{Method: "PUT", Path: "/v1/programs/viral", Body: `{"kind":"bounty","currency":"USD","events":{"deposit":[{"percent":"0.1","max_reward":"9.999"}]}}`}, folio.EAMOUNT, "events.deposit[0].max_reward", "USD allows 2"},
		{"bounty min_base too precise", req{Method: "PUT", Path: "/v1/programs/viral", Body: `{"kind":"bounty","currency":"TOKEN","events":{"deposit":[{"percent":"0.1","min_base":"10.5"}]}}`}, folio.EAMOUNT, "events.deposit[0].min_base", "TOKEN allows 0"},
		{"payout minimum too precise", req{Method: "PUT", Path: "/v1/programs/broker", Body: `{"kind":"levels","levels":["0.1"],"payout":{"minimum":{"USD":"0.001"}}}`}, folio.EAMOUNT, "payout.minimum.USD", "USD allows 2"},
		{"payout minimum in an unknown currency", req{Method: "PUT", Path: "/v1/programs/broker", Body: `{"kind":"levels","levels":["0.1"],"payout":{"minimum":{"NOPE":"1"}}}`}, folio.ECURRENCY, "payout.minimum.NOPE", "does not exist"},
		// A differential program reads at most DefaultMaxLevels ancestors.
		{"differential max_levels 16", req{Method: "PUT", Path: "/v1/programs/x", Body: `{"kind":"differential","min_pass_down":"0.1","max_levels":16}`}, folio.EINVALID, "max_levels", "between 1 and 15"},
		// Query and path parameters follow the body's byte rules.
		{"query parameter NUL", req{Method: "GET", Path: "/v1/audit/log?object=user:%00"}, folio.EINVALID, "object", "NUL"},
		{"query parameter invalid UTF-8", req{Method: "GET", Path: "/v1/audit/log?object=user:%FF"}, folio.EINVALID, "object", "not valid UTF-8"},
		{"unknown query parameter", req{Method: "GET", Path: "/v1/affiliates/alice/referrals?vip=1"}, folio.EINVALID, "vip", "unknown query parameter vip; this route takes: code, country, cursor, format, level, limit, milestone, milestone_from, milestone_to, order, product, q, registered_from, registered_to, vip_level"},
		{"query parameter given twice", req{Method: "GET", Path: "/v1/audit/log?limit=1&limit=2"}, folio.EINVALID, "limit", "given 2 times"},
		{"path parameter NUL", req{Method: "PUT", Path: "/v1/programs/a%00b", Body: bounty("TOKEN", `"5"`)}, folio.EINVALID, "id", "NUL"},
		{"path parameter invalid UTF-8", req{Method: "GET", Path: "/v1/users/al%FFice"}, folio.EINVALID, "id", "not valid UTF-8"},
	}
	before, beforeAff := e.snapshot(), e.affiliateSnapshot()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.q.Key = admin
			res := e.do(c.q)
			var p problem
			if err := json.Unmarshal(res.Body, &p); err != nil || res.Status != http.StatusBadRequest || p.Code != c.code ||
				!slices.Contains(p.Fields, c.field) || !strings.Contains(p.Detail, c.detail) {
				t.Errorf("%s %s = %d %s, want 400 %s naming %q with %q", c.q.Method, c.q.Path, res.Status, res.Body, c.code, c.field, c.detail)
			}
			if after := e.snapshot(); after != before {
				t.Errorf("journal or configuration changed:\nbefore %s\nafter  %s", before, after)
			}
			if after := e.affiliateSnapshot(); after != beforeAff {
				t.Errorf("affiliate tables changed:\nbefore %s\nafter  %s", beforeAff, after)
			}
		})
	}

	// A trade is refused alone, in its result, under the name the client
	// sent: executed_at, not the effective_at of the entry it would book.
	t.Run("old executed_at", func(t *testing.T) {
		var out struct {
			Results []tradeResultJSON `json:"results"`
		}
		e.must(http.StatusOK, req{Method: "POST", Path: "/v1/trades", Key: admin, Body: oldTrade}).Decode(t, &out)
		if len(out.Results) != 1 || out.Results[0].Error == nil || out.Results[0].Error.Code != folio.EINVALID ||
			!strings.HasPrefix(out.Results[0].Error.Detail, "executed_at ") || strings.Contains(out.Results[0].Error.Detail, "effective_at") {
			t.Errorf("POST /v1/trades with executed_at 1920 = %+v, want invalid_request naming executed_at", out.Results)
		}
		if after := e.snapshot(); after != before {
			t.Errorf("journal or configuration changed:\nbefore %s\nafter  %s", before, after)
		}
		if after := e.affiliateSnapshot(); after != beforeAff {
			t.Errorf("affiliate tables changed:\nbefore %s\nafter  %s", beforeAff, after)
		}
	})
}

// TestGoodBytesAndValuesStillPass: what the rules above must not refuse —
// a note over several lines, non-ASCII names, the same key in different
// objects, a parent posted before (a parent earlier in the same batch is
// the trade engine's fee entry, covered by every trade test), a bounty
// with exact amounts, and a time just inside each bound.
func TestGoodBytesAndValuesStillPass(t *testing.T) {
	e := newEnv(t)
	e.currencies()
	admin := bootstrapKey
	e.must(http.StatusCreated, req{Method: "PUT", Path: "/v1/currencies/TOKEN", Key: admin, Body: map[string]any{"precision": 0}})
	e.user("alice", "")
	e.must(http.StatusCreated, req{Method: "POST", Path: "/v1/affiliates/alice/codes", Key: admin, Body: `{"note":"line one\r\nline two\tend"}`})
	e.must(http.StatusCreated, req{Method: "POST", Path: "/v1/keys", Key: admin, Body: `{"role":"auditor","note":"for the\naudit"}`})
	e.must(http.StatusCreated, req{Method: "POST", Path: "/v1/chart", Key: admin, Body: `{"code":"710","name":"Gebühren – Zürich 東京","type":"expense","normal_side":"debit"}`})
	e.must(http.StatusOK, req{Method: "PUT", Path: "/v1/users/alice/tax-id", Key: admin, Body: `{"tax_id":"DE 123/456"}`})
	e.must(http.StatusCreated, req{Method: "POST", Path: "/v1/users", Key: admin,
		Body: `{"id":"bob","signup_ip":"2001:db8::1","device_id":"Pixel 8 – ü","registered_at":"2026-01-11T11:00:00Z"}`})
	parent := e.post(entryBody("parent", posting("110:USD", "debit", "1"), posting("201:USD:alice", "credit", "1")))["id"].(string)
	child := entryBody("child", posting("110:USD", "debit", "1"), posting("201:USD:alice", "credit", "1"))
	child["parent_id"] = parent
	child["metadata"] = map[string]any{"a": map[string]any{"id": 1}, "b": map[string]any{"id": 2}}
	e.post(child)
	e.must(http.StatusCreated, req{Method: "PUT", Path: "/v1/programs/viral", Key: admin, Body: `{"kind":"bounty","currency":"TOKEN","events":{"signup":["2","1"],"deposit":[{"percent":"0.015","min_base":"10","max_reward":"5"}]}}`})
	e.must(http.StatusCreated, req{Method: "PUT", Path: "/v1/programs/broker", Key: admin, Body: `{"kind":"levels","levels":["0.1"],"payout":{"minimum":{"USD":"0.01","USDT":"0.000001"}}}`})
	e.must(http.StatusOK, req{Method: "GET", Path: "/v1/accounts/201:USD:alice/statement?from=1900-01-01&to=2026-01-10T12:00:00Z", Key: admin})
}
