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

	// Refusals, each writing nothing (the audit log included).
	auditRows := func() int {
		var n int
		if err := e.db.Admin.QueryRow(context.Background(), `SELECT count(*) FROM audit_log`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	posterKey, auditorKey := e.key(keys.RolePoster, ""), e.key(keys.RoleAuditor, "")
	before, auditBefore := e.affiliateSnapshot(), auditRows()
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
		{"poster key", req{Method: "PATCH", Path: "/v1/affiliates/R/codes/RRRRRR", Key: posterKey, Body: `{"note": "x"}`}, 403, folio.EFORBIDDEN},
		{"auditor key", req{Method: "PUT", Path: "/v1/users/A/rate", Key: auditorKey, Body: `{"rate": "0.3"}`}, 403, folio.EFORBIDDEN},
	} {
		res := e.do(tc.q)
		if res.Status != tc.status || problemCode(t, res) != tc.code {
			t.Errorf("%s: %s %s = %d %s, want %d %s", tc.name, tc.q.Method, tc.q.Path, res.Status, res.Body, tc.status, tc.code)
		}
	}
	if after := e.affiliateSnapshot(); after != before {
		t.Errorf("refused requests wrote:\n%s\n%s", before, after)
	}
	if n := auditRows(); n != auditBefore {
		t.Errorf("refused requests wrote %d audit records", n-auditBefore)
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

// TestReferralListFilters: the referral list of a kickback affiliate R
// (codes RRRRRR with a 5% kickback, RRRRR2 without; B's code for the
// second level) filtered by level, country, code, registration and
// milestone ranges and q (id, and note for R and admins but not
// auditors), ordered by commission, volume and registration (largest
// first), paged by cursors that stay stable; commission type and kickback
// shown; the top-N of a period; CSV.
func TestReferralListFilters(t *testing.T) {
	e := newEnv(t)
	e.currencies()
	e.putProgram("bn", map[string]any{"kind": "kickback", "rate": "0.20", "default": true})
	e.must(http.StatusOK, req{Method: "PUT", Path: "/v1/rates/USDT/USD", Key: bootstrapKey, Body: `{"rate": "1", "source": "feed", "at": "2026-01-01T00:00:00Z"}`})
	e.user("R", "")
	rKey := e.key(keys.RoleAffiliate, "R")
	e.must(http.StatusCreated, req{Method: "POST", Path: "/v1/affiliates/R/codes", Key: rKey, Body: `{"code": "RRRRRR", "kickback": "0.05"}`})
	e.must(http.StatusCreated, req{Method: "POST", Path: "/v1/affiliates/R/codes", Key: rKey, Body: `{"code": "RRRRR2"}`})
	signup := func(id, code, country, at string) {
		t.Helper()
		e.must(http.StatusCreated, req{Method: "POST", Path: "/v1/users", Key: bootstrapKey,
			Body: map[string]string{"id": id, "referral_code": code, "country": country, "registered_at": at}})
	}
	signup("A", "RRRRRR", "DE", "2026-01-02T00:00:00Z")
	signup("B", "RRRRRR", "FR", "2026-01-03T00:00:00Z")
	signup("D", "RRRRR2", "DE", "2026-01-04T00:00:00Z")
	e.code("B", "BBBBBB")
	signup("C", "BBBBBB", "DE", "2026-01-05T00:00:00Z")
	e.must(http.StatusCreated, req{Method: "POST", Path: "/v1/users/A/events", Key: bootstrapKey, Body: `{"id": "kyc-A", "type": "kyc_verified", "at": "2026-01-06T00:00:00Z"}`})
	e.must(http.StatusCreated, req{Method: "POST", Path: "/v1/users/D/events", Key: bootstrapKey, Body: `{"id": "kyc-D", "type": "kyc_verified", "at": "2026-01-08T00:00:00Z"}`})
	withVolume := func(tr map[string]any, volume string) map[string]any {
		tr["volume"] = map[string]string{"amount": volume, "currency": "USDT"}
		return tr
	}
	// R earns A: 100 × (0.20 − 0.05) = 15, D: 200 × 0.20 = 40; C's trades pay B.
	e.book(withVolume(trade("ta", "A", "100"), "90000"), withVolume(trade("td", "D", "200"), "10000"), withVolume(trade("tc", "C", "100"), "5000"))
	e.must(http.StatusOK, req{Method: "PUT", Path: "/v1/affiliates/R/referrals/D/note", Key: rKey, Body: `{"note": "VIP prospect"}`})
	auditor := e.key(keys.RoleAuditor, "")

	list := func(key, query string) listJSON[referralJSON] {
		t.Helper()
		var page listJSON[referralJSON]
		e.must(http.StatusOK, req{Method: "GET", Path: "/v1/affiliates/R/referrals?" + query, Key: key}).Decode(t, &page)
		return page
	}
	ids := func(page listJSON[referralJSON]) string {
		var out []string
		for _, r := range page.Data {
			out = append(out, r.Referee)
		}
		return strings.Join(out, ",")
	}
	for _, tc := range []struct{ query, want string }{
		{"", "D,B,A"},
		{"level=1", "D,B,A"},
		{"level=2", "C"},
		{"level=all", "C,D,B,A"},
		{"level=3", ""},
		{"country=DE", "D,A"},
		{"country=DE&level=all", "C,D,A"},
		{"code=rrrrrr", "B,A"},
		{"registered_from=2026-01-03T00:00:00Z&registered_to=2026-01-04T00:00:00Z", "B"},
		{"milestone=kyc_verified", "D,A"},
		{"milestone=kyc_verified&milestone_from=2026-01-07T00:00:00Z", "D"},
		{"milestone=first_trade", "D,A"},
		{"q=vip", "D"},
		{"q=A", "A"},
		{"order=commission", "D,A,B"},
		{"order=volume", "A,D,B"},
		{"order=commission&level=all", "D,A,C,B"},
		{"order=registered_at", "D,B,A"},
	} {
		if got := ids(list(bootstrapKey, tc.query)); got != tc.want {
			t.Errorf("referrals?%s = %s, want %s", tc.query, got, tc.want)
		}
	}
	// Notes: the affiliate searches them; an auditor neither sees nor searches them.
	if got := list(rKey, "q=vip"); len(got.Data) != 1 || got.Data[0].Note != "VIP prospect" || got.Data[0].Referee != maskID("D") {
		t.Errorf("R's search of its notes = %+v", got.Data)
	}
	if got := list(rKey, "q=A"); len(got.Data) != 1 || got.Data[0].Referee != maskID("A") {
		t.Errorf("R's search of a whole id = %+v", got.Data)
	}
	if got := list(rKey, "q=AB"); len(got.Data) != 0 {
		t.Errorf("R's search by a prefix that is no whole id = %+v, want none (ids are masked for it)", got.Data)
	}
	if got := list(auditor, "q=vip"); len(got.Data) != 0 {
		t.Errorf("an auditor's search of the notes = %+v, want none", got.Data)
	}
	for _, r := range list(auditor, "").Data {
		if r.Note != "" {
			t.Errorf("an auditor sees a note: %+v", r)
		}
	}
	// Figures, commission type and kickback.
	byID := map[string]referralJSON{}
	for _, r := range list(bootstrapKey, "level=all").Data {
		byID[r.Referee] = r
	}
	if a := byID["A"]; a.Commission != "15" || a.Volume != "90000" || a.CommissionType != "shared" || a.Kickback == nil || *a.Kickback != "0.05" || a.Level != 1 {
		t.Errorf("A = %+v", a)
	}
	if d := byID["D"]; d.Commission != "40" || d.CommissionType != "rebate" || d.Kickback != nil || d.Note != "VIP prospect" {
		t.Errorf("D = %+v", d)
	}
	if c := byID["C"]; c.Level != 2 || c.Commission != "0" {
		t.Errorf("C = %+v", c)
	}
	// A kickback edited by R reaches A's next trade and the list.
	e.must(http.StatusOK, req{Method: "PATCH", Path: "/v1/affiliates/R/codes/RRRRRR", Key: rKey, Body: `{"kickback": "0.10"}`})
	e.book(trade("ta2", "A", "100"))
	if got := e.shares("ta2"); got["R"] != "10" || got["A"] != "10" {
		t.Errorf("ta2 shares after the kickback edit = %v, want R 10, A 10", got)
	}
	if a := list(bootstrapKey, "q=A").Data; len(a) != 1 || a[0].Kickback == nil || *a[0].Kickback != "0.1" || a[0].Commission != "25" {
		t.Errorf("A after the kickback edit = %+v", a)
	}
	e.must(http.StatusBadRequest, req{Method: "PATCH", Path: "/v1/affiliates/R/codes/RRRRRR", Key: rKey, Body: `{"kickback": "0.21"}`})
	// Paging one at a time in each order, as R (masked) and as the admin,
	// gives the unpaged order, each referee once.
	for _, order := range []string{"registered_at", "commission", "volume"} {
		for _, key := range []string{bootstrapKey, rKey} {
			want := ids(list(key, "level=all&order="+order))
			var got []string
			cursor := ""
			for range 10 {
				q := "level=all&limit=1&order=" + order
				if cursor != "" {
					q += "&cursor=" + cursor
				}
				page := list(key, q)
				got = append(got, ids(page))
				if cursor = page.NextCursor; cursor == "" {
					break
				}
			}
			if strings.Join(got, ",") != want {
				t.Errorf("paged by %s = %v, want %s", order, got, want)
			}
		}
	}
	// Top referees of the period, and CSV.
	var top topReferralsJSON
	e.must(http.StatusOK, req{Method: "GET", Path: "/v1/affiliates/R/referrals/top?from=2026-01-01T00:00:00Z&to=2026-02-01T00:00:00Z&limit=1", Key: rKey}).Decode(t, &top)
	if len(top.Data) != 1 || top.Data[0].Referee != maskID("D") || top.Data[0].Commission != "40" || top.Data[0].Rank != 1 || len(top.Unpriced) != 0 {
		t.Errorf("top 1 = %+v", top)
	}
	e.must(http.StatusOK, req{Method: "GET", Path: "/v1/affiliates/R/referrals/top?from=2026-02-01T00:00:00Z&to=2026-03-01T00:00:00Z", Key: bootstrapKey}).Decode(t, &top)
	if len(top.Data) != 0 {
		t.Errorf("top of a period without trades = %+v", top)
	}
	// A fee in a currency without an FX rate: R's share (10 × (0.20 −
	// 0.10)) counts 0 in A's commission and is reported, per currency, as
	// unpriced.
	e.must(http.StatusCreated, req{Method: "PUT", Path: "/v1/currencies/EURT", Key: bootstrapKey, Body: map[string]any{"precision": 2}})
	eurt := trade("ta-eurt", "A", "10")
	eurt["fee"] = map[string]string{"amount": "10", "currency": "EURT"}
	e.book(eurt)
	for _, r := range list(bootstrapKey, "q=A").Data {
		if r.Commission != "25" || len(r.Unpriced) != 1 || r.Unpriced[0] != (statsUnpricedJSON{Currency: "EURT", Commission: "1", Fees: "10"}) {
			t.Errorf("A with an unpriced EURT share = %+v", r)
		}
	}
	if d := list(bootstrapKey, "q=D").Data; len(d) != 1 || d[0].Unpriced == nil || len(d[0].Unpriced) != 0 {
		t.Errorf("D, all priced = %+v, want unpriced []", d)
	}
	e.must(http.StatusOK, req{Method: "GET", Path: "/v1/affiliates/R/referrals/top", Key: bootstrapKey}).Decode(t, &top)
	if len(top.Unpriced) != 1 || top.Unpriced[0].Currency != "EURT" || top.Unpriced[0].Commission != "1" {
		t.Errorf("top with an unpriced share: unpriced = %+v", top.Unpriced)
	}
	res := e.must(http.StatusOK, req{Method: "GET", Path: "/v1/affiliates/R/referrals?country=DE&order=commission&format=csv", Key: rKey})
	if body := string(res.Body); !strings.HasPrefix(body, strings.Join(referralsCSVHeader, ",")+"\r\n") || !strings.Contains(body, maskID("D")+",1,RRRRR2,,2026-01-04T00:00:00Z") ||
		!strings.Contains(body, "VIP prospect") || strings.Count(body, "\r\n") != 3 {
		t.Errorf("CSV =\n%s", body)
	}
	res = e.must(http.StatusOK, req{Method: "GET", Path: "/v1/affiliates/R/referrals/top", Key: rKey, Header: map[string]string{"Accept": "text/csv"}})
	if body := string(res.Body); !strings.HasPrefix(body, "rank,referee,currency,commission,fees,volume,trades\r\n1,"+maskID("D")+",USD,40,") {
		t.Errorf("top CSV =\n%s", body)
	}
}
