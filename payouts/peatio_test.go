package payouts_test

import (
	"testing"

	"github.com/folioledger/folio/payouts"
)

// TestToPeatio: a batch maps onto the documented management API call,
// field by field: key = batch id, one operation per line, crypto and fiat
// accounts, lower-case currencies, exact amounts as strings, member UIDs.
func TestToPeatio(t *testing.T) {
	msg := payouts.OutboxMessage{BatchID: "pb_0123", EntryID: "e-1", Lines: []payouts.OutboxPayment{
		{LineID: "l1", Holder: "A", Currency: "USDT", Amount: "50.000001"},
		{LineID: "l2", Holder: "B", Currency: "USD", Amount: "12.5"},
	}}
	method, path, body := payouts.ToPeatio(msg, payouts.PeatioOptions{FiatCurrencies: []string{"USD"},
		UID: func(h string) string { return "ID00000000" + h }})
	want := `{"key":"pb_0123","category":"commission","description":"Folio payout batch pb_0123","operations":[` +
		`{"currency":"usdt","amount":"50.000001","account_src":{"code":402},"account_dst":{"code":202,"uid":"ID00000000A"}},` +
		`{"currency":"usd","amount":"12.5","account_src":{"code":401},"account_dst":{"code":201,"uid":"ID00000000B"}}]}`
	if method != "POST" || path != "/api/v2/management/transfers/new" || string(body) != want {
		t.Errorf("ToPeatio = %s %s\n%s\nwant POST /api/v2/management/transfers/new\n%s", method, path, body, want)
	}
	// Options: another category and chart; no lines gives an empty list, not null.
	_, _, body = payouts.ToPeatio(payouts.OutboxMessage{BatchID: "pb_9"}, payouts.PeatioOptions{Category: "referral", CryptoExpense: 410})
	if want := `{"key":"pb_9","category":"referral","description":"Folio payout batch pb_9","operations":[]}`; string(body) != want {
		t.Errorf("ToPeatio(empty) = %s, want %s", body, want)
	}
}
