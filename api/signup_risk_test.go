package api

import (
	"context"
	"crypto/sha256"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/folioledger/folio"
	"github.com/folioledger/folio/keys"
	"github.com/folioledger/folio/payouts"
)

// signup posts a user with risk signals and returns the answer.
func (f *payoutFixture) signup(want int, id, referrer string, signals map[string]any) *response {
	f.t.Helper()
	body := map[string]any{"id": id}
	if referrer != "" {
		body["referral_code"] = f.code(referrer)
	}
	for k, v := range signals {
		body[k] = v
	}
	return f.call(want, req{Method: "POST", Path: "/v1/users", Body: body})
}

func riskOf(t *testing.T, res *response) signupRiskJSON {
	t.Helper()
	var u userJSON
	res.Decode(t, &u)
	if u.SignupRisk == nil {
		t.Fatalf("user %s has no signup_risk: %s", u.ID, res.Body)
	}
	return *u.SignupRisk
}

func riskRules(r signupRiskJSON) []string {
	var out []string
	for _, f := range r.Flags {
		out = append(out, f.Rule)
	}
	return out
}

// counts returns the number of users and signup_risk rows.
func (f *payoutFixture) counts() (users, risks int) {
	f.t.Helper()
	if err := f.db.Admin.QueryRow(context.Background(), `SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM signup_risk)`).Scan(&users, &risks); err != nil {
		f.t.Fatal(err)
	}
	return users, risks
}

// TestSignupRiskFlag: under the default rules (flag) a signup from its
// referrer's IP, or on its upline's device, is created and flagged; admins
// see the flag on GET /v1/users/{id}, the user's own affiliate key does
// not; the signals are stored only as keyed hashes.
func TestSignupRiskFlag(t *testing.T) {
	f := newPayoutFixture(t)
	f.levels(nil, "0.25", "0.10")
	f.signup(http.StatusCreated, "A", "", map[string]any{"ip": "10.0.0.1", "device": "dev-A", "user_agent": "Mozilla/5.0"})
	b := riskOf(t, f.signup(http.StatusCreated, "B", "A", map[string]any{"ip": "::ffff:10.0.0.1", "device": "dev-B"}))
	if !b.Flagged || b.Action != payouts.SignupFlag || !slices.Equal(riskRules(b), []string{payouts.RiskSameIPReferrer}) ||
		b.Score != 40 || !slices.Equal(b.Matched, []string{"A"}) {
		t.Errorf("B's signup risk = %+v, want flagged same_ip_as_referrer (IPv4-mapped is the same address), score 40", b)
	}
	c := riskOf(t, f.signup(http.StatusCreated, "C", "B", map[string]any{"ip": "10.0.0.3", "device": "dev-A"}))
	if !c.Flagged || !slices.Equal(riskRules(c), []string{payouts.RiskSameDeviceUpline}) || !slices.Equal(c.Matched, []string{"A"}) {
		t.Errorf("C's signup risk = %+v, want same_device_as_upline matching A", c)
	}
	// The legacy signup_ip counts as the referrer's IP too.
	f.user(userSpec{id: "L", ip: "192.0.2.7"})
	l := riskOf(t, f.signup(http.StatusCreated, "M", "L", map[string]any{"ip": "192.0.2.7"}))
	if !slices.Equal(riskRules(l), []string{payouts.RiskSameIPReferrer}) {
		t.Errorf("M's signup risk = %+v, want same_ip_as_referrer through L's signup_ip", l)
	}
	clean := riskOf(t, f.signup(http.StatusCreated, "D", "A", map[string]any{"ip": "2001:db8::1", "device": "dev-D"}))
	if clean.Flagged || clean.Action != "none" || clean.Score != 0 || len(clean.Flags) != 0 {
		t.Errorf("D's signup risk = %+v, want none", clean)
	}

	got := riskOf(t, f.call(http.StatusOK, req{Method: "GET", Path: "/v1/users/B", Key: f.auditor.secret}))
	if !got.Flagged || got.AssessedAt != "2026-01-10T12:00:00Z" {
		t.Errorf("GET /v1/users/B (auditor) signup_risk = %+v", got)
	}
	own := f.newKey(keys.RoleAffiliate, "B")
	if body := f.call(http.StatusOK, req{Method: "GET", Path: "/v1/users/B", Key: own.secret}).Body; strings.Contains(string(body), "signup_risk") {
		t.Errorf("B's own affiliate key sees its signup risk: %s", body)
	}
	// Users without signals have no assessment; signup_ip and device_id
	// count as signals.
	f.user(userSpec{id: "N"})
	if body := f.call(http.StatusOK, req{Method: "GET", Path: "/v1/users/N", Key: f.auditor.secret}).Body; strings.Contains(string(body), "signup_risk") {
		t.Errorf("N (no signals) shows a signup risk: %s", body)
	}
	if r := riskOf(t, f.call(http.StatusOK, req{Method: "GET", Path: "/v1/users/L", Key: f.auditor.secret})); r.Flagged {
		t.Errorf("L (signup_ip only, no referrer) = %+v, want assessed, not flagged", r)
	}

	// Only keyed hashes are stored: 32 bytes, not the plain SHA-256 of the value.
	var ipHash, uaHash []byte
	if err := f.db.Admin.QueryRow(context.Background(), `SELECT ip_hash, user_agent_hash FROM signup_risk WHERE user_id = 'A'`).Scan(&ipHash, &uaHash); err != nil {
		t.Fatal(err)
	}
	plain := sha256.Sum256([]byte("10.0.0.1"))
	if len(ipHash) != 32 || len(uaHash) != 32 || string(ipHash) == string(plain[:]) {
		t.Errorf("stored ip hash %x (user agent %x), want a 32-byte keyed hash", ipHash, uaHash)
	}
	var raw int
	if err := f.db.Admin.QueryRow(context.Background(), `SELECT count(*) FROM signup_risk s WHERE s::text LIKE '%10.0.0.1%' OR s::text LIKE '%dev-A%' OR s::text LIKE '%Mozilla%'`).Scan(&raw); err != nil || raw != 0 {
		t.Errorf("signup_risk rows holding a raw signal: %d (%v)", raw, err)
	}
}

