package api

import (
	"bytes"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/folioledger/folio"
)

// periodCall sends a period request with key and wants status; it returns
// the response.
func (f *payoutFixture) periodCall(want int, key apiKey, method, path string, body any) *response {
	f.t.Helper()
	return f.must(want, req{Method: method, Path: path, Key: key.secret, Body: body})
}

// wantPeriodRefusal wants a problem with status and code whose detail
// contains every part.
func (f *payoutFixture) wantPeriodRefusal(status int, code string, key apiKey, method, path string, body any, parts ...string) {
	f.t.Helper()
	res := f.do(req{Method: method, Path: path, Key: key.secret, Body: body})
	if res.Status != status {
		f.t.Fatalf("%s %s = %d %s, want %d", method, path, res.Status, res.Body, status)
	}
	var p problem
	res.Decode(f.t, &p)
	if p.Code != code {
		f.t.Errorf("%s %s: problem %s %q, want %s", method, path, p.Code, p.Detail, code)
	}
	for _, part := range parts {
		if !strings.Contains(p.Detail, part) {
			f.t.Errorf("%s %s: detail %q does not name %q", method, path, p.Detail, part)
		}
	}
}

func (f *payoutFixture) periodState(month string) string {
	f.t.Helper()
	var p periodJSON
	f.call(http.StatusOK, req{Method: "GET", Path: "/v1/periods/" + month, Key: f.auditor.secret}).Decode(f.t, &p)
	return p.State
}

// recon is a period's reconciliation: its bytes and its USDT figures.
func (f *payoutFixture) recon(month string) ([]byte, string, map[string]any) {
	f.t.Helper()
	res := f.call(http.StatusOK, req{Method: "GET", Path: "/v1/periods/" + month + "/reconciliation", Key: f.auditor.secret})
	rep := res.JSON(f.t)
	if rep["ok"] != true {
		f.t.Errorf("%s reconciliation is not clean: %v", month, rep["discrepancies"])
	}
	cur := map[string]any{}
	if cs, _ := rep["currencies"].([]any); len(cs) > 0 {
		cur, _ = cs[0].(map[string]any)
	}
	return res.Body, res.Header.Get("Folio-Snapshot"), cur
}

