package api

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/folioledger/folio"
	"github.com/folioledger/folio/keys"
)

// selfServiceTree sets up the differential program orderly (P 0.10) and
// R (rate 0.50, its own affiliate key) → code RRRRRR (0.30) → A and B;
// B → code BBBBBB (no rate) → C. It returns R's key secret and key id.
func selfServiceTree(e *env) (secret, keyID string) {
	e.t.Helper()
	e.currencies()
	e.putProgram("orderly", map[string]any{"kind": "differential", "min_pass_down": "0.10", "default": true})
	e.user("R", "")
	e.must(http.StatusOK, req{Method: "PUT", Path: "/v1/users/R/rate", Key: bootstrapKey, Body: `{"rate": "0.50"}`})
	k, secret, err := keys.Create(context.Background(), e.app, keys.RoleAffiliate, "R", "R's dashboard", "test")
	if err != nil {
		e.t.Fatal(err)
	}
	var c referralCodeJSON
	e.must(http.StatusCreated, req{Method: "POST", Path: "/v1/affiliates/R/codes", Key: secret, Body: `{"code": "rrrrrr", "rate": "0.30", "note": "launch"}`}).Decode(e.t, &c)
	if c.Code != "RRRRRR" || c.Rate == nil || *c.Rate != "0.3" || c.Owner != "R" || c.DisabledAt != nil {
		e.t.Fatalf("POST code with R's own key = %+v", c)
	}
	e.user("A", "RRRRRR")
	e.user("B", "RRRRRR")
	e.code("B", "BBBBBB")
	e.user("C", "BBBBBB")
	return secret, k.ID
}

// userRate reads a user's rate and whether it follows its code.
func (e *env) userRate(id string) (string, bool) {
	e.t.Helper()
	var u userJSON
	e.must(http.StatusOK, req{Method: "GET", Path: "/v1/users/" + id, Key: bootstrapKey}).Decode(e.t, &u)
	if u.Rate == nil {
		return "<nil>", u.RateFollowsCode
	}
	return *u.Rate, u.RateFollowsCode
}

