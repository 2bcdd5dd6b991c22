package api

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/folioledger/folio"
	"github.com/folioledger/folio/payouts"
	"github.com/folioledger/folio/payouts/signing"
)

// listBatches returns every payout batch through the API.
func (f *payoutFixture) listBatches() []payoutBatchJSON {
	f.t.Helper()
	var out listJSON[payoutBatchJSON]
	f.call(http.StatusOK, req{Method: "GET", Path: "/v1/payouts/batches", Key: f.auditor.secret}).Decode(f.t, &out)
	return out.Data
}

// runScheduler runs one tick of the payout scheduler, as folio serve does
// every affiliate.RealtimeEvery.
func (f *payoutFixture) runScheduler() []string {
	f.t.Helper()
	built, err := f.srv.payouts.RunSchedules(context.Background(), "test-server")
	if err != nil {
		f.t.Fatalf("RunSchedules: %v", err)
	}
	return built
}

// TestRealtimeAutoApprove: a realtime program with auto_approve_below
// {"USDT": "100"} pays a 50 USDT line at the scheduler's tick with no second
// person (built by the policy's builder, approved by the policy, executed);
// a 150 USDT line, and a small line a fraud rule flagged, wait in a draft
// batch for an admin, and four-eyes still holds for it.
func TestRealtimeAutoApprove(t *testing.T) {
	f := newPayoutFixture(t)
	f.levels(map[string]any{"schedule": "realtime", "auto_approve_below": map[string]any{"USDT": "100"}}, "0.5")
	f.chain("A", "B")
	f.chain("X", "Y")
	f.user(userSpec{id: "W", ip: "10.9.8.7"})
	f.user(userSpec{id: "Z", referrer: "W", ip: "10.9.8.7"}) // self-referral signal: W's line is flagged
	f.trade("B", "100")                                      // A accrues 50
	f.trade("Y", "300")                                      // X accrues 150
	f.trade("Z", "20")                                       // W accrues 10, flagged

	built := f.runScheduler()
	if len(built) != 2 {
		t.Fatalf("scheduler built %v, want the auto batch and the review batch", built)
	}
	var auto, review payoutBatchJSON
	for _, b := range f.listBatches() {
		switch b.CreatedBy {
		case payouts.AutoBuilder:
			auto = b
		case "scheduler":
			review = b
		}
	}
	if auto.Status != "executed" || auto.ApprovedBy == nil || *auto.ApprovedBy != payouts.AutoApprover || auto.ExecutedBy == nil ||
		!slices.Equal(holders(auto), []string{"A:50:paid"}) {
		t.Fatalf("auto batch = %+v, want A's 50 USDT executed, approved by the policy", auto)
	}
	if review.Status != "draft" || !slices.Equal(holders(review), []string{"W:10:held", "X:150:ok"}) {
		t.Fatalf("review batch = %+v, want W held and X's 150 waiting, draft", review)
	}
	if rules := flagRules(lineOf(t, review, "W")); !slices.Contains(rules, payouts.FlagSelfReferral) {
		t.Errorf("W's line flags = %v, want self_referral", rules)
	}
	f.wantBalances(map[string]string{"208:USDT:A": "0", "201:USDT:A": "50", "208:USDT:X": "150", "201:USDT:X": "0", "208:USDT:W": "10"})

	// The audit log records the policy's approval.
	var log listJSON[map[string]any]
	f.call(http.StatusOK, req{Method: "GET", Path: "/v1/audit/log?action=payout.auto_approve", Key: f.auditor.secret}).Decode(t, &log)
	if len(log.Data) != 1 || log.Data[0]["actor"] != payouts.AutoApprover {
		t.Errorf("audit payout.auto_approve = %v, want one record by the policy", log.Data)
	}

	// The next tick finds nothing new: the review batch still waits.
	if built := f.runScheduler(); len(built) != 0 {
		t.Errorf("second tick built %v, want nothing", built)
	}
	f.clock.Advance(11 * time.Second)
	if built := f.runScheduler(); len(built) != 0 {
		t.Errorf("next period built %v, want nothing (every accrual is in a batch)", built)
	}

	// Large lines: four-eyes unchanged; the scheduler built the batch, an admin approves.
	f.act(http.StatusOK, f.admin1, review.ID, "reject-lines", map[string]any{"lines": []string{lineOf(t, review, "W").ID}})
	paid := f.pay(review.ID)
	if !slices.Equal(holders(paid), []string{"W:10:rejected", "X:150:paid"}) {
		t.Errorf("review batch after approval = %v", holders(paid))
	}
	f.wantBalances(map[string]string{"208:USDT:X": "0", "201:USDT:X": "150", "101:USDT": "0"})
}

