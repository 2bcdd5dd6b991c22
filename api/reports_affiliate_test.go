package api

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/folioledger/folio/affiliate"
	"github.com/folioledger/folio/keys"
	"github.com/folioledger/folio/reconcile"
)

// reconciliationCSVHeader is the header Reconciliation.WriteCSV writes.
var reconciliationCSVHeader = []string{"section", "currency", "fees_booked", "distributed", "platform_revenue", "deferred_residue", "accrued_opening",
	"accrued", "bounties", "bounty_expense", "paid_out", "forfeited", "reversed", "adjustments", "accrued_closing", "kind", "detail", "entries"}

// TestReconciliationReport: the report's JSON has the docs/CONTRACT.md §4 shape and
// figures for a period, its CSV parses back to the same figures, and a
// discrepancy still answers 200 with ok false.
func TestReconciliationReport(t *testing.T) {
	f := newPayoutFixture(t)
	f.brokerTree(nil)
	t0 := f.clock.Now()
	f.trade("D", "100") // C 25, B 10, A 5, platform 60
	f.clock.Advance(time.Hour)
	t1 := f.clock.Now()
	b := f.build(http.StatusCreated)
	f.act(http.StatusOK, f.admin1, b.ID, "reject-lines", map[string]any{"lines": []string{lineOf(t, b, "C").ID}, "forfeit": true})
	f.pay(b.ID)        // A 5, B 10
	f.trade("D", "50") // C 12.5, B 5, A 2.5, platform 30
	f.clock.Advance(time.Hour)

	// By recorded time: the fixture's trades are all executed on one day.
	q := url.Values{"from": {formatTime(t1)}, "to": {formatTime(f.clock.Now())}, "basis": {"recorded"}}
	rep := f.call(http.StatusOK, req{Method: "GET", Path: "/v1/reports/reconciliation?" + q.Encode(), Key: f.auditor.secret}).JSON(t)
	for _, k := range []string{"from", "to", "basis", "from_seq", "to_seq", "ok", "currencies", "payout_batches", "discrepancies"} {
		if _, ok := rep[k]; !ok {
			t.Errorf("report has no %q: %v", k, rep)
		}
	}
	if rep["from"] != formatTime(t1) || rep["ok"] != true || len(rep["discrepancies"].([]any)) != 0 {
		t.Fatalf("report = %v", rep)
	}
	want := map[string]any{"currency": "USDT", "fees_booked": "50", "distributed": "20", "platform_revenue": "30", "deferred_residue": "0",
		"accrued_opening": "40", "accrued": "20", "bounties": "0", "bounty_expense": "0", "paid_out": "15", "forfeited": "25", "reversed": "0",
		"adjustments": "0", "accrued_closing": "20"}
	curs := rep["currencies"].([]any)
	if len(curs) != 1 || fmt.Sprint(curs[0]) != fmt.Sprint(want) {
		t.Fatalf("currencies = %v, want [%v]", curs, want)
	}
	batches := rep["payout_batches"].([]any)
	if wantB := map[string]any{"batch_id": b.ID, "currency": "USDT", "amount": "15"}; len(batches) != 1 || fmt.Sprint(batches[0]) != fmt.Sprint(wantB) {
		t.Fatalf("payout_batches = %v, want [%v]", batches, wantB)
	}

	// The first hour alone: the fee booked, nothing paid, 40 accrued.
	q = url.Values{"from": {formatTime(t0)}, "to": {formatTime(t1)}, "basis": {"recorded"}}
	first := f.call(http.StatusOK, req{Method: "GET", Path: "/v1/reports/reconciliation?" + q.Encode()}).JSON(t)
	if c := first["currencies"].([]any)[0].(map[string]any); c["fees_booked"] != "100" || c["accrued_closing"] != "40" || c["paid_out"] != "0" {
		t.Fatalf("first hour = %v", c)
	}

	// CSV: the same figures, by column name.
	res := f.call(http.StatusOK, req{Method: "GET", Path: "/v1/reports/reconciliation?basis=recorded&format=csv&from=" + url.QueryEscape(formatTime(t1)), Key: f.auditor.secret})
	rows := parseCSV(t, res)
	if !slices.Equal(rows[0], reconciliationCSVHeader) || len(rows) != 2 {
		t.Fatalf("CSV = %v, want the header and one currency row", rows)
	}
	rec := csvRecord(rows[0], rows[1])
	for k, v := range want {
		if rec[k] != v {
			t.Errorf("CSV %s = %q, want %q", k, rec[k], v)
		}
	}
	if rec["section"] != "currency" {
		t.Errorf("CSV section = %q, want currency", rec["section"])
	}

	f.call(http.StatusBadRequest, req{Method: "GET", Path: "/v1/reports/reconciliation?from=2026-02-01&to=2026-01-01"})
	f.call(http.StatusBadRequest, req{Method: "GET", Path: "/v1/reports/reconciliation?to=noon"})
	f.call(http.StatusBadRequest, req{Method: "GET", Path: "/v1/reports/reconciliation?basis=business"})
	f.call(http.StatusForbidden, req{Method: "GET", Path: "/v1/reports/reconciliation", Key: f.newKey(keys.RoleAffiliate, "A").secret})
}