// TestMonthEndClose is issue 18's Done-when for the close: March closes
// with two people (the requester, and a key it minted, are refused); an
// entry and a trade dated in March posted after the close are accepted,
// are in April's business-time reconciliation and listed as March's
// post-close adjustments booked in April; March's stored reconciliation is
// the same bytes before and after, and after April closes and is
// reopened; reopening needs a reason and two people, and is audit-logged.
func TestMonthEndClose(t *testing.T) {
	f := newPayoutFixture(t)
	f.brokerTree(nil)
	march := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	f.clock.Advance(march.Add(10 * 24 * time.Hour).Sub(f.clock.Now()))
	f.trade("D", "100")                  // March 11: 40 distributed (25+10+5%)
	f.clock.Advance(22 * 24 * time.Hour) // April 2

	a1, a2 := f.admin1, f.admin2
	const close = "/v1/periods/2026-03/close"
	if got := f.periodState("2026-03"); got != "open" {
		t.Fatalf("March is %s before any close, want open", got)
	}
	var p periodJSON
	f.periodCall(http.StatusOK, a1, "POST", close, nil).Decode(t, &p)
	if p.State != "closing" || len(p.Events) != 1 || p.Events[0].Actor != a1.id || p.Events[0].Action != "close_requested" {
		t.Fatalf("close request = %+v, want closing by %s", p, a1.id)
	}
	// The same person twice, through either route, and a fresh key minted
	// by the requester are refused: four-eyes is by person.
	f.wantPeriodRefusal(http.StatusForbidden, folio.EFORBIDDEN, a1, "POST", close, nil, "four-eyes", "another person")
	f.wantPeriodRefusal(http.StatusForbidden, folio.EFORBIDDEN, a1, "POST", close+"/confirm", nil, "four-eyes")
	fresh := f.mintKey(a1.secret, map[string]any{"role": "admin", "person": "Someone Else"})
	f.wantPeriodRefusal(http.StatusForbidden, folio.EFORBIDDEN, fresh, "POST", close+"/confirm", nil, "four-eyes", "minted")
	if got := f.periodState("2026-03"); got != "closing" {
		t.Fatalf("March is %s after refused confirmations, want closing", got)
	}
	f.periodCall(http.StatusOK, a2, "POST", close+"/confirm", nil).Decode(t, &p)
	if p.State != "closed" || len(p.Cut) == 0 || p.Events[1].Actor != a2.id {
		t.Fatalf("confirmed close = %+v, want closed by %s with a cut", p, a2.id)
	}
	marchBytes, src, cur := f.recon("2026-03")
	if src != "stored" || cur["fees_booked"] != "100" || cur["distributed"] != "40" {
		t.Fatalf("March's reconciliation (%s) = %s, want stored with fees 100, distributed 40", src, marchBytes)
	}
	f.wantPeriodRefusal(http.StatusConflict, folio.ECONFLICT, a1, "POST", close, nil, "closed")

	// After the close: a manual entry and a trade dated in March.
	f.must(http.StatusCreated, req{Method: "POST", Path: "/v1/entries", Key: bootstrapKey, Body: map[string]any{
		"idempotency_key": "late-deposit", "effective_at": "2026-03-20T10:00:00Z",
		"postings": []any{posting("110:USDT", "debit", "7"), posting("201:USDT:D", "credit", "7")}}})
	var tr struct {
		Results []tradeResultJSON `json:"results"`
	}
	f.call(http.StatusOK, req{Method: "POST", Path: "/v1/trades", Body: map[string]any{"trades": []any{map[string]any{
		"id": "late-trade", "user_id": "D", "market": "BTCUSDT", "liquidity": "taker", "executed_at": "2026-03-30T09:00:00Z",
		"fee": map[string]any{"amount": "50", "currency": "USDT"}}}}}).Decode(t, &tr)
	if len(tr.Results) != 1 || tr.Results[0].Status != "created" {
		t.Fatalf("a trade dated in closed March = %+v, want created", tr.Results)
	}
	again, _, _ := f.recon("2026-03")
	if !bytes.Equal(again, marchBytes) {
		t.Fatalf("March's stored reconciliation changed:\nbefore %s\nafter  %s", marchBytes, again)
	}
	aprBody, src, cur := f.recon("2026-04")
	if src != "live" || cur["fees_booked"] != "50" || cur["distributed"] != "20" || cur["accrued_opening"] != "40" || cur["accrued_closing"] != "60" {
		t.Fatalf("April's business-time reconciliation (%s) = %s, want the late trade: fees 50, distributed 20, 208 40→60", src, aprBody)
	}
	var adj struct {
		State       string `json:"state"`
		Adjustments []struct {
			EntryID     string `json:"entry_id"`
			Kind        string `json:"kind"`
			EffectiveAt string `json:"effective_at"`
			BookedIn    string `json:"booked_in"`
		} `json:"adjustments"`
	}
	f.call(http.StatusOK, req{Method: "GET", Path: "/v1/periods/2026-03/adjustments", Key: f.auditor.secret}).Decode(t, &adj)
	kinds := map[string]string{}
	for _, a := range adj.Adjustments {
		if a.BookedIn != "2026-04" || !strings.HasPrefix(a.EffectiveAt, "2026-03-") {
			t.Errorf("adjustment %+v: want its March time kept and booked in 2026-04", a)
		}
		kinds[a.Kind] = a.EffectiveAt
	}
	if len(adj.Adjustments) != 3 || kinds["manual"] != "2026-03-20T10:00:00Z" || kinds["trade_fee"] != "2026-03-30T09:00:00Z" || kinds["commission"] == "" {
		t.Fatalf("March's adjustments = %+v, want the manual entry, the late trade's fee and commission", adj)
	}

	// Closing April (in order) stores it with the late trade; closing
	// February, the current month or a future one is refused.
	f.wantPeriodRefusal(http.StatusConflict, folio.ECONFLICT, a1, "POST", "/v1/periods/2026-02/close", nil, "in order", "2026-04")
	f.wantPeriodRefusal(http.StatusBadRequest, folio.EINVALID, a1, "POST", "/v1/periods/2026-04/close", nil, "has not ended")
	f.wantPeriodRefusal(http.StatusBadRequest, folio.EINVALID, a1, "POST", "/v1/periods/2027-01/close", nil, "has not ended")
	f.clock.Advance(30 * 24 * time.Hour) // May 2
	f.periodCall(http.StatusOK, a2, "POST", "/v1/periods/2026-04/close", nil)
	f.periodCall(http.StatusOK, a1, "POST", "/v1/periods/2026-04/close", nil).Decode(t, &p) // the same route, another person
	if p.State != "closed" {
		t.Fatalf("April = %+v, want closed", p)
	}
	aprStored, src, cur := f.recon("2026-04")
	if src != "stored" || cur["fees_booked"] != "50" || !bytes.Equal(aprStored, aprBody) {
		t.Fatalf("April's stored reconciliation (%s) = %s, want the live one before the close %s", src, aprStored, aprBody)
	}

	// Reopen: only the latest closed period, with a reason, by two people.
	f.wantPeriodRefusal(http.StatusConflict, folio.ECONFLICT, a1, "POST", "/v1/periods/2026-03/reopen", map[string]any{"reason": "typo"}, "latest closed", "2026-04")
	f.wantPeriodRefusal(http.StatusBadRequest, folio.EINVALID, a1, "POST", "/v1/periods/2026-04/reopen", nil, "reason")
	f.periodCall(http.StatusOK, a1, "POST", "/v1/periods/2026-04/reopen", map[string]any{"reason": "late invoice"}).Decode(t, &p)
	if p.State != "reopening" {
		t.Fatalf("reopen request = %+v, want reopening", p)
	}
	f.wantPeriodRefusal(http.StatusForbidden, folio.EFORBIDDEN, a1, "POST", "/v1/periods/2026-04/reopen/confirm", nil, "four-eyes")
	f.wantPeriodRefusal(http.StatusForbidden, folio.EFORBIDDEN, fresh, "POST", "/v1/periods/2026-04/reopen", nil, "four-eyes")
	if _, src, _ := f.recon("2026-04"); src != "stored" {
		t.Fatalf("April's reconciliation while reopening is %s, want stored", src)
	}
	f.periodCall(http.StatusOK, a2, "POST", "/v1/periods/2026-04/reopen/confirm", nil).Decode(t, &p)
	if p.State != "reopened" || p.Events[len(p.Events)-2].Reason != "late invoice" {
		t.Fatalf("reopen = %+v, want reopened with the reason kept", p)
	}
	if again, _, _ := f.recon("2026-03"); !bytes.Equal(again, marchBytes) {
		t.Fatalf("reopening April changed March's stored reconciliation:\n%s\n%s", marchBytes, again)
	}
	var log struct {
		Data []struct {
			Action string `json:"action"`
			Object string `json:"object"`
			Actor  string `json:"actor"`
		} `json:"data"`
	}
	f.call(http.StatusOK, req{Method: "GET", Path: "/v1/audit/log?object=period:2026-04", Key: f.auditor.secret}).Decode(t, &log)
	var actions []string
	for _, r := range log.Data {
		actions = append(actions, r.Action+" by "+r.Actor)
	}
	// The clock stands still: records of one instant come in id order.
	slices.Sort(actions)
	want := "period.close_requested by " + a2.id + ", period.closed by " + a1.id + ", period.reopen_requested by " + a1.id + ", period.reopened by " + a2.id
	if got := strings.Join(actions, ", "); got != want {
		t.Errorf("audit log of April = %s, want %s", got, want)
	}

	var list struct {
		Data []periodJSON `json:"data"`
	}
	f.call(http.StatusOK, req{Method: "GET", Path: "/v1/periods", Key: f.auditor.secret}).Decode(t, &list)
	states := map[string]string{}
	for _, p := range list.Data {
		states[p.Period] = p.State
	}
	if states["2026-03"] != "closed" || states["2026-04"] != "reopened" || states["2026-05"] != "open" || len(list.Data) != 3 {
		t.Errorf("GET /v1/periods = %v, want March closed, April reopened, May open", states)
	}
}

