package api

import (
	"net/http"
	"testing"
)

// TestChartHasAdminManualCodes: GET /v1/chart lists the admin manual's
// accounts (issue 15 item 10) as built-in codes beside today's, with their
// names, types and normal sides, and they can be posted to.
func TestChartHasAdminManualCodes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.currencies()
	var chart listJSON[codeJSON]
	e.must(http.StatusOK, req{Method: "GET", Path: "/v1/chart", Key: bootstrapKey}).Decode(t, &chart)
	byCode := map[string]codeJSON{}
	for _, c := range chart.Data {
		byCode[c.Code] = c
	}
	want := []codeJSON{
		{"200", "Short-term liabilities (user spot balance)", "liability", "credit", true, "", true},
		{"205", "Staking liabilities, active (staked user funds)", "liability", "credit", true, "", true},
		{"206", "Staking liabilities, locked (unbonding)", "liability", "credit", true, "", true},
		{"207", "Staking rewards payable", "liability", "credit", true, "", true},
		{"210", "Liabilities to partners and liquidity providers", "liability", "credit", false, "", true},
		{"400", "Operating expenses", "expense", "debit", false, "", true},
		{"401", "Blockchain network fee expenses", "expense", "debit", false, "", true},
		{"402", "Bank and payment provider fee expenses", "expense", "debit", false, "", true},
		{"403", "Liquidity provider fee expenses", "expense", "debit", false, "", true},
		{"404", "Promotion and marketing expenses", "expense", "debit", false, "", true},
		{"405", "Exchange rate losses", "expense", "debit", false, "", true},
		{"407", "Staking reward expenses", "expense", "debit", false, "", true},
		{"410", "Other expenses", "expense", "debit", false, "", true},
		{"600", "Operating revenue", "revenue", "credit", false, "", true},
		{"601", "Deposit fee revenue", "revenue", "credit", false, "", true},
		{"602", "Withdrawal fee revenue", "revenue", "credit", false, "", true},
		{"603", "Listing fee revenue", "revenue", "credit", false, "", true},
		{"604", "Exchange rate gains", "revenue", "credit", false, "", true},
		// Today's codes stay as they were.
		{"101", "Deferred income (fees awaiting distribution)", "suspense", "credit", false, "", true},
		{"208", "Pending referral rewards (accrued, unpaid commissions)", "liability", "credit", true, "", true},
		{"230", "Liabilities in transfer", "liability", "credit", true, "non_negative", true},
		{"605", "Trading profit (definitive fee revenue)", "revenue", "credit", false, "", true},
	}
	for _, w := range want {
		if got, ok := byCode[w.Code]; !ok || got != w {
			t.Errorf("GET /v1/chart code %s = %+v (present %v), want %+v", w.Code, got, ok, w)
		}
	}
	if len(chart.Data) != 32 {
		t.Errorf("GET /v1/chart has %d codes, want 32 (14 of today and 18 of the manual)", len(chart.Data))
	}
	for i := 1; i < len(chart.Data); i++ {
		if chart.Data[i-1].Code >= chart.Data[i].Code {
			t.Errorf("GET /v1/chart is not in code order at %s, %s", chart.Data[i-1].Code, chart.Data[i].Code)
		}
	}

	// A staking reward booked with the manual's codes: Dr 407 / Cr 207 (per holder).
	e.post(entryBody("stake-1", posting("407:USDT", "debit", "1.5"), posting("207:USDT:alice", "credit", "1.5")))
	bal := e.must(http.StatusOK, req{Method: "GET", Path: "/v1/accounts/207:USDT:alice/balance", Key: bootstrapKey}).JSON(t)
	if bal["balance"] != "1.5" {
		t.Errorf("207:USDT:alice balance = %v, want 1.5", bal)
	}
	// The manual's built-in codes keep their type and side.
	e.must(http.StatusConflict, req{Method: "POST", Path: "/v1/chart", Key: bootstrapKey,
		Body: map[string]any{"code": "407", "name": "x", "type": "revenue", "normal_side": "credit"}})
}