// TestReconciliationDiscrepancy: a manual entry crediting 208 outside the
// commission flow is a discrepancy; the report still answers 200, ok
// false, naming the entry, in JSON and CSV.
func TestReconciliationDiscrepancy(t *testing.T) {
	e := newEnv(t)
	e.currencies()
	manual := e.post(entryBody("stray-208", posting("110:USDT", "debit", "1"), posting("208:USDT:alice", "credit", "1")))["id"].(string)
	rep := e.must(http.StatusOK, req{Method: "GET", Path: "/v1/reports/reconciliation", Key: bootstrapKey}).JSON(t)
	discs := rep["discrepancies"].([]any)
	if rep["ok"] != false || len(discs) != 1 {
		t.Fatalf("report = %v, want ok false with one discrepancy", rep)
	}
	d := discs[0].(map[string]any)
	if d["kind"] != reconcile.DiscAdjustment || d["currency"] != "USDT" || fmt.Sprint(d["entries"]) != fmt.Sprint([]any{manual}) || d["detail"] == "" {
		t.Fatalf("discrepancy = %v, want %s naming %s", d, reconcile.DiscAdjustment, manual)
	}
	rows := parseCSV(t, e.must(http.StatusOK, req{Method: "GET", Path: "/v1/reports/reconciliation", Key: bootstrapKey, Header: map[string]string{"Accept": "text/csv"}}))
	if len(rows) != 3 {
		t.Fatalf("CSV = %v, want the header, a currency row and a discrepancy row", rows)
	}
	rec := csvRecord(rows[0], rows[2])
	if rec["section"] != "discrepancy" || rec["kind"] != reconcile.DiscAdjustment || rec["entries"] != manual || rec["detail"] != d["detail"] {
		t.Fatalf("discrepancy row = %v", rec)
	}
}

// statsTree is alice ← bob01 ← carol ← dave42 on the levels program, with
// USDT worth 2 USD, and two trades: dave42's (fee 100, volume 10000:
// alice earns 5 at level 3) and carol's (fee 40, volume 4000: alice 4 at
// level 2).
func statsTree(f *payoutFixture) {
	f.t.Helper()
	f.fxRate("USDT", "USD", "2")
	f.levels(nil, "0.25", "0.10", "0.05")
	f.chain("alice", "bob01", "carol", "dave42")
	f.trades(tradeSpec{user: "dave42", fee: "100", volume: "10000", market: "BTCUSDT"}, tradeSpec{user: "carol", fee: "40", volume: "4000", market: "ETHUSDT"})
}

