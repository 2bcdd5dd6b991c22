package payouts_test

import (
	"context"
	"strings"
	"testing"

	"github.com/folioledger/folio/affiliate"
	"github.com/folioledger/folio/payouts"
)

// TestAutoPayRechecksPolicy: an auto batch whose lines the policy no longer
// covers when payAuto runs (the limit was lowered in between) stays a draft
// for an admin, is not picked up again by the scheduler, and an admin can
// still approve and pay it; a crash-left auto batch is finished by the next
// run.
func TestAutoPayRechecksPolicy(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	brokerTree(t, f)
	put := func(limit string) {
		spec := affiliate.ProgramSpec{Kind: "levels", Levels: []string{"0.25", "0.10", "0.05"}, Default: true,
			Payout: &affiliate.PayoutPolicy{Schedule: affiliate.ScheduleRealtime, AutoApproveBelow: map[string]string{"USDT": limit}}}
		if _, err := f.svc.PutProgram(ctx, "broker", spec, "test"); err != nil {
			t.Fatal(err)
		}
	}
	put("100")
	if _, err := f.svc.PostTrades(ctx, []affiliate.NewTrade{trade("t1", "D", "100")}); err != nil {
		t.Fatal(err)
	}
	// Lines C 25, B 10, A 5: all below 100, one auto batch.
	auto, created, err := f.pay.BuildAutoForTest(ctx, "broker")
	if err != nil || !created || auto.CreatedBy != payouts.AutoBuilder || len(auto.Lines) != 3 {
		t.Fatalf("auto build = %+v, %v, %v", auto, created, err)
	}
	put("20") // C's 25 is no longer below the limit
	b, err := f.pay.PayAutoForTest(ctx, auto.ID)
	if err != nil || b.Status != payouts.BatchDraft || b.ApprovedByLabel == "" {
		t.Fatalf("payAuto after the limit dropped = %+v, %v; want a draft marked for an admin", b, err)
	}
	// The hold's reason shows the line's amount at USDT's precision (issue 15, item 9).
	var reason string
	if err := f.db.Admin.QueryRow(ctx, `SELECT after->>'reason' FROM audit_log WHERE action = 'payout.auto_hold'`).Scan(&reason); err != nil ||
		!strings.Contains(reason, "(25.000000 USDT) is not below program broker's auto_approve_below") {
		t.Errorf("auto_hold reason = %q, %v; want C's line shown as 25.000000 USDT", reason, err)
	}
	if built, err := f.pay.RunSchedules(ctx, "s1"); err != nil {
		t.Fatal(err)
	} else if b, _ := f.pay.GetBatch(ctx, auto.ID); b.Status != payouts.BatchDraft {
		t.Fatalf("scheduler touched the held auto batch (built %v): %s", built, b.Status)
	}
	if _, err := f.pay.ApproveBatch(ctx, auto.ID, "admin-1"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.pay.ExecuteBatch(ctx, auto.ID, "admin-1"); err != nil {
		t.Fatal(err)
	}
	if got := f.balance(t, "201:USDT:C"); got != "25" {
		t.Errorf("201:USDT:C = %s, want 25", got)
	}

	// A crash between build and pay: the next run finishes the auto batch.
	put("100")
	if _, err := f.svc.PostTrades(ctx, []affiliate.NewTrade{trade("t2", "D", "10")}); err != nil {
		t.Fatal(err)
	}
	left, _, err := f.pay.BuildAutoForTest(ctx, "broker")
	if err != nil || left.CreatedBy != payouts.AutoBuilder {
		t.Fatalf("second auto build = %+v, %v", left, err)
	}
	if _, err := f.pay.RunSchedules(ctx, "s2"); err != nil {
		t.Fatal(err)
	}
	if b, _ := f.pay.GetBatch(ctx, left.ID); b.Status != payouts.BatchExecuted || b.ApprovedBy != payouts.AutoApprover {
		t.Fatalf("left-over auto batch after the next run = %s approved by %s, want executed by the policy", b.Status, b.ApprovedBy)
	}
	if got := f.balance(t, "201:USDT:C"); got != "27.5" {
		t.Errorf("201:USDT:C = %s, want 27.5", got)
	}
	f.verify(t)
}
