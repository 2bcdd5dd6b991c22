package api

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/cockroachdb/apd/v3"

	"github.com/folioledger/folio"
	"github.com/folioledger/folio/keys"
)

// Product lines, VIP levels, eligibility, code limits, campaigns and
// program versions (issue 15 items 3 and 8), end to end over HTTP.

// productTrade is a trade of a product line with a USDT fee.
func productTrade(id, user, fee, product string) map[string]any {
	tr := trade(id, user, fee)
	if product != "" {
		tr["product"] = product
	}
	return tr
}

// getTradeJSON reads GET /v1/trades/{id}.
func (e *env) getTradeJSON(id string) tradeJSON {
	e.t.Helper()
	var tr tradeJSON
	e.must(http.StatusOK, req{Method: "GET", Path: "/v1/trades/" + id, Key: bootstrapKey}).Decode(e.t, &tr)
	return tr
}

// commissionOf is the sum of a trade's accrual amounts to beneficiary.
func commissionOf(t *testing.T, tr tradeJSON, beneficiary string) string {
	t.Helper()
	var sum apd.Decimal
	for _, a := range tr.Accruals {
		if a.Beneficiary != beneficiary {
			continue
		}
		var d apd.Decimal
		if _, _, err := d.SetString(a.Amount); err != nil {
			t.Fatalf("accrual amount %q: %v", a.Amount, err)
		}
		if _, err := apd.BaseContext.WithPrecision(40).Add(&sum, &sum, &d); err != nil {
			t.Fatal(err)
		}
	}
	return sum.Text('f')
}

// TestByProductRates: a futures trade earns the program's futures rate
// (Binance's separate futures rate), a spot trade (and one without a
// product) the default, and a product without an entry the default too.
func TestByProductRates(t *testing.T) {
	e := newEnv(t)
	e.currencies()
	e.putProgram("broker", map[string]any{"kind": "levels", "levels": []string{"0.2"}, "default": true,
		"by_product": map[string]any{"futures": map[string]any{"levels": []string{"0.4"}}}})
	e.tree("alice>", "alice>bob")
	e.book(productTrade("t-spot", "bob", "10", "spot"), productTrade("t-fut", "bob", "10", "futures"),
		productTrade("t-none", "bob", "10", ""), productTrade("t-margin", "bob", "10", "margin"))
	for _, c := range []struct{ id, product, want string }{{"t-spot", "spot", "2"}, {"t-fut", "futures", "4"}, {"t-none", "spot", "2"}, {"t-margin", "margin", "2"}} {
		tr := e.getTradeJSON(c.id)
		if tr.Product != c.product {
			t.Errorf("%s: product = %q, want %q", c.id, tr.Product, c.product)
		}
		if got := commissionOf(t, tr, "alice"); got != c.want {
			t.Errorf("%s: alice earned %s, want %s", c.id, got, c.want)
		}
		if c.id == "t-fut" && tr.Explanation["by_product"] != "futures" {
			t.Errorf("%s: explanation %v does not name the futures rates", c.id, tr.Explanation)
		}
	}
	if got := e.balance("208:USDT:alice"); got != "10" {
		t.Errorf("208:USDT:alice = %s, want 10 (2 + 4 + 2 + 2)", got)
	}
	// A replay of the spot trade is "exists"; the same id as futures is
	// other content.
	if r := e.postTrades("", productTrade("t-spot", "bob", "10", ""))[0]; r.Status != "exists" {
		t.Errorf("replayed spot trade: %+v", r)
	}
	if r := e.postTrades("", productTrade("t-spot", "bob", "10", "futures"))[0]; r.Status != "rejected" || r.Error == nil || r.Error.Code != folio.EIDEMPOTENCY {
		t.Errorf("spot trade replayed as futures: %+v", r)
	}
}

