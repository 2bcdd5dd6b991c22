package api

import (
	"encoding/json"
	"net/http"
	"net/url"
	"reflect"
	"testing"
	"time"

	"github.com/folioledger/folio/audit"
	"github.com/folioledger/folio/keys"
)

// TestAffiliateConfigurationAudit: every configuration change made over
// the API — programs, assignments, rates (and the clamps a decrease
// causes), kickback overrides, revenue shares, referrers, codes, tax ids,
// fee schedules and FX rates — is in GET /v1/audit/log with the calling
// key's id as actor, the time of the change, and before and after.
func TestAffiliateConfigurationAudit(t *testing.T) {
	e := newEnv(t)
	e.currencies()
	keyID, admin := e.adminKey()
	auditor := e.key(keys.RoleAuditor, "")
	e.tree("alice>", "alice>bob", "zed>")

	type change struct {
		method, path, body string
		action, object     string
		before, after      string // JSON; "" = null
	}
	changes := []change{
		{"PUT", "/v1/programs/broker", `{"kind": "levels", "levels": ["0.25", "0.10"], "default": true}`,
			"program.put", "program:broker", "", `{"kind": "levels", "default": true, "levels": ["0.25", "0.10"]}`},
		{"PUT", "/v1/programs/broker", `{"kind": "levels", "levels": ["0.30"], "default": true}`,
			"program.put", "program:broker", `{"kind": "levels", "default": true, "levels": ["0.25", "0.10"]}`, `{"kind": "levels", "default": true, "levels": ["0.30"]}`},
		{"PUT", "/v1/programs/orderly", `{"kind": "differential", "min_pass_down": "0.10"}`,
			"program.put", "program:orderly", "", `{"kind": "differential", "min_pass_down": "0.10"}`},
		{"PUT", "/v1/users/alice/program", `{"program": "orderly"}`, "user.program", "user:alice", `{"program": ""}`, `{"program": "orderly"}`},
		{"PUT", "/v1/users/alice/rate", `{"rate": "0.50"}`, "user.rate", "user:alice", `{"rate": null}`, `{"rate": "0.5"}`},
		{"POST", "/v1/affiliates/alice/codes", `{"code": "ALCRATE4", "rate": "0.40", "note": "vip"}`,
			"code.create", "code:ALCRATE4", "", `{"code": "ALCRATE4", "owner": "alice", "rate": "0.4", "kickback": null, "note": "vip"}`},
		{"PUT", "/v1/users/bob/program", `{"program": "orderly"}`, "user.program", "user:bob", `{"program": ""}`, `{"program": "orderly"}`},
		{"PUT", "/v1/users/bob/rate", `{"rate": "0.45"}`, "user.rate", "user:bob", `{"rate": null}`, `{"rate": "0.45"}`},
		{"PUT", "/v1/users/alice/rate", `{"rate": "0.35"}`, "user.rate", "user:alice", `{"rate": "0.5"}`, `{"rate": "0.35"}`},
		{"", "", "", "code.rate.clamp", "code:ALCRATE4", `{"rate": "0.4"}`, `{"rate": "0.35"}`},
		{"", "", "", "user.rate.clamp", "user:bob", `{"rate": "0.45"}`, `{"rate": "0.35"}`},
		{"PUT", "/v1/users/bob/kickback-rate", `{"rate": "0.30"}`, "user.kickback_rate", "user:bob", `{"rate": null}`, `{"rate": "0.3"}`},
		{"PUT", "/v1/users/bob/revenue-share", `{"shares": [{"beneficiary": "zed", "share": "0.2"}]}`,
			"user.revenue_share", "user:bob", `[]`, `[{"beneficiary": "zed", "share": "0.2"}]`},
		{"PUT", "/v1/users/bob/referrer", `{"referrer": "zed"}`, "user.referrer", "user:bob", `{"referrer": "alice"}`, `{"referrer": "zed"}`},
		{"PUT", "/v1/users/zed/tax-id", `{"tax_id": "DE123456789"}`, "user.tax_id", "user:zed", `{"set": false}`, `{"set": true}`},
		{"PUT", "/v1/fee-schedule", `{"group": "vip", "market": "BTCUSDT", "maker": "0.0005", "taker": "0.001"}`,
			"fees.put", "fees:vip/BTCUSDT", "", `{"maker": "0.0005", "taker": "0.001"}`},
		{"PUT", "/v1/rates/USDT/USD", `{"rate": "0.9998", "source": "feed-a", "at": "2026-01-10T00:00:00Z"}`,
			"fx.put", "fx:USDT/USD", "", `{"source": "feed-a", "rate": "0.9998", "at": "2026-01-10T00:00:00Z"}`},
	}
	var at time.Time
	for _, c := range changes {
		if c.method != "" {
			e.clock.Advance(time.Minute)
			at = e.clock.Now()
			res := e.do(req{Method: c.method, Path: c.path, Key: admin, Body: c.body})
			if res.Status != http.StatusOK && res.Status != http.StatusCreated {
				t.Fatalf("%s %s = %d %s", c.method, c.path, res.Status, res.Body)
			}
		}
		var log listJSON[audit.Record]
		e.must(http.StatusOK, req{Method: "GET", Path: "/v1/audit/log?object=" + url.QueryEscape(c.object) + "&action=" + c.action, Key: auditor}).Decode(t, &log)
		var found *audit.Record
		for i := range log.Data {
			if log.Data[i].At.Equal(at) {
				found = &log.Data[i]
			}
		}
		if found == nil {
			t.Errorf("%s %s: no %s record on %s at %s in %+v", c.method, c.path, c.action, c.object, at, log.Data)
			continue
		}
		if found.Actor != keyID {
			t.Errorf("%s %s: actor = %q, want the key id %s", c.action, c.object, found.Actor, keyID)
		}
		if !sameJSON(t, found.Before, c.before) || !sameJSON(t, found.After, c.after) {
			t.Errorf("%s %s: before %s after %s, want %s and %s", c.action, c.object, found.Before, found.After, c.before, c.after)
		}
	}
}

// sameJSON compares a stored JSON value with the expected text ("" = null).
func sameJSON(t *testing.T, got json.RawMessage, want string) bool {
	t.Helper()
	if want == "" {
		return len(got) == 0 || string(got) == "null"
	}
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		return false
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("bad expectation %s: %v", want, err)
	}
	return reflect.DeepEqual(g, w)
}