// TestRealtimeAutoApproveAtTick: small lines accrued later are paid at the
// next period's tick, each period's run claimed once.
func TestRealtimeAutoApproveAtTick(t *testing.T) {
	f := newPayoutFixture(t)
	f.levels(map[string]any{"schedule": "realtime", "auto_approve_below": map[string]any{"USDT": "100"}}, "0.5")
	f.chain("A", "B")
	f.trade("B", "20")
	if built := f.runScheduler(); len(built) != 1 {
		t.Fatalf("first tick built %v", built)
	}
	f.trade("B", "40")
	if built := f.runScheduler(); len(built) != 0 {
		t.Fatalf("same period built %v, want nothing", built)
	}
	f.clock.Advance(10 * time.Second)
	if built := f.runScheduler(); len(built) != 1 {
		t.Fatalf("next period built %v, want one auto batch", built)
	}
	f.wantBalances(map[string]string{"208:USDT:A": "0", "201:USDT:A": "30"})
	for _, b := range f.listBatches() {
		if b.Status != "executed" || b.CreatedBy != payouts.AutoBuilder {
			t.Errorf("batch %s = %s by %s, want executed auto batches", b.ID, b.Status, b.CreatedBy)
		}
	}
}

// TestPayoutDestinationTrading: destination "202" credits the affiliate's
// trading balance in the journal, posted at once even with a transfer API
// configured (no outbox message); the books verify and 101 is empty.
func TestPayoutDestinationTrading(t *testing.T) {
	f := newPayoutFixture(t)
	f.srv.payouts.Webhook = "http://127.0.0.1:1/never-called"
	f.brokerTree(map[string]any{"destination": "202"})
	f.trade("D", "100")
	b := f.build(http.StatusCreated)
	if d := lineOf(t, b, "C").Destination; d == nil || *d != "202" {
		t.Fatalf("line destination = %v, want 202", d)
	}
	paid := f.pay(b.ID)
	if !slices.Equal(holders(paid), []string{"A:5:paid", "B:10:paid", "C:25:paid"}) {
		t.Fatalf("paid batch = %v", holders(paid))
	}
	f.wantBalances(map[string]string{"202:USDT:C": "25", "202:USDT:B": "10", "202:USDT:A": "5",
		"201:USDT:C": "0", "208:USDT:C": "0", "101:USDT": "0"})
	entries := f.payoutEntries()
	if len(entries) != 1 || entries[0].Phase != "posted" {
		t.Fatalf("payout entries = %+v, want one posted", entries)
	}
	for _, p := range entries[0].Postings {
		if p.Side == "credit" && !strings.HasPrefix(p.Account, "202:USDT:") {
			t.Errorf("payout credit to %s, want 202", p.Account)
		}
	}
	if n, err := f.srv.payouts.DeliverOutbox(context.Background()); err != nil || n != 0 {
		t.Errorf("DeliverOutbox = %d, %v; want nothing queued", n, err)
	}
	verify := f.call(http.StatusOK, req{Method: "GET", Path: "/v1/audit/verify", Key: f.auditor.secret}).JSON(t)
	if verify["ok"] != true {
		t.Errorf("GET /v1/audit/verify = %v", verify)
	}
}