// TestVIPLevelEligibility: a referrer whose VIP level the program does not
// list earns nothing and GET /v1/trades/{id} says why; once an admin sets
// an eligible level it earns, and the level history is kept.
func TestVIPLevelEligibility(t *testing.T) {
	e := newEnv(t)
	e.currencies()
	e.putProgram("vip", map[string]any{"kind": "levels", "levels": []string{"0.25"}, "default": true,
		"eligibility": map[string]any{"vip_levels": []int{1, 2}}})
	e.tree("alice>", "alice>bob")
	e.book(trade("t-1", "bob", "10"))
	tr := e.getTradeJSON("t-1")
	if len(tr.Accruals) != 0 || tr.Reason == nil || !strings.Contains(*tr.Reason, "VIP level 0") || tr.Explanation["ineligible"] != "vip_level" {
		t.Fatalf("ineligible trade: accruals %v reason %v explanation %v", tr.Accruals, tr.Reason, tr.Explanation)
	}
	if got := e.balance("605:USDT"); got != "10" {
		t.Errorf("605:USDT = %s, want the whole fee 10", got)
	}
	var u userJSON
	e.must(http.StatusOK, req{Method: "PUT", Path: "/v1/users/alice/vip-level", Key: bootstrapKey, Body: map[string]any{"vip_level": 2}}).Decode(t, &u)
	if u.VIPLevel != 2 {
		t.Fatalf("PUT vip-level answered %+v", u)
	}
	e.book(trade("t-2", "bob", "10"))
	if got := commissionOf(t, e.getTradeJSON("t-2"), "alice"); got != "2.5" {
		t.Errorf("eligible trade paid alice %s, want 2.5", got)
	}
	var hist listJSON[vipLevelJSON]
	e.must(http.StatusOK, req{Method: "GET", Path: "/v1/users/alice/vip-levels", Key: bootstrapKey}).Decode(t, &hist)
	if len(hist.Data) != 2 || hist.Data[0].VIPLevel != 0 || hist.Data[0].Actor != "signup" || hist.Data[1].VIPLevel != 2 {
		t.Errorf("VIP history = %+v", hist.Data)
	}
	// A user may sign up with a level.
	e.must(http.StatusCreated, req{Method: "POST", Path: "/v1/users", Key: bootstrapKey, Body: map[string]any{"id": "vera", "vip_level": 3}}).Decode(t, &u)
	if u.VIPLevel != 3 {
		t.Errorf("signup with vip_level 3 = %+v", u)
	}
	// A replay of the signup is the same user, even after the level
	// changed; another level is a conflict.
	e.must(http.StatusOK, req{Method: "PUT", Path: "/v1/users/vera/vip-level", Key: bootstrapKey, Body: map[string]any{"vip_level": 4}})
	e.must(http.StatusOK, req{Method: "POST", Path: "/v1/users", Key: bootstrapKey, Body: map[string]any{"id": "vera", "vip_level": 3}}).Decode(t, &u)
	if u.VIPLevel != 4 {
		t.Errorf("replayed signup answered %+v, want the current level 4", u)
	}
	e.must(http.StatusConflict, req{Method: "POST", Path: "/v1/users", Key: bootstrapKey, Body: map[string]any{"id": "vera", "vip_level": 2}})
}

