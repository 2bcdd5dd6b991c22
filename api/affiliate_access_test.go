package api

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/folioledger/folio"
	"github.com/folioledger/folio/keys"
)

// TestAffiliateKeyScopeAndMasking: an affiliate key reads its own user,
// chain, codes, referees, accruals and balance — with every other user's
// id masked and no cursor giving one away — and nothing of anyone else.
func TestAffiliateKeyScopeAndMasking(t *testing.T) {
	e := newEnv(t)
	e.currencies()
	e.putProgram("broker", map[string]any{"kind": "levels", "levels": []string{"0.25", "0.10"}, "default": true})
	e.tree("alice>", "alice>carol", "zed>")
	e.code("carol", "CARL22")
	// Seven referees: five registered at the same instant (the cursor of
	// an affiliate key must page through them without ids), two later.
	var referees []string
	for i := 1; i <= 7; i++ {
		id := fmt.Sprintf("referee%02d", i)
		at := "2026-01-01T00:00:00Z"
		if i > 5 {
			at = fmt.Sprintf("2026-01-0%dT00:00:00Z", i-4)
		}
		e.must(http.StatusCreated, req{Method: "POST", Path: "/v1/users", Key: bootstrapKey,
			Body: map[string]any{"id": id, "referral_code": "CARL22", "registered_at": at, "country": "DE", "signup_ip": "198.51.100.9"}})
		referees = append(referees, id)
	}
	e.code("referee01", "REFEREEA")
	e.user("grandchild", "REFEREEA")
	e.book(trade("t-1", "referee03", "100"), trade("t-2", "grandchild", "10"))
	carol := e.key(keys.RoleAffiliate, "carol")

	// Referees page by page: the affiliate sees the admin's list masked.
	page := func(key string) ([]string, []string, refereesJSON) {
		var ids, cursors []string
		var first refereesJSON
		cursor := ""
		for n := 0; ; n++ {
			path := "/v1/affiliates/carol/referees?limit=2"
			if cursor != "" {
				path += "&cursor=" + url.QueryEscape(cursor)
			}
			var pg refereesJSON
			e.must(http.StatusOK, req{Method: "GET", Path: path, Key: key}).Decode(t, &pg)
			if n == 0 {
				first = pg
			}
			for _, r := range pg.Data {
				ids = append(ids, r.ID)
				if key == carol && (r.Country != "" || r.SignupIP != "") {
					t.Errorf("affiliate sees referee details: %+v", r)
				}
			}
			if pg.NextCursor == "" || n > 10 {
				break
			}
			cursor = pg.NextCursor
			cursors = append(cursors, cursor)
		}
		return ids, cursors, first
	}
	full, _, adminFirst := page(bootstrapKey)
	if strings.Join(full, ",") != strings.Join(referees, ",") || adminFirst.Data[0].Country != "DE" {
		t.Fatalf("admin's referees = %v, want %v", full, referees)
	}
	if fmt.Sprint(adminFirst.Levels) != "[{1 7} {2 1}]" {
		t.Errorf("levels = %v, want 7 direct and 1 at level 2", adminFirst.Levels)
	}
	masked, cursors, first := page(carol)
	var want []string
	for _, id := range referees {
		want = append(want, maskID(id))
	}
	if strings.Join(masked, ",") != strings.Join(want, ",") || masked[0] != "r***01" {
		t.Fatalf("affiliate's referees = %v, want %v", masked, want)
	}
	if fmt.Sprint(first.Levels) != "[{1 7} {2 1}]" {
		t.Errorf("affiliate's levels = %v", first.Levels)
	}
	for _, c := range cursors {
		raw, _ := base64.RawURLEncoding.DecodeString(c)
		if strings.Contains(string(raw), "referee0") {
			t.Errorf("an affiliate's cursor %q holds an id: %s", c, raw)
		}
	}
	// An admin cursor is no good to an affiliate key, and the reverse.
	_, adminCursors, _ := page(bootstrapKey)
	if res := e.do(req{Method: "GET", Path: "/v1/affiliates/carol/referees?cursor=" + adminCursors[0], Key: carol}); res.Status != http.StatusBadRequest {
		t.Errorf("admin cursor with an affiliate key = %d", res.Status)
	}

	// Accruals: the trader is masked for the affiliate, not for admins.
	var lines listJSON[accrualJSON]
	e.must(http.StatusOK, req{Method: "GET", Path: "/v1/affiliates/carol/accruals", Key: carol}).Decode(t, &lines)
	if len(lines.Data) != 2 {
		t.Fatalf("carol's accruals = %+v", lines.Data)
	}
	for _, a := range lines.Data {
		if strings.Contains(a.TraderID, "referee") || strings.Contains(a.TraderID, "grandchild") || a.Beneficiary != "carol" {
			t.Errorf("accrual seen by the affiliate: %+v", a)
		}
	}
	e.must(http.StatusOK, req{Method: "GET", Path: "/v1/affiliates/carol/accruals?trade_id=t-1", Key: bootstrapKey}).Decode(t, &lines)
	if len(lines.Data) != 1 || lines.Data[0].TraderID != "referee03" || lines.Data[0].Amount != "25" {
		t.Fatalf("admin's accruals = %+v", lines.Data)
	}
	// Accrual pagination and filters.
	e.must(http.StatusOK, req{Method: "GET", Path: "/v1/affiliates/carol/accruals?limit=1", Key: carol}).Decode(t, &lines)
	if len(lines.Data) != 1 || lines.NextCursor == "" {
		t.Fatalf("first accrual page = %+v", lines)
	}
	var rest listJSON[accrualJSON]
	e.must(http.StatusOK, req{Method: "GET", Path: "/v1/affiliates/carol/accruals?limit=1&cursor=" + lines.NextCursor, Key: carol}).Decode(t, &rest)
	if len(rest.Data) != 1 || rest.NextCursor != "" || rest.Data[0].ID == lines.Data[0].ID {
		t.Fatalf("second accrual page = %+v", rest)
	}
	for q, n := range map[string]int{"currency=USDT": 2, "currency=USD": 0, "source=bounty": 0, "from=2026-01-11": 0, "to=2026-01-11": 2} {
		e.must(http.StatusOK, req{Method: "GET", Path: "/v1/affiliates/carol/accruals?" + q, Key: carol}).Decode(t, &lines)
		if len(lines.Data) != n {
			t.Errorf("accruals?%s: %d lines, want %d", q, len(lines.Data), n)
		}
	}

	// Own user, chain, codes, balance.
	var u userJSON
	e.must(http.StatusOK, req{Method: "GET", Path: "/v1/users/carol", Key: carol}).Decode(t, &u)
	if u.ID != "carol" || u.Referrer == nil || *u.Referrer != "a***e" {
		t.Fatalf("own user = %+v", u)
	}
	var chain struct {
		Chain []chainMemberJSON `json:"chain"`
	}
	e.must(http.StatusOK, req{Method: "GET", Path: "/v1/users/carol/chain", Key: carol}).Decode(t, &chain)
	if len(chain.Chain) != 1 || chain.Chain[0].ID != "a***e" || chain.Chain[0].Rate != nil {
		t.Fatalf("own chain = %+v", chain)
	}
	var codes listJSON[referralCodeJSON]
	e.must(http.StatusOK, req{Method: "GET", Path: "/v1/affiliates/carol/codes", Key: carol}).Decode(t, &codes)
	if len(codes.Data) != 1 || codes.Data[0].Referrals != 7 {
		t.Fatalf("own codes = %+v", codes.Data)
	}
	var bal balanceJSON
	e.must(http.StatusOK, req{Method: "GET", Path: "/v1/accounts/208:USDT:carol/balance", Key: carol}).Decode(t, &bal)
	if bal.Balance != "26" {
		t.Fatalf("own 208 = %+v, want 26 (25 from referee03, 1 from grandchild)", bal)
	}

	// Anyone else's data, and every write, is refused.
	for _, q := range []req{
		{Method: "GET", Path: "/v1/users/referee03"},
		{Method: "GET", Path: "/v1/users/alice/chain"},
		{Method: "GET", Path: "/v1/affiliates/alice/referees"},
		{Method: "GET", Path: "/v1/affiliates/alice/accruals"},
		{Method: "GET", Path: "/v1/affiliates/zed/codes"},
		{Method: "GET", Path: "/v1/accounts/208:USDT:alice/balance"},
		{Method: "GET", Path: "/v1/trades/t-1"},
		{Method: "GET", Path: "/v1/programs"},
		{Method: "POST", Path: "/v1/affiliates/zed/codes", Body: `{}`},
		{Method: "PATCH", Path: "/v1/affiliates/zed/codes/ZZZZZZ", Body: `{"note": "x"}`},
		{Method: "PUT", Path: "/v1/affiliates/zed/referrals/carol/note", Body: `{"note": "x"}`},
		{Method: "PUT", Path: "/v1/users/zed/rate", Body: `{"rate": "0.1"}`},
		{Method: "PUT", Path: "/v1/users/carol/referrer", Body: `{"referrer": "zed"}`},
		{Method: "POST", Path: "/v1/trades", Body: `{"trades": []}`},
		{Method: "POST", Path: "/v1/users", Body: `{"id": "x1"}`},
	} {
		q.Key = carol
		if res := e.do(q); res.Status != http.StatusForbidden || problemCode(t, res) != folio.EFORBIDDEN {
			t.Errorf("%s %s with carol's affiliate key = %d %s, want 403", q.Method, q.Path, res.Status, res.Body)
		}
	}
}

// TestMaskID pins the masking of user ids shown to affiliate keys.
func TestMaskID(t *testing.T) {
	for _, c := range []struct{ id, want string }{
		{"u123442", "u***42"}, {"referee01", "r***01"}, {"abcdef", "a***ef"}, {"alice", "a***e"}, {"bob", "b***b"}, {"ab", "***"}, {"a", "***"},
	} {
		if got := maskID(c.id); got != c.want {
			t.Errorf("maskID(%q) = %q, want %q", c.id, got, c.want)
		}
	}
}