// TestAffiliateSelfService: an affiliate with its own key creates and
// edits its code, sets a direct referee's custom rate and notes a
// referee; referees on the code's default rate follow it (up and down),
// a custom rate stays pinned, trades after the change pay the new rates;
// a disabled code refuses new signups while its referees keep it; every
// change is audit-logged with the affiliate's key as actor; and what an
// affiliate may not do is refused.
func TestAffiliateSelfService(t *testing.T) {
	e := newEnv(t)
	rKey, rKeyID := selfServiceTree(e)
	bKey := e.key(keys.RoleAffiliate, "B")

	for _, id := range []string{"A", "B"} {
		if rate, follows := e.userRate(id); rate != "0.3" || !follows {
			t.Fatalf("%s joined on RRRRRR: rate %s follows %v, want 0.3 following", id, rate, follows)
		}
	}
	e.book(trade("t1", "C", "100"))
	if got := e.shares("t1"); got["B"] != "30" || got["R"] != "20" {
		t.Fatalf("t1 shares = %v, want B 30 R 20", got)
	}

	// Raising the code's default reaches both followers at their next trade.
	var c referralCodeJSON
	e.must(http.StatusOK, req{Method: "PATCH", Path: "/v1/affiliates/R/codes/rrrrrr", Key: rKey, Body: `{"rate": "0.40"}`}).Decode(t, &c)
	if c.Rate == nil || *c.Rate != "0.4" || c.Note != "launch" || c.Referrals != 2 {
		t.Fatalf("PATCH rate = %+v", c)
	}
	for _, id := range []string{"A", "B"} {
		if rate, follows := e.userRate(id); rate != "0.4" || !follows {
			t.Fatalf("after raising the code %s: rate %s follows %v, want 0.4 following", id, rate, follows)
		}
	}
	e.book(trade("t2", "C", "100"))
	if got := e.shares("t2"); got["B"] != "40" || got["R"] != "10" {
		t.Fatalf("t2 shares = %v, want B 40 R 10", got)
	}
	if got := e.shares("t1"); got["B"] != "30" {
		t.Fatalf("t1 shares changed: %v", got)
	}

	// A custom rate by the direct referrer pins A.
	var rr refereeRateJSON
	e.must(http.StatusOK, req{Method: "PUT", Path: "/v1/users/A/rate", Key: rKey, Body: `{"rate": "0.35"}`}).Decode(t, &rr)
	if rr.Rate == nil || *rr.Rate != "0.35" || rr.RateFollowsCode || rr.ID == "A" {
		t.Fatalf("PUT A's rate with R's key = %+v, want 0.35 pinned, id masked", rr)
	}
	e.must(http.StatusOK, req{Method: "PATCH", Path: "/v1/affiliates/R/codes/RRRRRR", Key: rKey, Body: `{"rate": "0.45"}`})
	if rate, follows := e.userRate("A"); rate != "0.35" || follows {
		t.Errorf("pinned A after raising the code: %s %v, want 0.35 pinned", rate, follows)
	}
	if rate, _ := e.userRate("B"); rate != "0.45" {
		t.Errorf("B after raising the code to 0.45: %s", rate)
	}
	// A decrease cascades to the followers (and their subtrees) as today.
	e.must(http.StatusOK, req{Method: "PATCH", Path: "/v1/affiliates/R/codes/RRRRRR", Key: rKey, Body: `{"rate": "0.20"}`})
	if rate, follows := e.userRate("B"); rate != "0.2" || !follows {
		t.Errorf("B after lowering the code to 0.20: %s %v", rate, follows)
	}
	if rate, _ := e.userRate("A"); rate != "0.35" {
		t.Errorf("pinned A after lowering the code: %s, want 0.35", rate)
	}
	e.book(trade("t3", "C", "100"))
	if got := e.shares("t3"); got["B"] != "20" || got["R"] != "30" {
		t.Fatalf("t3 shares = %v, want B 20 R 30", got)
	}

	// Refusals, each writing nothing.
	before := e.affiliateSnapshot()
	for _, tc := range []struct {
		name   string
		q      req
		status int
		code   string
	}{
		{"rate above own rate", req{Method: "PUT", Path: "/v1/users/A/rate", Key: rKey, Body: `{"rate": "0.55"}`}, 400, folio.EINVALID},
		{"rate below P", req{Method: "PUT", Path: "/v1/users/A/rate", Key: rKey, Body: `{"rate": "0.05"}`}, 400, folio.EINVALID},
		{"rate of a level-2 referee", req{Method: "PUT", Path: "/v1/users/C/rate", Key: rKey, Body: `{"rate": "0.15"}`}, 403, folio.EFORBIDDEN},
		{"rate of a stranger", req{Method: "PUT", Path: "/v1/users/nobody/rate", Key: rKey, Body: `{"rate": "0.15"}`}, 403, folio.EFORBIDDEN},
		{"rate of oneself", req{Method: "PUT", Path: "/v1/users/R/rate", Key: rKey, Body: `{"rate": "0.45"}`}, 403, folio.EFORBIDDEN},
		{"rate of the upline", req{Method: "PUT", Path: "/v1/users/R/rate", Key: bKey, Body: `{"rate": "0.45"}`}, 403, folio.EFORBIDDEN},
		{"code of another id", req{Method: "POST", Path: "/v1/affiliates/B/codes", Key: rKey, Body: `{}`}, 403, folio.EFORBIDDEN},
		{"patch another id", req{Method: "PATCH", Path: "/v1/affiliates/R/codes/RRRRRR", Key: bKey, Body: `{"note": "mine"}`}, 403, folio.EFORBIDDEN},
		{"patch another's code", req{Method: "PATCH", Path: "/v1/affiliates/B/codes/RRRRRR", Key: bKey, Body: `{"note": "mine"}`}, 404, folio.ENOTFOUND},
		{"patch unknown code", req{Method: "PATCH", Path: "/v1/affiliates/R/codes/ZZZZZZ", Key: rKey, Body: `{"note": "x"}`}, 404, folio.ENOTFOUND},
		{"patch unknown field", req{Method: "PATCH", Path: "/v1/affiliates/R/codes/RRRRRR", Key: rKey, Body: `{"rate": "0.3", "owner": "B"}`}, 400, folio.EINVALID},
		{"patch nothing", req{Method: "PATCH", Path: "/v1/affiliates/R/codes/RRRRRR", Key: rKey, Body: `{}`}, 400, folio.EINVALID},
		{"patch rate above own", req{Method: "PATCH", Path: "/v1/affiliates/R/codes/RRRRRR", Key: rKey, Body: `{"rate": "0.51"}`}, 400, folio.EINVALID},
		{"patch kickback outside kickback", req{Method: "PATCH", Path: "/v1/affiliates/R/codes/RRRRRR", Key: rKey, Body: `{"kickback": "0.01"}`}, 400, folio.EINVALID},
		{"note of another's referee", req{Method: "PUT", Path: "/v1/affiliates/B/referrals/C/note", Key: rKey, Body: `{"note": "x"}`}, 403, folio.EFORBIDDEN},
		{"note outside the tree", req{Method: "PUT", Path: "/v1/affiliates/B/referrals/A/note", Key: bKey, Body: `{"note": "x"}`}, 404, folio.ENOTFOUND},
		{"note on oneself", req{Method: "PUT", Path: "/v1/affiliates/R/referrals/R/note", Key: rKey, Body: `{"note": "x"}`}, 404, folio.ENOTFOUND},
		{"poster key", req{Method: "PATCH", Path: "/v1/affiliates/R/codes/RRRRRR", Key: e.key(keys.RolePoster, ""), Body: `{"note": "x"}`}, 403, folio.EFORBIDDEN},
		{"auditor key", req{Method: "PUT", Path: "/v1/users/A/rate", Key: e.key(keys.RoleAuditor, ""), Body: `{"rate": "0.3"}`}, 403, folio.EFORBIDDEN},
	} {
		res := e.do(tc.q)
		if res.Status != tc.status || problemCode(t, res) != tc.code {
			t.Errorf("%s: %s %s = %d %s, want %d %s", tc.name, tc.q.Method, tc.q.Path, res.Status, res.Body, tc.status, tc.code)
		}
	}
	if after := e.affiliateSnapshot(); after != before {
		t.Errorf("refused requests wrote:\n%s\n%s", before, after)
	}

	// Disabling refuses new signups; referees keep the code and replay.
	e.must(http.StatusOK, req{Method: "PATCH", Path: "/v1/affiliates/R/codes/RRRRRR", Key: rKey, Body: `{"disabled": true}`}).Decode(t, &c)
	if c.DisabledAt == nil {
		t.Fatalf("disabled code: %+v", c)
	}
	res := e.do(req{Method: "POST", Path: "/v1/users", Key: bootstrapKey, Body: `{"id": "D", "referral_code": "RRRRRR"}`})
	var p problem
	res.Decode(t, &p)
	if res.Status != http.StatusBadRequest || p.Code != folio.EINVALID || !strings.Contains(p.Detail, "disabled") {
		t.Errorf("signup with a disabled code = %d %s", res.Status, res.Body)
	}
	e.must(http.StatusOK, req{Method: "POST", Path: "/v1/users", Key: bootstrapKey, Body: `{"id": "A", "referral_code": "RRRRRR", "registered_at": "2026-01-01T00:00:00Z"}`})
	e.must(http.StatusOK, req{Method: "PATCH", Path: "/v1/affiliates/R/codes/RRRRRR", Key: rKey, Body: `{"disabled": false}`}).Decode(t, &c)
	if c.DisabledAt != nil {
		t.Fatalf("enabled code: %+v", c)
	}
	e.must(http.StatusCreated, req{Method: "POST", Path: "/v1/users", Key: bootstrapKey, Body: `{"id": "D", "referral_code": "RRRRRR"}`})

	// A note on a level-2 referee.
	var n referralNoteJSON
	e.must(http.StatusOK, req{Method: "PUT", Path: "/v1/affiliates/R/referrals/C/note", Key: rKey, Body: `{"note": "whale, call Monday"}`}).Decode(t, &n)
	if n.Note != "whale, call Monday" || n.Referee == "C" {
		t.Errorf("PUT note = %+v", n)
	}

	// The audit log names R's key as the actor of its changes.
	var log struct {
		Data []struct {
			Actor  string          `json:"actor"`
			Action string          `json:"action"`
			Object string          `json:"object"`
			After  json.RawMessage `json:"after"`
		} `json:"data"`
	}
	e.must(http.StatusOK, req{Method: "GET", Path: "/v1/audit/log?limit=200", Key: bootstrapKey}).Decode(t, &log)
	seen := map[string]int{}
	for _, l := range log.Data {
		if l.Actor == rKeyID {
			seen[l.Action+" "+l.Object]++
		}
		if l.Action == "referral.note" && strings.Contains(string(l.After), "whale") {
			t.Errorf("the audit log carries the note's text: %s", l.After)
		}
	}
	for action, n := range map[string]int{"code.create code:RRRRRR": 1, "code.update code:RRRRRR": 5, "user.rate user:A": 1,
		"user.rate.follow user:B": 3, "referral.note referral:R/C": 1} {
		if seen[action] != n {
			t.Errorf("audit log by R's key: %d × %s, want %d (all: %v)", seen[action], action, n, seen)
		}
	}
}