// TestPayoutDestinationMixed: a batch with lines to the trading balance and
// lines to the transfer API writes a posted entry for the first and a
// pending one (outbox) for the second.
func TestPayoutDestinationMixed(t *testing.T) {
	f := newPayoutFixture(t)
	var got []string
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, string(b))
		mu.Unlock()
	}))
	defer srv.Close()
	f.srv.payouts.Webhook = srv.URL
	f.program("trading", map[string]any{"kind": "levels", "levels": []string{"0.5"}, "payout": map[string]any{"destination": "202"}})
	f.levels(nil, "0.5")
	f.chain("A", "B")
	f.user(userSpec{id: "P"})
	f.user(userSpec{id: "Q", referrer: "P"})
	f.call(http.StatusOK, req{Method: "PUT", Path: "/v1/users/Q/program", Body: map[string]any{"program": "trading"}}) // Q's trades pay P by "trading"
	f.trade("B", "10")
	f.trade("Q", "10")
	b := f.pay(f.build(http.StatusCreated).ID)
	pl, al := lineOf(t, b, "P"), lineOf(t, b, "A")
	if pl.EntryID == nil || al.EntryID == nil || *pl.EntryID == *al.EntryID {
		t.Fatalf("lines' entries = %v, %v; want two entries", pl.EntryID, al.EntryID)
	}
	if n, err := f.srv.payouts.DeliverOutbox(context.Background()); err != nil || n != 1 {
		t.Fatalf("DeliverOutbox = %d, %v", n, err)
	}
	if len(got) != 1 || !strings.Contains(got[0], `"holder":"A"`) || strings.Contains(got[0], `"holder":"P"`) {
		t.Errorf("the transfer API got %v, want A's line only", got)
	}
	f.wantBalances(map[string]string{"202:USDT:P": "5", "201:USDT:A": "5", "208:USDT:A": "0", "208:USDT:P": "0"})
}

// TestPayoutWebhookSigned: a receiver verifies the outbox request with the
// documented recipe (signing.Verify) and accepts it; the same request with a
// tampered body, or under another secret, fails verification, and a
// receiver that refuses it (401) voids the payout.
func TestPayoutWebhookSigned(t *testing.T) {
	f := newPayoutFixture(t)
	const secret = "whsec-test-0123456789"
	receiverSecret := secret
	var verified, tampered []error
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		ts, sig := r.Header.Get("Folio-Timestamp"), r.Header.Get("Folio-Signature")
		now := time.Unix(mustAtoi(t, ts), 0).Add(30 * time.Second) // the receiver's clock, a little later
		mu.Lock()
		defer mu.Unlock()
		err := signing.Verify(receiverSecret, ts, sig, body, now, 5*time.Minute)
		verified = append(verified, err)
		tampered = append(tampered, signing.Verify(receiverSecret, ts, sig, []byte(strings.Replace(string(body), `"amount":"`, `"amount":"9`, 1)), now, 5*time.Minute))
		if err != nil {
			w.WriteHeader(http.StatusUnauthorized)
		}
	}))
	defer srv.Close()
	f.srv.payouts.Webhook = srv.URL
	f.srv.payouts.WebhookSecrets = map[string]string{srv.URL: secret}
	f.brokerTree(nil)
	f.trade("D", "100")
	first := f.pay(f.build(http.StatusCreated).ID)
	if n, err := f.srv.payouts.DeliverOutbox(context.Background()); err != nil || n != 1 {
		t.Fatalf("DeliverOutbox = %d, %v", n, err)
	}
	if len(verified) != 1 || verified[0] != nil || tampered[0] == nil {
		t.Fatalf("receiver: verified %v, tampered %v; want the request valid and the tampered body refused", verified, tampered)
	}
	f.wantBalances(map[string]string{"201:USDT:C": "25", "208:USDT:C": "0"})
	if e := f.call(http.StatusOK, req{Method: "GET", Path: "/v1/entries/" + *first.EntryID, Key: f.auditor.secret}).JSON(t); e["status"] != "posted" {
		t.Errorf("payout entry after a verified delivery = %v, want posted", e["status"])
	}

	// The receiver holds another secret: verification fails, it answers
	// 401 and the payout is voided.
	receiverSecret = "not-the-secret-000000"
	f.trade("D", "100")
	second := f.pay(f.build(http.StatusCreated).ID)
	f.clock.Advance(time.Second)
	if n, err := f.srv.payouts.DeliverOutbox(context.Background()); err != nil || n != 1 {
		t.Fatalf("DeliverOutbox = %d, %v", n, err)
	}
	if len(verified) != 2 || verified[1] == nil {
		t.Fatalf("receiver with another secret verified %v, want a failure", verified)
	}
	if e := f.call(http.StatusOK, req{Method: "GET", Path: "/v1/entries/" + *second.EntryID, Key: f.auditor.secret}).JSON(t); e["status"] != "voided" {
		t.Errorf("payout entry after a refused delivery = %v, want voided", e["status"])
	}
	f.wantBalances(map[string]string{"201:USDT:C": "25", "208:USDT:C": "25"})
}