// TestAffiliateStats: the docs/CONTRACT.md §4 shape from the rollups, in the reporting
// currency; series and groups; referee keys masked for the affiliate's own
// key; another affiliate refused; CSV.
func TestAffiliateStats(t *testing.T) {
	f := newPayoutFixture(t)
	statsTree(f)
	aliceKey := f.newKey(keys.RoleAffiliate, "alice")

	var st statsJSON
	f.call(http.StatusOK, req{Method: "GET", Path: "/v1/affiliates/alice/stats?from=2026-01-10&to=2026-01-11&interval=day&group_by=level", Key: f.auditor.secret}).Decode(t, &st)
	if st.Affiliate != "alice" || st.From != "2026-01-10T00:00:00Z" || st.To != "2026-01-11T00:00:00Z" || st.Currency != "USD" {
		t.Fatalf("stats header = %+v", st)
	}
	if got, want := st.Totals, (statsTotalsJSON{Commission: "18", Fees: "280", Volume: "28000", Referrals: 1, Traders: st.Summary.TradedInPeriod, Trades: 2}); got != want {
		t.Errorf("totals = %+v, want %+v", got, want)
	}
	if st.Summary.Total != 1 || st.Summary.RegisteredInPeriod != 1 {
		t.Errorf("summary = %+v, want one direct referee, registered in the period", st.Summary)
	}
	if got, want := fmt.Sprint(st.ByCurrency), fmt.Sprint([]statsCurrencyJSON{{Currency: "USDT", Commission: "9", Reporting: "18"}}); got != want {
		t.Errorf("by_currency = %s, want %s", got, want)
	}
	if got, want := fmt.Sprint(st.Series), fmt.Sprint([]statsSeriesJSON{{Start: "2026-01-10T00:00:00Z", Commission: "18", Fees: "280", Volume: "28000", Trades: 2}}); got != want {
		t.Errorf("series = %s, want %s", got, want)
	}
	if got, want := fmt.Sprint(st.Groups), fmt.Sprint([]statsGroupJSON{{Key: "2", Commission: "8", Fees: "80", Volume: "8000", Trades: 1},
		{Key: "3", Commission: "10", Fees: "200", Volume: "20000", Trades: 1}}); got != want {
		t.Errorf("groups by level = %s, want %s", got, want)
	}
	// The answer is the domain's, field for field.
	dom, err := f.srv.affiliate.Stats(context.Background(), affiliate.StatsQuery{Affiliate: "alice", From: time.Date(2026, 1, 10, 0, 0, 0, 0, time.UTC),
		To: time.Date(2026, 1, 11, 0, 0, 0, 0, time.UTC), Interval: "day", GroupBy: "level"})
	if err != nil {
		t.Fatalf("Stats: %v", err)
	}
	if st.Totals.Traders != dom.Referrals.TradedInPeriod || st.Summary.Verified != dom.Referrals.Verified || len(st.Groups) != len(dom.Groups) {
		t.Errorf("HTTP stats %+v differ from the domain's %+v", st, dom)
	}

	// By referee: full ids for the auditor, masked for alice's own key.
	byReferee := func(key string) []string {
		var s statsJSON
		f.call(http.StatusOK, req{Method: "GET", Path: "/v1/affiliates/alice/stats?group_by=referee", Key: key}).Decode(t, &s)
		var keys []string
		for _, g := range s.Groups {
			keys = append(keys, g.Key)
		}
		return keys
	}
	full := byReferee(f.auditor.secret)
	if len(full) == 0 {
		t.Fatalf("no referee groups")
	}
	var want []string
	for _, k := range full {
		want = append(want, maskID(k))
	}
	if got := byReferee(aliceKey.secret); !slices.Equal(got, want) {
		t.Errorf("alice's referee keys = %v, want %v (masked %v)", got, want, full)
	}
	for _, k := range byReferee(aliceKey.secret) {
		if !strings.Contains(k, "***") {
			t.Errorf("alice sees referee key %q unmasked", k)
		}
	}

	// Another affiliate's key, and bad parameters.
	f.call(http.StatusForbidden, req{Method: "GET", Path: "/v1/affiliates/alice/stats", Key: f.newKey(keys.RoleAffiliate, "bob01").secret})
	f.call(http.StatusOK, req{Method: "GET", Path: "/v1/affiliates/alice/stats", Key: aliceKey.secret})
	f.call(http.StatusNotFound, req{Method: "GET", Path: "/v1/affiliates/nobody/stats"})
	for _, p := range []string{"interval=minute", "group_by=colour", "from=2026-02-01&to=2026-01-01", "from=yesterday", "format=xml"} {
		f.call(http.StatusBadRequest, req{Method: "GET", Path: "/v1/affiliates/alice/stats?" + p})
	}

	// CSV: a total row, the series, the groups.
	res := f.call(http.StatusOK, req{Method: "GET", Path: "/v1/affiliates/alice/stats?from=2026-01-10&to=2026-01-11&interval=day&group_by=level&format=csv", Key: aliceKey.secret})
	rows := parseCSV(t, res)
	if !slices.Equal(rows[0], statsCSVHeader) {
		t.Fatalf("header = %v, want %v", rows[0], statsCSVHeader)
	}
	var got []string
	for _, row := range rows[1:] {
		r := csvRecord(rows[0], row)
		got = append(got, strings.Join([]string{r["section"], r["start"], r["key"], r["currency"], r["commission"], r["fees"], r["volume"], r["trades"]}, ","))
	}
	wantRows := []string{"total,,,USD,18,280,28000,2", "series,2026-01-10T00:00:00Z,,USD,18,280,28000,2", "group,,2,USD,8,80,8000,1", "group,,3,USD,10,200,20000,1"}
	if !slices.Equal(got, wantRows) {
		t.Errorf("CSV rows = %v, want %v", got, wantRows)
	}
}

