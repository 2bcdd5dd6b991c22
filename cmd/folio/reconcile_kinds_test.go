package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/folioledger/folio/affiliate"
	"github.com/folioledger/folio/ledger"
	"github.com/folioledger/folio/reconcile"
)

// TestReconcileCLIForeignPayout: a payout entry without a batch, as a
// client could write before the engine's kinds were reserved, is a
// discrepancy naming it (exit 1), not a report that cannot run (exit 2).
func TestReconcileCLIForeignPayout(t *testing.T) {
	clearEnv(t)
	ctx := context.Background()
	db, app := appDB(t)
	// A ledger no affiliate service reserved kinds on writes as an older
	// Folio's API did.
	res, err := ledger.New(app).Post(ctx, []ledger.NewEntry{{IdempotencyKey: "old-payout", Kind: affiliate.EntryPayout, Postings: []ledger.NewPosting{
		{Account: "208:USDT:alice", Side: "debit", Amount: "5"}, {Account: "201:USDT:alice", Side: "credit", Amount: "5"}}}}, ledger.Options{})
	if err != nil || res[0].Err != nil {
		t.Fatalf("manual payout: %v %+v", err, res)
	}
	id := res[0].Entry.ID
	for _, format := range []string{"json", "csv"} {
		stdout, stderr, code := cli(t, ctx, "reconcile", "--database-url", db.URL, "--format", format)
		if code != 1 || !strings.Contains(stdout, reconcile.DiscPayoutWithoutBatch) || !strings.Contains(stdout, id) {
			t.Fatalf("reconcile --format %s: exit %d, want 1 with %s naming %s\nstdout %s\nstderr %s", format, code, reconcile.DiscPayoutWithoutBatch, id, stdout, stderr)
		}
		if format == "json" {
			var rep struct {
				OK bool `json:"ok"`
			}
			if err := json.Unmarshal([]byte(stdout), &rep); err != nil || rep.OK {
				t.Fatalf("report = %s (%v), want JSON with ok false", stdout, err)
			}
		}
	}
}