// TestMinVolumeEligibility: Orderly's prerequisite — the referrer's own
// traded volume must reach min_volume before its referees' trades pay it.
func TestMinVolumeEligibility(t *testing.T) {
	e := newEnv(t)
	e.currencies()
	e.putProgram("orderly", map[string]any{"kind": "levels", "levels": []string{"0.25"}, "default": true,
		"eligibility": map[string]any{"min_volume": map[string]string{"amount": "1000", "currency": "USDT"}}})
	e.tree("alice>", "alice>bob")
	e.book(trade("t-1", "bob", "10"))
	// The reason shows amounts at USDT's precision (6 places), as every
	// text does (issue 15, item 9).
	tr := e.getTradeJSON("t-1")
	if len(tr.Accruals) != 0 || tr.Explanation["ineligible"] != "min_volume" || tr.Reason == nil ||
		!strings.Contains(*tr.Reason, "has traded 0.000000 USDT") || !strings.Contains(*tr.Reason, "at least 1000.000000 USDT") {
		t.Fatalf("below min_volume: accruals %v reason %v", tr.Accruals, tr.Reason)
	}
	own := func(id, amount string) map[string]any {
		tr := trade(id, "alice", "1")
		tr["volume"] = map[string]string{"amount": amount, "currency": "USDT"}
		return tr
	}
	e.book(own("a-1", "600"))
	// 600 folded into alice's own volume, the next 400 in the tail.
	if err := e.srv.affiliate.FoldAllStats(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.book(trade("t-2", "bob", "10"))
	if tr := e.getTradeJSON("t-2"); len(tr.Accruals) != 0 || tr.Explanation["ineligible"] != "min_volume" || tr.Reason == nil ||
		!strings.Contains(*tr.Reason, "has traded 600.000000 USDT") {
		t.Fatalf("600 of 1000 traded: %v %v", tr.Accruals, tr.Explanation)
	}
	e.book(own("a-2", "400"))
	e.book(trade("t-3", "bob", "10"))
	if got := commissionOf(t, e.getTradeJSON("t-3"), "alice"); got != "2.5" {
		t.Errorf("at min_volume alice earned %s, want 2.5", got)
	}
}

// TestProgramMaxCodes: a program's max_codes bounds its affiliates' codes.
func TestProgramMaxCodes(t *testing.T) {
	e := newEnv(t)
	e.currencies()
	e.putProgram("small", map[string]any{"kind": "levels", "levels": []string{"0.2"}, "default": true, "max_codes": 2})
	e.user("alice", "")
	e.code("alice", "ALJCEA")
	e.code("alice", "ALJCEB")
	res := e.do(req{Method: "POST", Path: "/v1/affiliates/alice/codes", Key: bootstrapKey, Body: map[string]any{"code": "ALJCEC"}})
	if res.Status != http.StatusConflict || problemCode(t, res) != folio.ECONFLICT || !strings.Contains(string(res.Body), "max_codes 2") {
		t.Fatalf("third code = %d %s", res.Status, res.Body)
	}
	var codes listJSON[referralCodeJSON]
	e.must(http.StatusOK, req{Method: "GET", Path: "/v1/affiliates/alice/codes", Key: bootstrapKey}).Decode(t, &codes)
	if len(codes.Data) != 2 {
		t.Errorf("alice has %d codes, want 2", len(codes.Data))
	}
}

// TestStatsByProductAndCampaign: statistics grouped by product and by the
// traders' signup campaign sum exactly to the totals, before and after
// the folder has folded the trades.
func TestStatsByProductAndCampaign(t *testing.T) {
	e := newEnv(t)
	e.currencies()
	e.must(http.StatusOK, req{Method: "PUT", Path: "/v1/rates/USDT/USD", Key: bootstrapKey, Body: map[string]string{"rate": "0.9998", "source": "feed", "at": "2026-01-01T00:00:00Z"}})
	e.putProgram("broker", map[string]any{"kind": "levels", "levels": []string{"0.25", "0.1"}, "default": true,
		"by_product": map[string]any{"futures": map[string]any{"levels": []string{"0.4", "0.1"}}}})
	e.user("alice", "")
	e.code("alice", "ALJCEX")
	for _, u := range []struct {
		id  string
		utm any
	}{{"bob", map[string]string{"source": "twitter", "medium": "social", "campaign": "spring"}}, {"carol", nil},
		{"dave", map[string]string{"campaign": "summer"}}} {
		body := map[string]any{"id": u.id, "referral_code": "ALJCEX", "registered_at": "2026-01-01T00:00:00Z"}
		if u.utm != nil {
			body["utm"] = u.utm
		}
		var got userJSON
		e.must(http.StatusCreated, req{Method: "POST", Path: "/v1/users", Key: bootstrapKey, Body: body}).Decode(t, &got)
		if u.id == "bob" && (got.UTM.Source != "twitter" || got.UTM.Medium != "social" || got.UTM.Campaign != "spring") {
			t.Fatalf("bob's utm = %+v", got.UTM)
		}
	}
	e.book(productTrade("s-1", "bob", "10.5", "spot"), productTrade("s-2", "carol", "3.333333", "futures"), productTrade("s-3", "dave", "7", "futures"),
		productTrade("s-4", "bob", "1.000001", "margin"), productTrade("s-5", "dave", "2", ""))
	check := func(stage string) {
		groups := map[string]map[string]statsGroupJSON{}
		var totals statsTotalsJSON
		for _, by := range []string{"product", "campaign"} {
			var st statsJSON
			e.must(http.StatusOK, req{Method: "GET", Path: "/v1/affiliates/alice/stats?from=2026-01-10&to=2026-01-11&group_by=" + by, Key: bootstrapKey}).Decode(t, &st)
			totals = st.Totals
			groups[by] = map[string]statsGroupJSON{}
			var com, fees, vol apd.Decimal
			var trades int64
			for _, g := range st.Groups {
				groups[by][g.Key] = g
				for _, x := range []struct {
					dst *apd.Decimal
					s   string
				}{{&com, g.Commission}, {&fees, g.Fees}, {&vol, g.Volume}} {
					var d apd.Decimal
					if _, _, err := d.SetString(x.s); err != nil {
						t.Fatal(err)
					}
					if _, err := apd.BaseContext.WithPrecision(40).Add(x.dst, x.dst, &d); err != nil {
						t.Fatal(err)
					}
				}
				trades += g.Trades
			}
			if com.Text('f') != st.Totals.Commission || fees.Text('f') != st.Totals.Fees || vol.Text('f') != st.Totals.Volume || trades != st.Totals.Trades {
				t.Errorf("%s: groups by %s sum to %s/%s/%s/%d, totals are %+v", stage, by, com.Text('f'), fees.Text('f'), vol.Text('f'), trades, st.Totals)
			}
		}
		if totals.Trades != 5 || totals.Commission == "0" {
			t.Errorf("%s: totals = %+v", stage, totals)
		}
		for by, keys := range map[string][]string{"product": {"futures", "margin", "spot"}, "campaign": {"", "spring", "summer"}} {
			if len(groups[by]) != len(keys) {
				t.Errorf("%s: groups by %s = %v, want keys %v", stage, by, groups[by], keys)
			}
			for _, k := range keys {
				if _, ok := groups[by][k]; !ok {
					t.Errorf("%s: no group %q by %s", stage, k, by)
				}
			}
		}
		if g := groups["product"]["futures"]; g.Trades != 2 {
			t.Errorf("%s: futures group = %+v", stage, g)
		}
		if g := groups["campaign"]["spring"]; g.Trades != 2 {
			t.Errorf("%s: spring group = %+v", stage, g)
		}
	}
	check("unfolded")
	if err := e.srv.affiliate.FoldAllStats(context.Background()); err != nil {
		t.Fatal(err)
	}
	check("folded")
	// The affiliate's own key reads them too, as CSV.
	aliceKey := e.key(keys.RoleAffiliate, "alice")
	res := e.must(http.StatusOK, req{Method: "GET", Path: "/v1/affiliates/alice/stats?from=2026-01-10&to=2026-01-11&group_by=campaign&format=csv", Key: aliceKey})
	if body := string(res.Body); !strings.Contains(body, "spring") || !strings.Contains(body, "summer") {
		t.Errorf("stats CSV by campaign:\n%s", body)
	}
}

// TestProgramValidity: a program whose valid_to has passed pays nothing
// for a trade executed after it (and says so), while a back-dated trade
// executed within its validity earns.
func TestProgramValidity(t *testing.T) {
	e := newEnv(t)
	e.currencies()
	e.putProgram("promo", map[string]any{"kind": "levels", "levels": []string{"0.3"}, "default": true,
		"valid_from": "2026-01-02T00:00:00Z", "valid_to": "2026-01-05T00:00:00Z"})
	e.tree("alice>", "alice>bob")
	late := trade("t-late", "bob", "10")
	early := trade("t-early", "bob", "10")
	early["executed_at"] = "2026-01-04T10:00:00Z"
	before := trade("t-before", "bob", "10")
	before["executed_at"] = "2026-01-01T10:00:00Z"
	e.book(late, early, before)
	for _, id := range []string{"t-late", "t-before"} {
		tr := e.getTradeJSON(id)
		if len(tr.Accruals) != 0 || tr.Explanation["ineligible"] != "program_not_valid" || tr.Reason == nil || !strings.Contains(*tr.Reason, "valid") {
			t.Errorf("%s outside validity: accruals %v explanation %v", id, tr.Accruals, tr.Explanation)
		}
	}
	if got := commissionOf(t, e.getTradeJSON("t-early"), "alice"); got != "3" {
		t.Errorf("back-dated trade within validity paid %s, want 3", got)
	}
}

// TestProgramVersionsAndDelete: every PUT is a version; DELETE disables
// the program from now on as one more version and deletes nothing. A
// trade executed after the DELETE earns nothing and says so; a trade
// executed before it uses the version valid then. A new version with a
// valid_from leaves earlier trades to the version before it.
func TestProgramVersionsAndDelete(t *testing.T) {
	e := newEnv(t)
	e.currencies()
	e.putProgram("broker", map[string]any{"kind": "levels", "levels": []string{"0.25"}, "default": true})
	e.tree("alice>", "alice>bob")
	e.putProgram("broker", map[string]any{"kind": "levels", "levels": []string{"0.2"}, "default": true})
	e.putProgram("broker", map[string]any{"kind": "levels", "levels": []string{"0.3"}, "default": true, "valid_from": "2026-01-09T00:00:00Z"})
	var p programJSON
	e.must(http.StatusOK, req{Method: "DELETE", Path: "/v1/programs/broker", Key: bootstrapKey}).Decode(t, &p)
	if !p.Disabled || p.Version != 4 || p.History != "/v1/programs/broker/versions" || p.ValidFrom != "2026-01-10T12:00:00Z" {
		t.Fatalf("DELETE answered %+v", p)
	}
	var list listJSON[programJSON]
	e.must(http.StatusOK, req{Method: "GET", Path: "/v1/programs", Key: bootstrapKey}).Decode(t, &list)
	if len(list.Data) != 1 || !list.Data[0].Disabled || list.Data[0].Version != 4 {
		t.Fatalf("GET /v1/programs = %+v", list.Data)
	}
	var vs listJSON[programVersionJSON]
	e.must(http.StatusOK, req{Method: "GET", Path: "/v1/programs/broker/versions", Key: bootstrapKey}).Decode(t, &vs)
	if len(vs.Data) != 4 || vs.Data[0].Version != 4 || !vs.Data[0].Disabled || vs.Data[3].Version != 1 || vs.Data[3].Levels[0] != "0.25" ||
		vs.Data[2].Levels[0] != "0.2" || vs.Data[1].Levels[0] != "0.3" {
		t.Fatalf("versions = %+v", vs.Data)
	}
	after := trade("t-after", "bob", "10")
	after["executed_at"] = "2026-01-10T12:30:00Z"
	mid := trade("t-mid", "bob", "10") // 2026-01-10T11:00: version 3 (valid from the 9th)
	old := trade("t-old", "bob", "10")
	old["executed_at"] = "2026-01-08T00:00:00Z" // before version 3's valid_from: version 2
	e.book(after, mid, old)
	tr := e.getTradeJSON("t-after")
	if len(tr.Accruals) != 0 || tr.Explanation["ineligible"] != "program_disabled" || tr.Reason == nil || !strings.Contains(*tr.Reason, "disabled") {
		t.Errorf("trade after DELETE: accruals %v explanation %v", tr.Accruals, tr.Explanation)
	}
	if got := commissionOf(t, e.getTradeJSON("t-mid"), "alice"); got != "3" {
		t.Errorf("trade before DELETE paid %s, want 3 (version 3)", got)
	}
	if got := commissionOf(t, e.getTradeJSON("t-old"), "alice"); got != "2" {
		t.Errorf("trade before version 3's valid_from paid %s, want 2 (version 2)", got)
	}
	// DELETE again changes nothing; an unknown program is 404.
	e.must(http.StatusOK, req{Method: "DELETE", Path: "/v1/programs/broker", Key: bootstrapKey}).Decode(t, &p)
	if p.Version != 4 {
		t.Errorf("second DELETE made version %d", p.Version)
	}
	e.must(http.StatusNotFound, req{Method: "DELETE", Path: "/v1/programs/nothing", Key: bootstrapKey})
	e.must(http.StatusNotFound, req{Method: "GET", Path: "/v1/programs/nothing/versions", Key: bootstrapKey})
}

// TestProductsHostileInput: bad product-line, eligibility, validity, VIP
// and campaign input is a 400 naming the problem and writes nothing.
func TestProductsHostileInput(t *testing.T) {
	e := newEnv(t)
	e.currencies()
	e.putProgram("broker", map[string]any{"kind": "levels", "levels": []string{"0.25"}, "default": true})
	e.tree("alice>", "alice>bob")
	prog := func(extra string) string {
		return `{"kind": "levels", "levels": ["0.2"]` + extra + `}`
	}
	long := strings.Repeat("x", 101)
	cases := []struct {
		name   string
		q      req
		status int
		code   string
		item   bool
	}{
		{"by_product with an unknown field", req{Method: "PUT", Path: "/v1/programs/p2", Body: prog(`, "by_product": {"futures": {"levels": ["0.3"], "bogus": "1"}}`)}, 400, folio.EINVALID, false},
		{"by_product with another kind's field", req{Method: "PUT", Path: "/v1/programs/p2", Body: prog(`, "by_product": {"futures": {"rate": "0.3"}}`)}, 400, folio.EINVALID, false},
		{"by_product with a bounty field", req{Method: "PUT", Path: "/v1/programs/p2", Body: prog(`, "by_product": {"futures": {"events": {}}}`)}, 400, folio.EINVALID, false},
		{"by_product over 100%", req{Method: "PUT", Path: "/v1/programs/p2", Body: prog(`, "by_product": {"futures": {"levels": ["0.8", "0.5"]}}`)}, 400, folio.EINVALID, false},
		{"by_product rate not a decimal", req{Method: "PUT", Path: "/v1/programs/p2", Body: prog(`, "by_product": {"futures": {"levels": ["lots"]}}`)}, 400, folio.EINVALID, false},
		{"by_product with a bad product name", req{Method: "PUT", Path: "/v1/programs/p2", Body: prog(`, "by_product": {"Futures!": {"levels": ["0.3"]}}`)}, 400, folio.EINVALID, false},
		{"by_product not an object", req{Method: "PUT", Path: "/v1/programs/p2", Body: prog(`, "by_product": {"futures": "0.3"}`)}, 400, folio.EINVALID, false},
		{"by_product on a bounty", req{Method: "PUT", Path: "/v1/programs/b2", Body: `{"kind": "bounty", "currency": "USDT", "events": {"signup": ["1"]}, "by_product": {"futures": {}}}`}, 400, folio.EINVALID, false},
		{"vip_levels not ints", req{Method: "PUT", Path: "/v1/programs/p2", Body: prog(`, "eligibility": {"vip_levels": ["gold"]}`)}, 400, folio.EINVALID, false},
		{"vip_levels fractional", req{Method: "PUT", Path: "/v1/programs/p2", Body: prog(`, "eligibility": {"vip_levels": [1.5]}`)}, 400, folio.EINVALID, false},
		{"vip_levels negative", req{Method: "PUT", Path: "/v1/programs/p2", Body: prog(`, "eligibility": {"vip_levels": [-1]}`)}, 400, folio.EINVALID, false},
		{"vip_levels empty", req{Method: "PUT", Path: "/v1/programs/p2", Body: prog(`, "eligibility": {"vip_levels": []}`)}, 400, folio.EINVALID, false},
		{"eligibility with an unknown field", req{Method: "PUT", Path: "/v1/programs/p2", Body: prog(`, "eligibility": {"vip": [1]}`)}, 400, folio.EINVALID, false},
		{"min_volume negative", req{Method: "PUT", Path: "/v1/programs/p2", Body: prog(`, "eligibility": {"min_volume": {"amount": "-1", "currency": "USDT"}}`)}, 400, folio.EINVALID, false},
		{"min_volume as a number", req{Method: "PUT", Path: "/v1/programs/p2", Body: prog(`, "eligibility": {"min_volume": {"amount": 100, "currency": "USDT"}}`)}, 400, folio.EINVALID, false},
		{"min_volume in an unknown currency", req{Method: "PUT", Path: "/v1/programs/p2", Body: prog(`, "eligibility": {"min_volume": {"amount": "100", "currency": "XYZ"}}`)}, 400, folio.ECURRENCY, false},
		{"min_volume beyond the currency's precision", req{Method: "PUT", Path: "/v1/programs/p2", Body: prog(`, "eligibility": {"min_volume": {"amount": "1.001", "currency": "USD"}}`)}, 400, folio.EAMOUNT, false},
		{"max_codes negative", req{Method: "PUT", Path: "/v1/programs/p2", Body: prog(`, "max_codes": -1`)}, 400, folio.EINVALID, false},
		{"max_codes huge", req{Method: "PUT", Path: "/v1/programs/p2", Body: prog(`, "max_codes": 1000000`)}, 400, folio.EINVALID, false},
		{"valid_from after valid_to", req{Method: "PUT", Path: "/v1/programs/p2", Body: prog(`, "valid_from": "2026-02-01T00:00:00Z", "valid_to": "2026-01-01T00:00:00Z"`)}, 400, folio.EINVALID, false},
		{"valid_from equal to valid_to", req{Method: "PUT", Path: "/v1/programs/p2", Body: prog(`, "valid_from": "2026-02-01T00:00:00Z", "valid_to": "2026-02-01T00:00:00Z"`)}, 400, folio.EINVALID, false},
		{"valid_to not a time", req{Method: "PUT", Path: "/v1/programs/p2", Body: prog(`, "valid_to": "next week"`)}, 400, folio.EINVALID, false},
		{"disabled not a boolean", req{Method: "PUT", Path: "/v1/programs/p2", Body: prog(`, "disabled": "yes"`)}, 400, folio.EINVALID, false},
		{"negative vip level", req{Method: "PUT", Path: "/v1/users/bob/vip-level", Body: `{"vip_level": -1}`}, 400, folio.EINVALID, false},
		{"vip level too high", req{Method: "PUT", Path: "/v1/users/bob/vip-level", Body: `{"vip_level": 1001}`}, 400, folio.EINVALID, false},
		{"vip level as a string", req{Method: "PUT", Path: "/v1/users/bob/vip-level", Body: `{"vip_level": "2"}`}, 400, folio.EINVALID, false},
		{"vip level missing", req{Method: "PUT", Path: "/v1/users/bob/vip-level", Body: `{}`}, 400, folio.EINVALID, false},
		{"vip level of an unknown user", req{Method: "PUT", Path: "/v1/users/nobody/vip-level", Body: `{"vip_level": 1}`}, 404, folio.ENOTFOUND, false},
		{"signup with a negative vip level", req{Method: "POST", Path: "/v1/users", Body: `{"id": "neg", "vip_level": -2}`}, 400, folio.EINVALID, false},
		{"signup with utm too long", req{Method: "POST", Path: "/v1/users", Body: `{"id": "utm1", "utm": {"campaign": "` + long + `"}}`}, 400, folio.EINVALID, false},
		{"signup with utm source too long", req{Method: "POST", Path: "/v1/users", Body: `{"id": "utm2", "utm": {"source": "` + long + `"}}`}, 400, folio.EINVALID, false},
		{"signup with a control character in utm", req{Method: "POST", Path: "/v1/users", Body: `{"id": "utm3", "utm": {"medium": "a\nb"}}`}, 400, folio.EINVALID, false},
		{"signup with an unknown utm field", req{Method: "POST", Path: "/v1/users", Body: `{"id": "utm4", "utm": {"term": "x"}}`}, 400, folio.EINVALID, false},
		{"trade with an upper-case product", req{Method: "POST", Path: "/v1/trades", Body: map[string]any{"trades": []any{productTrade("h-1", "bob", "1", "FUTURES")}}}, 200, folio.EINVALID, true},
		{"trade with a product too long", req{Method: "POST", Path: "/v1/trades", Body: map[string]any{"trades": []any{productTrade("h-2", "bob", "1", strings.Repeat("f", 33))}}}, 200, folio.EINVALID, true},
		{"trade with a numeric product", req{Method: "POST", Path: "/v1/trades", Body: `{"trades": [{"id": "h-3", "user_id": "bob", "market": "BTCUSDT", "liquidity": "taker", "fee": {"amount": "1", "currency": "USDT"}, "executed_at": "2026-01-10T11:00:00Z", "product": 7}]}`}, 200, folio.EINVALID, true},
		{"stats group_by a utm field", req{Method: "GET", Path: "/v1/affiliates/alice/stats?group_by=utm_source"}, 400, folio.EINVALID, false},
		{"delete an unknown program", req{Method: "DELETE", Path: "/v1/programs/nothing"}, 404, folio.ENOTFOUND, false},
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
			if got := hostileCode(t, res, c.item); got != c.code {
				t.Errorf("code = %q, want %q\n%s", got, c.code, truncate(string(res.Body), 500))
			}
			if after := e.snapshot() + "\n" + e.affiliateSnapshot(); after != before {
				t.Errorf("the request wrote:\nbefore %s\nafter  %s", before, after)
			}
		})
	}
}