// TestAffiliateReferrals: direct referees with their milestones, code and
// what each generated; paged (also through referees registered at the same
// instant) with cursors that never carry a referee id for affiliate keys,
// which see ids masked; CSV.
func TestAffiliateReferrals(t *testing.T) {
	f := newPayoutFixture(t)
	f.levels(nil, "0.25")
	day := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	f.user(userSpec{id: "amber", registered: day.Add(-time.Hour)})
	f.user(userSpec{id: "ref001", referrer: "amber", registered: day})
	f.user(userSpec{id: "ref002", referrer: "amber", registered: day.Add(time.Hour)})
	f.user(userSpec{id: "ref003", referrer: "amber", registered: day.Add(time.Hour)})
	f.user(userSpec{id: "ref004", referrer: "ref001", registered: day.Add(2 * time.Hour)}) // level 2: not listed
	f.event("ref001", "kyc_verified")
	f.event("ref001", "first_deposit")
	f.trades(tradeSpec{user: "ref001", fee: "100", volume: "10000"})
	amberKey := f.newKey(keys.RoleAffiliate, "amber")

	var page listJSON[referralJSON]
	f.call(http.StatusOK, req{Method: "GET", Path: "/v1/affiliates/amber/referrals", Key: f.auditor.secret}).Decode(t, &page)
	if len(page.Data) != 3 || page.NextCursor != "" {
		t.Fatalf("referrals = %+v, want 3 on one page", page)
	}
	// Newest first; ref002 and ref003 registered at the same instant, by id.
	r1 := page.Data[2]
	code := f.code("amber")
	if r1.Referee != "ref001" || r1.Code == nil || *r1.Code != code || r1.RegisteredAt != "2026-01-05T00:00:00Z" || r1.KYCVerifiedAt == nil ||
		r1.FirstDepositAt == nil || r1.Currency != "USD" || r1.Volume != "10000" || r1.Commission != "25" || r1.Trades != 1 {
		t.Errorf("first referral = %+v", r1)
	}
	if r2 := page.Data[0]; r2.Referee != "ref002" || r2.KYCVerifiedAt != nil || r2.Volume != "0" || r2.Commission != "0" || r2.Trades != 0 {
		t.Errorf("a referee without activity = %+v", r2)
	}

	// One at a time, as the auditor and as amber: the same order; amber's
	// ids masked and absent from her cursors.
	ids := map[string]bool{"ref001": true, "ref002": true, "ref003": true}
	for _, who := range []struct {
		key    string
		masked bool
	}{{f.auditor.secret, false}, {amberKey.secret, true}} {
		var got []string
		cursor := ""
		for range 5 {
			path := "/v1/affiliates/amber/referrals?limit=1"
			if cursor != "" {
				path += "&cursor=" + cursor
			}
			var p listJSON[referralJSON]
			f.call(http.StatusOK, req{Method: "GET", Path: path, Key: who.key}).Decode(t, &p)
			for _, r := range p.Data {
				got = append(got, r.Referee)
				if who.masked && r.Country != "" {
					t.Errorf("amber sees a referee's country: %+v", r)
				}
			}
			if who.masked && p.NextCursor != "" {
				raw, _ := base64.RawURLEncoding.DecodeString(p.NextCursor)
				for id := range ids {
					if strings.Contains(string(raw), id) {
						t.Errorf("amber's cursor %q carries the referee id %s", raw, id)
					}
				}
			}
			if cursor = p.NextCursor; cursor == "" {
				break
			}
		}
		want := []string{"ref002", "ref003", "ref001"}
		if who.masked {
			want = []string{maskID("ref002"), maskID("ref003"), maskID("ref001")}
		}
		if !slices.Equal(got, want) {
			t.Errorf("paged referrals (masked %v) = %v, want %v", who.masked, got, want)
		}
	}

	f.call(http.StatusForbidden, req{Method: "GET", Path: "/v1/affiliates/amber/referrals", Key: f.newKey(keys.RoleAffiliate, "ref001").secret})
	f.call(http.StatusNotFound, req{Method: "GET", Path: "/v1/affiliates/nobody/referrals"})
	f.call(http.StatusBadRequest, req{Method: "GET", Path: "/v1/affiliates/amber/referrals?cursor=" + encodeCursor("referrals", "x|1")})
	f.call(http.StatusBadRequest, req{Method: "GET", Path: "/v1/affiliates/amber/referrals?limit=0"})

	// CSV by commission, masked for amber, two pages linked.
	res := f.call(http.StatusOK, req{Method: "GET", Path: "/v1/affiliates/amber/referrals?format=csv&limit=2&order=commission", Key: amberKey.secret})
	rows := parseCSV(t, res)
	if !slices.Equal(rows[0], referralsCSVHeader) || len(rows) != 3 {
		t.Fatalf("CSV = %v", rows)
	}
	rec := csvRecord(rows[0], rows[1])
	if rec["referee"] != maskID("ref001") || rec["code"] != code || rec["volume"] != "10000" || rec["commission"] != "25" || rec["trades"] != "1" || rec["kyc_verified_at"] == "" {
		t.Errorf("first CSV row = %v", rec)
	}
	link := res.Header.Get("Link")
	next := strings.TrimSuffix(strings.TrimPrefix(link, "<"), `>; rel="next"`)
	if next == link {
		t.Fatalf("Link = %q, want the next page", link)
	}
	rows = parseCSV(t, f.call(http.StatusOK, req{Method: "GET", Path: next, Key: amberKey.secret}))
	if len(rows) != 2 || rows[1][0] != maskID("ref003") {
		t.Fatalf("second CSV page = %v", rows)
	}
}