// TestSignupRiskRefuse: with signup_risk refuse, a same-IP signup under its
// own upline is 403 with the reason and writes nothing; a clean one is
// created.
func TestSignupRiskRefuse(t *testing.T) {
	f := newPayoutFixture(t)
	f.levels(nil, "0.25", "0.10")
	f.signup(http.StatusCreated, "A", "", map[string]any{"ip": "10.0.0.1"})
	f.signup(http.StatusCreated, "B", "A", map[string]any{"ip": "10.0.0.2"})
	f.fraudRules(map[string]any{"signup_risk": "refuse"})
	users, risks := f.counts()
	res := f.call(http.StatusForbidden, req{Method: "POST", Path: "/v1/users", Body: map[string]any{"id": "C", "referral_code": f.code("B"), "ip": "10.0.0.1"}})
	if code := problemCode(t, res); code != folio.EFORBIDDEN || !strings.Contains(string(res.Body), "same_ip_as_upline") || !strings.Contains(string(res.Body), "upline A (level 2)") {
		t.Errorf("refused signup = %s", res.Body)
	}
	if u, r := f.counts(); u != users || r != risks {
		t.Errorf("refused signup wrote users %d→%d, risks %d→%d", users, u, risks, r)
	}
	f.call(http.StatusNotFound, req{Method: "GET", Path: "/v1/users/C"})
	f.signup(http.StatusCreated, "C", "B", map[string]any{"ip": "10.0.0.3"})
}

// TestSignupRiskHold: with signup_risk hold, a flagged referee is created
// and the payout line that pays its activity is held with the signup_risk
// flag, until an admin clears it.
func TestSignupRiskHold(t *testing.T) {
	f := newPayoutFixture(t)
	f.levels(nil, "0.5")
	f.fraudRules(map[string]any{"signup_risk": "hold", "self_referral": false})
	f.signup(http.StatusCreated, "A", "", map[string]any{"device": "phone-1"})
	f.signup(http.StatusCreated, "X", "", nil)
	e := riskOf(t, f.signup(http.StatusCreated, "E", "A", map[string]any{"device": "phone-1"}))
	if e.Action != payouts.SignupHold || !slices.Equal(riskRules(e), []string{payouts.RiskSameDeviceReferrer}) {
		t.Fatalf("E's signup risk = %+v, want hold on same_device_as_referrer", e)
	}
	f.signup(http.StatusCreated, "F", "X", map[string]any{"device": "phone-2"})
	f.trade("E", "20")
	f.trade("F", "20")
	b := f.build(http.StatusCreated)
	if !slices.Equal(holders(b), []string{"A:10:held", "X:10:ok"}) {
		t.Fatalf("batch = %v, want A's line held", holders(b))
	}
	if rules := flagRules(lineOf(t, b, "A")); !slices.Equal(rules, []string{payouts.FlagSignupRisk}) {
		t.Errorf("A's flags = %v, want signup_risk", rules)
	}
	f.act(http.StatusOK, f.admin1, b.ID, "clear-lines", map[string]any{"lines": []string{lineOf(t, b, "A").ID}})
	f.pay(b.ID)
	f.wantBalances(map[string]string{"201:USDT:A": "10", "201:USDT:X": "10"})
}

