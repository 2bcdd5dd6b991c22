package api

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/folioledger/folio"
	"github.com/folioledger/folio/keys"
	"github.com/folioledger/folio/payouts"
)

// TestReferralListVIPProductsRisk: the referral list shows each referee's
// VIP level, the products it traded and its signup-risk flag (issue 15,
// items 4 and 7), filters by vip_level and product, and gives affiliate
// keys the flag only — in JSON and in CSV.
func TestReferralListVIPProductsRisk(t *testing.T) {
	e := newEnv(t)
	e.currencies()
	e.putProgram("broker", map[string]any{"kind": "levels", "levels": []string{"0.25"}, "default": true})
	signup := func(body map[string]any) {
		t.Helper()
		e.must(http.StatusCreated, req{Method: "POST", Path: "/v1/users", Key: bootstrapKey, Body: body})
	}
	signup(map[string]any{"id": "R", "ip": "10.0.0.1", "registered_at": "2026-01-01T00:00:00Z"})
	e.code("R", "RRRRRR")
	// A signs up from R's address: flagged (same_ip_as_referrer); B does not.
	signup(map[string]any{"id": "A", "referral_code": "RRRRRR", "ip": "10.0.0.1", "vip_level": 2, "registered_at": "2026-01-02T00:00:00Z"})
	signup(map[string]any{"id": "B", "referral_code": "RRRRRR", "ip": "10.0.0.9", "registered_at": "2026-01-03T00:00:00Z"})
	e.code("B", "BBBBBB")
	signup(map[string]any{"id": "C", "referral_code": "BBBBBB", "vip_level": 1, "registered_at": "2026-01-04T00:00:00Z"})
	e.book(productTrade("ta1", "A", "100", ""), productTrade("ta2", "A", "100", "futures"), productTrade("tb1", "B", "40", "spot"),
		productTrade("tc1", "C", "10", "margin"))
	rKey := e.key(keys.RoleAffiliate, "R")

	list := func(key, query string) map[string]referralJSON {
		t.Helper()
		var page listJSON[referralJSON]
		e.must(http.StatusOK, req{Method: "GET", Path: "/v1/affiliates/R/referrals?" + query, Key: key}).Decode(t, &page)
		out := map[string]referralJSON{}
		for _, r := range page.Data {
			out[r.Referee] = r
		}
		return out
	}
	all := list(bootstrapKey, "level=all")
	a, b, c := all["A"], all["B"], all["C"]
	if a.VIPLevel != 2 || !slices.Equal(a.Products, []string{"futures", "spot"}) || !a.SignupFlagged || a.SignupRisk == nil || !a.SignupRisk.Flagged ||
		len(a.SignupRisk.Flags) != 1 || a.SignupRisk.Flags[0].Rule != payouts.RiskSameIPReferrer || !slices.Equal(a.SignupRisk.Matched, []string{"R"}) {
		t.Errorf("A = %+v (risk %+v), want VIP 2, products futures and spot, flagged same_ip_as_referrer matching R", a, a.SignupRisk)
	}
	if b.VIPLevel != 0 || !slices.Equal(b.Products, []string{"spot"}) || b.SignupFlagged || b.SignupRisk == nil || b.SignupRisk.Flagged {
		t.Errorf("B = %+v (risk %+v), want VIP 0, products spot, assessed and not flagged", b, b.SignupRisk)
	}
	if c.Level != 2 || c.VIPLevel != 1 || !slices.Equal(c.Products, []string{"margin"}) || c.SignupFlagged || c.SignupRisk != nil {
		t.Errorf("C = %+v, want level 2, VIP 1, products margin, no assessment", c)
	}
	// A referee without trades lists products [] (not null).
	signup(map[string]any{"id": "D", "referral_code": "RRRRRR", "registered_at": "2026-01-05T00:00:00Z"})
	res := e.must(http.StatusOK, req{Method: "GET", Path: "/v1/affiliates/R/referrals?q=D", Key: bootstrapKey})
	if !strings.Contains(string(res.Body), `"products":[]`) {
		t.Errorf("D without trades = %s, want products []", res.Body)
	}

	// Filters, on the default (SQL-paged) path and the in-memory one.
	keysOf := func(m map[string]referralJSON) string {
		var ids []string
		for id := range m {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		return strings.Join(ids, ",")
	}
	for _, tc := range []struct{ query, want string }{
		{"vip_level=2", "A"},
		{"vip_level=0", "B,D"},
		{"vip_level=1", ""},
		{"vip_level=1&level=all", "C"},
		{"product=futures", "A"},
		{"product=spot", "A,B"},
		{"product=spot&order=commission", "A,B"},
		{"product=margin&level=all&order=volume", "C"},
		{"product=options", ""},
		{"product=spot&vip_level=0", "B"},
	} {
		if got := keysOf(list(bootstrapKey, tc.query)); got != tc.want {
			t.Errorf("referrals?%s = %s, want %s", tc.query, got, tc.want)
		}
	}

	// R's own key: the flag, but neither the score, the rules nor the matched users.
	res = e.must(http.StatusOK, req{Method: "GET", Path: "/v1/affiliates/R/referrals", Key: rKey})
	if body := string(res.Body); strings.Contains(body, "signup_risk") || strings.Contains(body, "same_ip") || strings.Contains(body, `"matched"`) {
		t.Errorf("R's key sees its referees' signup risk details: %s", body)
	}
	// Short ids all mask to the same text: single referees by filter.
	one := func(query string) referralJSON {
		t.Helper()
		m := list(rKey, query)
		if len(m) != 1 {
			t.Fatalf("R's referrals?%s = %+v, want one referee", query, m)
		}
		for _, r := range m {
			return r
		}
		return referralJSON{}
	}
	if ra := one("vip_level=2"); !ra.SignupFlagged || ra.Referee != maskID("A") || !slices.Equal(ra.Products, []string{"futures", "spot"}) {
		t.Errorf("A as R sees it = %+v, want flagged, futures and spot", ra)
	}
	if rb := one("vip_level=0&product=spot"); rb.SignupFlagged || rb.Referee != maskID("B") {
		t.Errorf("B as R sees it = %+v, want not flagged", rb)
	}

	// CSV: the same columns.
	header := strings.Join(referralsCSVHeader, ",")
	if !strings.HasSuffix(header, ",vip_level,products,signup_flagged,signup_risk") {
		t.Fatalf("CSV header = %s", header)
	}
	res = e.must(http.StatusOK, req{Method: "GET", Path: "/v1/affiliates/R/referrals?vip_level=2&format=csv", Key: rKey})
	lines := strings.Split(strings.TrimSuffix(string(res.Body), "\r\n"), "\r\n")
	if len(lines) != 2 || lines[0] != header || !strings.HasPrefix(lines[1], maskID("A")+",1,RRRRRR,") || !strings.HasSuffix(lines[1], `,2,"[""futures"",""spot""]",true,`) {
		t.Errorf("R's CSV =\n%s", res.Body)
	}
	res = e.must(http.StatusOK, req{Method: "GET", Path: "/v1/affiliates/R/referrals?vip_level=2", Key: bootstrapKey, Header: map[string]string{"Accept": "text/csv"}})
	if body := string(res.Body); !strings.Contains(body, `,2,"[""futures"",""spot""]",true,`) || !strings.Contains(body, payouts.RiskSameIPReferrer) || !strings.Contains(body, `""matched"":[""R""]`) {
		t.Errorf("admin CSV =\n%s", body)
	}

	// Hostile filters: 400 naming the parameter, nothing written.
	before := e.snapshot() + e.affiliateSnapshot()
	for _, tc := range []struct{ query, field string }{
		{"vip_level=-1", "vip_level"},
		{"vip_level=1001", "vip_level"},
		{"vip_level=two", "vip_level"},
		{"vip_level=1.5", "vip_level"},
		{"vip_level=", ""},
		{"vip_level=1&vip_level=2", "vip_level"},
		{"product=Spot%20Trading", "product"},
		{"product=" + strings.Repeat("p", 33), "product"},
		{"product=%00spot", "product"},
		{"product=futures&product=spot", "product"},
	} {
		res := e.do(req{Method: "GET", Path: "/v1/affiliates/R/referrals?" + tc.query, Key: rKey})
		if tc.field == "" {
			if res.Status != http.StatusOK {
				t.Errorf("referrals?%s = %d %s, want 200 (an empty filter is no filter)", tc.query, res.Status, res.Body)
			}
			continue
		}
		var p problem
		if err := json.Unmarshal(res.Body, &p); err != nil || res.Status != http.StatusBadRequest || p.Code != folio.EINVALID || !slices.Equal(p.Fields, []string{tc.field}) {
			t.Errorf("referrals?%s = %d %s, want 400 naming %s", tc.query, res.Status, res.Body, tc.field)
		}
	}
	if after := e.snapshot() + e.affiliateSnapshot(); after != before {
		t.Errorf("a refused referral list wrote:\nbefore %s\nafter  %s", before, after)
	}
}