// TestTaxReport: payout totals per affiliate per year in the reporting
// currency, largest first; over_threshold keeps those above the threshold
// without a tax id; CSV.
func TestTaxReport(t *testing.T) {
	f := newPayoutFixture(t)
	f.fxRate("USDT", "USD", "2")
	f.levels(nil, "0.25", "0.10")
	f.chain("A", "B", "C")
	f.trade("C", "100") // B 25 USDT = 50 USD, A 10 USDT = 20 USD
	f.pay(f.build(http.StatusCreated).ID)

	var rep taxReportJSON
	f.call(http.StatusOK, req{Method: "GET", Path: "/v1/reports/tax?year=2026", Key: f.auditor.secret}).Decode(t, &rep)
	if rep.Year != 2026 || rep.Currency != "USD" || rep.Threshold != "600" || rep.OverThreshold {
		t.Fatalf("tax report = %+v", rep)
	}
	if got, want := fmt.Sprint(rep.Data), fmt.Sprint([]taxTotalJSON{{Holder: "B", Amount: "50"}, {Holder: "A", Amount: "20"}}); got != want {
		t.Fatalf("totals = %s, want %s", got, want)
	}
	f.fraudRules(map[string]any{"tax_threshold": "30"})
	rep = taxReportJSON{}
	f.call(http.StatusOK, req{Method: "GET", Path: "/v1/reports/tax?year=2026&over_threshold=true"}).Decode(t, &rep)
	if got, want := fmt.Sprint(rep.Data), fmt.Sprint([]taxTotalJSON{{Holder: "B", Amount: "50"}}); got != want || rep.Threshold != "30" {
		t.Fatalf("over the threshold = %s (threshold %s), want %s", got, rep.Threshold, want)
	}
	f.call(http.StatusOK, req{Method: "PUT", Path: "/v1/users/B/tax-id", Body: map[string]any{"tax_id": "DE123456789"}})
	rep = taxReportJSON{}
	f.call(http.StatusOK, req{Method: "GET", Path: "/v1/reports/tax?over_threshold=true"}).Decode(t, &rep) // the current year by default
	if rep.Year != 2026 || len(rep.Data) != 0 {
		t.Fatalf("over the threshold once B has a tax id = %+v, want none", rep)
	}
	rep = taxReportJSON{}
	f.call(http.StatusOK, req{Method: "GET", Path: "/v1/reports/tax?year=2025"}).Decode(t, &rep)
	if len(rep.Data) != 0 {
		t.Fatalf("2025 = %+v, want no payouts", rep)
	}

	rows := parseCSV(t, f.call(http.StatusOK, req{Method: "GET", Path: "/v1/reports/tax?year=2026&format=csv", Key: f.auditor.secret}))
	var got []string
	for _, row := range rows {
		got = append(got, strings.Join(row, ","))
	}
	if want := []string{"year,holder,currency,amount,has_tax_id,unpriced", "2026,B,USD,50,true,0", "2026,A,USD,20,false,0"}; !slices.Equal(got, want) {
		t.Errorf("CSV = %v, want %v", got, want)
	}
	for _, p := range []string{"year=26", "year=twenty", "over_threshold=maybe"} {
		f.call(http.StatusBadRequest, req{Method: "GET", Path: "/v1/reports/tax?" + p})
	}
	f.call(http.StatusForbidden, req{Method: "GET", Path: "/v1/reports/tax", Key: f.newKey(keys.RoleAffiliate, "B").secret})
}
