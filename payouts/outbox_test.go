package payouts_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/folioledger/folio/affiliate"
	"github.com/folioledger/folio/ledger"
	"github.com/folioledger/folio/payouts"
)

// executedWithWebhook books two trades and executes a payout batch
// delivered to url.
func executedWithWebhook(t *testing.T, f *fixture, url string) *payouts.Batch {
	t.Helper()
	ctx := context.Background()
	brokerTree(t, f)
	f.pay.Webhook = url
	if _, err := f.svc.PostTrades(ctx, []affiliate.NewTrade{trade("o-1", "D", "100")}); err != nil {
		t.Fatal(err)
	}
	b, _, err := f.pay.BuildBatch(ctx, payouts.BuildOptions{}, "admin-1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.pay.ApproveBatch(ctx, b.ID, "admin-2"); err != nil {
		t.Fatal(err)
	}
	b, _, err = f.pay.ExecuteBatch(ctx, b.ID, "admin-2")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func entryPhase(t *testing.T, f *fixture, id string) string {
	t.Helper()
	_, links, err := f.ledger.GetEntry(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if links.CompletedBy == "" {
		return "pending"
	}
	e, _, err := f.ledger.GetEntry(context.Background(), links.CompletedBy)
	if err != nil {
		t.Fatal(err)
	}
	return string(e.Phase)
}

func TestOutboxRetriesThenPosts(t *testing.T) {
	var calls atomic.Int32
	var mu sync.Mutex
	var keys []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		keys = append(keys, r.Header.Get("Idempotency-Key"))
		mu.Unlock()
		if calls.Add(1) <= 2 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	f := newFixture(t)
	b := executedWithWebhook(t, f, srv.URL)
	ctx := context.Background()
	if got := entryPhase(t, f, b.EntryID); got != "pending" {
		t.Fatalf("payout entry before delivery = %s, want pending", got)
	}
	bal, _ := f.ledger.GetBalance(ctx, "208:USDT:C", ledger.AsOf{})
	if p := bal.Pending(); ledger.Format(&p) != "25" {
		t.Fatalf("208:USDT:C pending = %s, want 25", ledger.Format(&p))
	}
	for i := 0; i < 5; i++ {
		if _, err := f.pay.DeliverOutbox(ctx); err != nil {
			t.Fatal(err)
		}
		f.now = f.now.Add(time.Hour) // past any backoff
	}
	if calls.Load() != 3 {
		t.Fatalf("deliveries = %d, want 3 (two failures, one success, then nothing)", calls.Load())
	}
	mu.Lock()
	defer mu.Unlock()
	for _, k := range keys {
		if k != b.ID {
			t.Fatalf("Idempotency-Key = %q, want the batch id %s", k, b.ID)
		}
	}
	if got := entryPhase(t, f, b.EntryID); got != string(ledger.PostPending) {
		t.Fatalf("payout entry after delivery = %s, want posted", got)
	}
	if got := f.balance(t, "201:USDT:C"); got != "25" {
		t.Fatalf("201:USDT:C = %s, want 25", got)
	}
	var posts int
	_ = f.db.Admin.QueryRow(ctx, `SELECT count(*) FROM entries WHERE completes = $1::uuid`, b.EntryID).Scan(&posts)
	if posts != 1 {
		t.Fatalf("completions of the payout entry = %d, want 1", posts)
	}
	f.verify(t)
}

func TestOutboxRefusalVoids(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "account frozen", http.StatusUnprocessableEntity)
	}))
	defer srv.Close()
	f := newFixture(t)
	b := executedWithWebhook(t, f, srv.URL)
	ctx := context.Background()
	if n, err := f.pay.DeliverOutbox(ctx); err != nil || n != 1 {
		t.Fatalf("DeliverOutbox = %d, %v; want 1 finished", n, err)
	}
	if got := entryPhase(t, f, b.EntryID); got != string(ledger.VoidPending) {
		t.Fatalf("payout entry = %s, want voided", got)
	}
	if got := f.balance(t, "208:USDT:C"); got != "25" {
		t.Fatalf("208:USDT:C = %s, want 25 (nothing paid)", got)
	}
	// The refused lines' accruals are payable again.
	if _, _, err := f.pay.BuildBatch(ctx, payouts.BuildOptions{}, "admin-1"); err != nil {
		t.Fatalf("rebuild after refusal: %v", err)
	}
	f.verify(t)
}