// TestPeriodsHostile: bad months, unknown parameters, bodies and roles are
// refused with a problem and change nothing.
func TestPeriodsHostile(t *testing.T) {
	f := newPayoutFixture(t)
	f.clock.Advance(time.Date(2026, 5, 2, 0, 0, 0, 0, time.UTC).Sub(f.clock.Now()))
	poster, affiliate := f.newKey("poster", ""), f.newKey("affiliate", "A")
	before := f.snapshot()
	for _, tt := range []struct {
		name, method, path string
		key                apiKey
		body               any
		status             int
		code               string
	}{
		{"month 13", "POST", "/v1/periods/2026-13/close", f.admin1, nil, 400, folio.EINVALID},
		{"month 00", "POST", "/v1/periods/2026-00/close", f.admin1, nil, 400, folio.EINVALID},
		{"one-digit month", "POST", "/v1/periods/2026-3/close", f.admin1, nil, 400, folio.EINVALID},
		{"a date", "GET", "/v1/periods/2026-03-01", f.auditor, nil, 400, folio.EINVALID},
		{"letters", "GET", "/v1/periods/abcd-ef/reconciliation", f.auditor, nil, 400, folio.EINVALID},
		{"year 0999", "GET", "/v1/periods/0999-01/adjustments", f.auditor, nil, 400, folio.EINVALID},
		{"future month", "POST", "/v1/periods/2027-01/close", f.admin1, nil, 400, folio.EINVALID},
		{"current month", "POST", "/v1/periods/2026-05/close", f.admin1, nil, 400, folio.EINVALID},
		{"unknown param", "GET", "/v1/periods?limit=5", f.auditor, nil, 400, folio.EINVALID},
		{"unknown param on close", "POST", "/v1/periods/2026-03/close?force=true", f.admin1, nil, 400, folio.EINVALID},
		{"unknown field", "POST", "/v1/periods/2026-03/close", f.admin1, map[string]any{"force": true}, 400, folio.EINVALID},
		{"reason not a string", "POST", "/v1/periods/2026-03/reopen", f.admin1, map[string]any{"reason": 5}, 400, folio.EINVALID},
		{"reason too long", "POST", "/v1/periods/2026-03/reopen", f.admin1, map[string]any{"reason": strings.Repeat("x", 1001)}, 400, folio.EINVALID},
		{"reopen an open period", "POST", "/v1/periods/2026-03/reopen", f.admin1, map[string]any{"reason": "x"}, 409, folio.ECONFLICT},
		{"confirm without request", "POST", "/v1/periods/2026-03/close/confirm", f.admin1, nil, 409, folio.ECONFLICT},
		{"confirm reopen without request", "POST", "/v1/periods/2026-03/reopen/confirm", f.admin1, nil, 409, folio.ECONFLICT},
		{"auditor closes", "POST", "/v1/periods/2026-03/close", f.auditor, nil, 403, folio.EFORBIDDEN},
		{"poster closes", "POST", "/v1/periods/2026-03/close", poster, nil, 403, folio.EFORBIDDEN},
		{"affiliate lists", "GET", "/v1/periods", affiliate, nil, 403, folio.EFORBIDDEN},
		{"no key", "GET", "/v1/periods", apiKey{}, nil, 401, folio.EUNAUTHORIZED},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res := f.do(req{Method: tt.method, Path: tt.path, Key: tt.key.secret, Body: tt.body})
			if res.Status != tt.status {
				t.Fatalf("%s %s = %d %s, want %d", tt.method, tt.path, res.Status, res.Body, tt.status)
			}
			var p problem
			res.Decode(t, &p)
			if p.Code != tt.code || p.Detail == "" {
				t.Errorf("%s %s: problem %s %q, want %s with a detail", tt.method, tt.path, p.Code, p.Detail, tt.code)
			}
		})
	}
	if after := f.snapshot(); after != before {
		t.Errorf("refused period requests changed the database:\nbefore %s\nafter  %s", before, after)
	}
	if got := f.periodState("2026-03"); got != "open" {
		t.Errorf("March is %s after refused requests, want open", got)
	}
}