// TestSignupRiskFarm: the farm_referees-th signup from one IP under one
// referrer within farm_window is flagged signup_farm.
func TestSignupRiskFarm(t *testing.T) {
	f := newPayoutFixture(t)
	f.levels(nil, "0.25")
	f.fraudRules(map[string]any{"farm_referees": 3, "farm_window": "1h"})
	f.signup(http.StatusCreated, "A", "", map[string]any{"ip": "10.0.0.1"})
	for i, id := range []string{"F1", "F2", "F3"} {
		r := riskOf(t, f.signup(http.StatusCreated, id, "A", map[string]any{"ip": "198.51.100.9", "device": "d-" + id}))
		if want := i == 2; r.Flagged != want || (want && !slices.Equal(riskRules(r), []string{payouts.RiskFarm})) {
			t.Errorf("%s: signup risk = %+v, want flagged=%v", id, r, want)
		}
	}
	f.clock.Advance(2 * 60 * 60 * 1e9)
	if r := riskOf(t, f.signup(http.StatusCreated, "F4", "A", map[string]any{"ip": "198.51.100.9"})); r.Flagged {
		t.Errorf("F4 after the window = %+v, want not flagged", r)
	}
}

// TestSignupRiskHostile: bad signals and rules are 400 naming the field and
// write nothing.
func TestSignupRiskHostile(t *testing.T) {
	f := newPayoutFixture(t)
	users, risks := f.counts()
	cases := []struct {
		name  string
		body  map[string]any
		field string
	}{
		{"ip not an address", map[string]any{"ip": "999.1.1.1"}, "ip"},
		{"ip with a port", map[string]any{"ip": "10.0.0.1:80"}, "ip"},
		{"ip with a zone", map[string]any{"ip": "fe80::1%eth0"}, "ip"},
		{"ip with space", map[string]any{"ip": " 10.0.0.1"}, "ip"},
		{"ip too long", map[string]any{"ip": strings.Repeat("1", 65)}, "ip"},
		{"ip as number", map[string]any{"ip": 167772161}, ""},
		{"device too long", map[string]any{"device": strings.Repeat("d", 129)}, "device"},
		{"device line feed", map[string]any{"device": "a\nb"}, "device"},
		{"device NUL", map[string]any{"device": "a\u0000b"}, "device"},
		{"user agent too long", map[string]any{"user_agent": strings.Repeat("u", 513)}, "user_agent"},
		{"user agent control", map[string]any{"user_agent": "Mozilla\u0007"}, "user_agent"},
		{"user agent as object", map[string]any{"user_agent": map[string]any{}}, ""},
		{"unknown signal", map[string]any{"ip_address": "10.0.0.1"}, ""},
	}
	for _, c := range cases {
		body := map[string]any{"id": "H"}
		for k, v := range c.body {
			body[k] = v
		}
		res := f.do(req{Method: "POST", Path: "/v1/users", Key: bootstrapKey, Body: body})
		if res.Status != http.StatusBadRequest || problemCode(t, res) != folio.EINVALID || !strings.Contains(string(res.Body), c.field) {
			t.Errorf("%s: POST /v1/users = %d %s, want 400 naming %q", c.name, res.Status, res.Body, c.field)
		}
	}
	for _, v := range []any{"block", "", "REFUSE", 1} {
		res := f.do(req{Method: "PUT", Path: "/v1/payouts/fraud-rules", Key: bootstrapKey, Body: map[string]any{"signup_risk": v}})
		if res.Status != http.StatusBadRequest {
			t.Errorf("PUT fraud-rules signup_risk %v = %d %s, want 400", v, res.Status, res.Body)
		}
	}
	if u, r := f.counts(); u != users || r != risks {
		t.Errorf("refused requests wrote users %d→%d, risks %d→%d", users, u, risks, r)
	}
	if rules := f.call(http.StatusOK, req{Method: "GET", Path: "/v1/payouts/fraud-rules"}).JSON(t); rules["signup_risk"] != "flag" {
		t.Errorf("fraud rules signup_risk = %v, want the default flag", rules["signup_risk"])
	}
}
