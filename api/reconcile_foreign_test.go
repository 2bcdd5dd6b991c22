package api

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/folioledger/folio/ledger"
	"github.com/folioledger/folio/reconcile"
)

// TestReconciliationSurvivesForeignRows: a journal written before the
// engine's kinds were reserved may hold a payout entry without a batch, a
// trade_fee entry without a trade and an entry of a kind nobody knows; the
// reconciliation answers 200 and reports each as a discrepancy naming the
// entry.
func TestReconciliationSurvivesForeignRows(t *testing.T) {
	e := newEnv(t)
	e.currencies()
	e.putProgram("broker", map[string]any{"kind": "levels", "levels": []string{"0.25"}, "default": true})
	e.tree("alice>", "alice>bob")
	e.book(trade("t-1", "bob", "10"))
	// A ledger no affiliate service reserved kinds on: the writes of an
	// older Folio, below the API's and the engine's checks.
	raw := ledger.New(e.app)
	raw.Now = e.clock.Now
	res, err := raw.Post(context.Background(), []ledger.NewEntry{
		{IdempotencyKey: "old-payout", Kind: "payout", Postings: []ledger.NewPosting{
			{Account: "208:USDT:alice", Side: "debit", Amount: "2.5"}, {Account: "201:USDT:alice", Side: "credit", Amount: "2.5"}}},
		{IdempotencyKey: "old-fee", Kind: "trade_fee", Postings: []ledger.NewPosting{
			{Account: "110:USDT", Side: "debit", Amount: "3"}, {Account: "101:USDT", Side: "credit", Amount: "3"}}},
	}, ledger.Options{})
	if err != nil || res[0].Err != nil || res[1].Err != nil {
		t.Fatalf("raw entries: %v %+v", err, res)
	}
	payout, fee := res[0].Entry.ID, res[1].Entry.ID
	r := e.do(req{Method: "GET", Path: "/v1/reports/reconciliation", Key: bootstrapKey})
	if r.Status != http.StatusOK {
		t.Fatalf("GET /v1/reports/reconciliation = %d %s, want 200", r.Status, r.Body)
	}
	var rep struct {
		OK            bool                    `json:"ok"`
		Discrepancies []reconcile.Discrepancy `json:"discrepancies"`
	}
	r.Decode(t, &rep)
	named := map[string]string{} // entry → discrepancy kind
	for _, d := range rep.Discrepancies {
		for _, id := range d.Entries {
			named[id] += d.Kind + " "
		}
	}
	if rep.OK || !strings.Contains(named[payout], reconcile.DiscPayoutWithoutBatch) || !strings.Contains(named[fee], reconcile.DiscCommissionLink) {
		t.Fatalf("report = %s\nwant the payout %s named by %s and the fee %s by %s", r.Body, payout, reconcile.DiscPayoutWithoutBatch, fee, reconcile.DiscCommissionLink)
	}
	csv := e.do(req{Method: "GET", Path: "/v1/reports/reconciliation?format=csv", Key: bootstrapKey})
	if csv.Status != http.StatusOK || !strings.Contains(string(csv.Body), payout) {
		t.Fatalf("CSV report = %d %s, want 200 naming %s", csv.Status, csv.Body, payout)
	}
}