// TestDeletedBountyPaysEarlierEventsOnly: a DELETEd bounty program pays no
// signup after the DELETE, while a signup registered before it still
// earns under the version valid then.
func TestDeletedBountyPaysEarlierEventsOnly(t *testing.T) {
	e := newEnv(t)
	e.currencies()
	e.putProgram("welcome", map[string]any{"kind": "bounty", "currency": "USDT", "events": map[string]any{"signup": []string{"5"}}})
	e.user("alice", "")
	e.code("alice", "ALJCEW")
	signup := func(id, at string) {
		body := map[string]any{"id": id, "referral_code": "ALJCEW"}
		if at != "" {
			body["registered_at"] = at
		}
		e.must(http.StatusCreated, req{Method: "POST", Path: "/v1/users", Key: bootstrapKey, Body: body})
	}
	signup("bob", "")
	if got := e.balance("208:USDT:alice"); got != "5" {
		t.Fatalf("after bob's signup alice has %s, want 5", got)
	}
	e.must(http.StatusOK, req{Method: "DELETE", Path: "/v1/programs/welcome", Key: bootstrapKey})
	signup("carol", "")
	if got := e.balance("208:USDT:alice"); got != "5" {
		t.Errorf("a signup after the DELETE paid: alice has %s, want 5", got)
	}
	signup("dave", "2026-01-05T00:00:00Z")
	if got := e.balance("208:USDT:alice"); got != "10" {
		t.Errorf("a signup registered before the DELETE did not pay: alice has %s, want 10", got)
	}
}
