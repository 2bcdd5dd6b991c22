package api

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/folioledger/folio/keys"
)

// TestAffiliateStatsUnpriced: commissions in a currency without an FX rate
// in force at the trade's time count 0 in the reporting currency and are
// reported per currency under "unpriced" (JSON and CSV, the affiliate's own
// key included); once a rate for that time arrives, the folder revalues
// them and they are priced.
func TestAffiliateStatsUnpriced(t *testing.T) {
	f := newPayoutFixture(t)
	f.levels(nil, "0.25", "0.10", "0.05")
	f.chain("alice", "bob01", "carol", "dave42")
	// TOK has no rate: dave42's fee of 100 TOK pays alice 5 at level 3.
	f.call(http.StatusCreated, req{Method: "PUT", Path: "/v1/currencies/TOK", Key: bootstrapKey, Body: map[string]any{"precision": 6}})
	now := f.clock.Now()
	res := f.call(http.StatusOK, req{Method: "POST", Path: "/v1/trades", Key: bootstrapKey, Body: map[string]any{"trades": []map[string]any{{
		"id": "tok-1", "user_id": "dave42", "market": "TOKUSDT", "liquidity": "taker", "executed_at": formatTime(now.Add(-time.Minute)),
		"fee": map[string]any{"amount": "100", "currency": "TOK"}}}}})
	if !strings.Contains(string(res.Body), `"created"`) {
		t.Fatalf("POST /v1/trades = %s", res.Body)
	}
	q := url.Values{"from": {formatTime(now.Add(-24 * time.Hour))}, "to": {formatTime(now.Add(time.Hour))}}
	path := "/v1/affiliates/alice/stats?" + q.Encode()
	aliceKey := f.newKey(keys.RoleAffiliate, "alice")

	var st statsJSON
	f.call(http.StatusOK, req{Method: "GET", Path: path, Key: aliceKey.secret}).Decode(t, &st)
	if got, want := fmt.Sprint(st.Unpriced), fmt.Sprint([]statsUnpricedJSON{{Currency: "TOK", Commission: "5", Fees: "100"}}); got != want {
		t.Errorf("unpriced = %s, want %s", got, want)
	}
	if st.Totals.Commission != "0" || st.Totals.Trades != 1 {
		t.Errorf("totals = %+v, want commission 0 (unpriced) and 1 trade", st.Totals)
	}
	rows := parseCSV(t, f.call(http.StatusOK, req{Method: "GET", Path: path + "&format=csv", Key: f.auditor.secret}))
	found := false
	for _, r := range rows[1:] {
		rec := csvRecord(rows[0], r)
		if rec["section"] == "unpriced" {
			found = rec["currency"] == "TOK" && rec["commission"] == "5" && rec["fees"] == "100"
		}
	}
	if !found {
		t.Errorf("CSV = %v, want an unpriced TOK row with commission 5 and fees 100", rows)
	}

	// A rate in force since 2020 arrives; the folder revalues.
	f.call(http.StatusOK, req{Method: "PUT", Path: "/v1/rates/TOK/USD", Key: bootstrapKey, Body: map[string]any{"rate": "2", "at": "2020-01-01T00:00:00Z"}})
	if err := f.srv.affiliate.FoldAllStats(context.Background()); err != nil {
		t.Fatal(err)
	}
	st = statsJSON{}
	f.call(http.StatusOK, req{Method: "GET", Path: path, Key: aliceKey.secret}).Decode(t, &st)
	if len(st.Unpriced) != 0 || st.Totals.Commission != "10" || st.Totals.Fees != "200" {
		t.Errorf("after the rate: unpriced %v, totals %+v; want none, commission 10 and fees 200 USD", st.Unpriced, st.Totals)
	}
}