func mustAtoi(t *testing.T, s string) int64 {
	var n int64
	for _, c := range s {
		if c < '0' || c > '9' {
			t.Errorf("Folio-Timestamp %q is not Unix seconds", s)
			return 0
		}
		n = n*10 + int64(c-'0')
	}
	return n
}

// TestPayoutPolicyHostile: bad auto_approve_below and destination values
// are 400 with the field named, and write nothing.
func TestPayoutPolicyHostile(t *testing.T) {
	e := newEnv(t)
	e.currencies()
	prog := func(payout any) map[string]any {
		return map[string]any{"kind": "levels", "levels": []string{"0.1"}, "payout": payout}
	}
	cases := []struct {
		name   string
		payout any
		want   string
	}{
		{"auto approve without realtime", map[string]any{"auto_approve_below": map[string]any{"USDT": "100"}}, "realtime"},
		{"auto approve on daily", map[string]any{"schedule": "daily", "time_of_day": "10:00", "auto_approve_below": map[string]any{"USDT": "100"}}, "realtime"},
		{"auto approve lower-case currency", map[string]any{"schedule": "realtime", "auto_approve_below": map[string]any{"usdt": "100"}}, "currency"},
		{"auto approve not a number", map[string]any{"schedule": "realtime", "auto_approve_below": map[string]any{"USDT": "lots"}}, "auto_approve_below"},
		{"auto approve negative", map[string]any{"schedule": "realtime", "auto_approve_below": map[string]any{"USDT": "-1"}}, "auto_approve_below"},
		{"auto approve zero", map[string]any{"schedule": "realtime", "auto_approve_below": map[string]any{"USDT": "0"}}, "auto_approve_below"},
		{"auto approve as number", map[string]any{"schedule": "realtime", "auto_approve_below": map[string]any{"USDT": 100}}, ""},
		{"auto approve as list", map[string]any{"schedule": "realtime", "auto_approve_below": []string{"100"}}, ""},
		{"destination 203", map[string]any{"destination": "203"}, "destination"},
		{"destination 208", map[string]any{"destination": "208"}, "destination"},
		{"destination as number", map[string]any{"destination": 202}, ""},
		{"destination blank", map[string]any{"destination": " 202"}, "destination"},
		{"unknown payout field", map[string]any{"auto_approve": true}, ""},
	}
	before := e.snapshot()
	for _, c := range cases {
		res := e.do(req{Method: "PUT", Path: "/v1/programs/p1", Key: bootstrapKey, Body: prog(c.payout)})
		if res.Status != http.StatusBadRequest || problemCode(t, res) != folio.EINVALID || !strings.Contains(string(res.Body), c.want) {
			t.Errorf("%s: PUT /v1/programs = %d %s, want 400 invalid_request mentioning %q", c.name, res.Status, res.Body, c.want)
		}
	}
	if after := e.snapshot(); after != before {
		t.Errorf("refused programs changed the database")
	}
	// The good shapes are accepted.
	e.must(http.StatusCreated, req{Method: "PUT", Path: "/v1/programs/p1", Key: bootstrapKey,
		Body: prog(map[string]any{"schedule": "realtime", "auto_approve_below": map[string]any{"USDT": "100"}, "destination": "202"})})
}
