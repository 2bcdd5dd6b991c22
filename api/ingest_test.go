package api

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/folioledger/folio/affiliate"
	"github.com/folioledger/folio/ingest"
	"github.com/folioledger/folio/ledger"
)

// withIngester rebuilds e's server with group commit (and returns the
// ingester, not yet running).
func (e *env) withIngester(opts ingest.Options) *ingest.Ingester {
	l := ledger.New(e.app)
	l.Now = e.clock.Now
	svc := affiliate.NewService(e.app, l)
	svc.Now = e.clock.Now
	ing := ingest.New(e.app, svc, l, opts)
	e.srv = New(Config{DB: e.app, Ledger: l, AdminKey: bootstrapKey, Affiliate: svc, Ingester: ing,
		Logger: slog.New(slog.NewJSONHandler(e.logs, nil)), Registry: prometheus.NewRegistry(), Now: e.clock.Now})
	return ing
}

// Concurrent entry and trade requests through group commit each get their
// own answer; replays and conflicts keep their meaning.
func TestGroupCommitOverHTTP(t *testing.T) {
	e := newEnv(t)
	e.currencies()
	ing := e.withIngester(ingest.Options{MaxWait: 3 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go ing.Run(ctx)
	e.must(http.StatusCreated, req{Method: "PUT", Path: "/v1/programs/broker", Key: bootstrapKey, Body: map[string]any{"kind": "levels", "levels": []string{"0.25"}, "default": true}})
	e.must(http.StatusCreated, req{Method: "POST", Path: "/v1/users", Key: bootstrapKey, Body: map[string]any{"id": "A"}})
	var wg sync.WaitGroup
	statuses := make(chan int, 64)
	for i := 0; i < 32; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := fmt.Sprintf("gc-%d", i%16) // pairs share a key and content: one 201, one 200
			res := e.do(req{Method: "POST", Path: "/v1/entries", Key: bootstrapKey, Header: map[string]string{"Idempotency-Key": key},
				Body: entryBody("", posting("110:USDT", "debit", "2"), posting("201:USDT:u1", "credit", "2"))})
			statuses <- res.Status
		}()
	}
	wg.Wait()
	close(statuses)
	count := map[int]int{}
	for s := range statuses {
		count[s]++
	}
	if count[http.StatusCreated] != 16 || count[http.StatusOK] != 16 {
		t.Fatalf("statuses %v, want 16 created and 16 replays", count)
	}
	if got := e.balance("201:USDT:u1"); got != "32" {
		t.Fatalf("201:USDT:u1 = %s, want 32", got)
	}
	res := e.must(http.StatusOK, req{Method: "POST", Path: "/v1/trades", Key: bootstrapKey, Body: map[string]any{"trades": []map[string]any{
		{"id": "t1", "user_id": "A", "market": "BTCUSDT", "liquidity": "taker", "fee": map[string]string{"amount": "4", "currency": "USDT"}, "executed_at": "2026-01-10T11:00:00Z"}}}})
	if !strings.Contains(string(res.Body), `"created"`) {
		t.Fatalf("trade through group commit: %s", res.Body)
	}
}

// A full queue answers 503 with Retry-After instead of growing memory.
func TestGroupCommitBackpressure(t *testing.T) {
	e := newEnv(t)
	e.currencies()
	e.withIngester(ingest.Options{QueueSize: 1}) // its writer never runs
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	post := func(key string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("POST", "/v1/entries", strings.NewReader(`{"postings": [{"account": "110:USDT", "side": "debit", "amount": "1"}, {"account": "201:USDT:u1", "side": "credit", "amount": "1"}]}`)).WithContext(ctx)
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Authorization", "Bearer "+bootstrapKey)
		r.Header.Set("Idempotency-Key", key)
		w := httptest.NewRecorder()
		e.srv.Handler().ServeHTTP(w, r)
		return w
	}
	go post("queued") // occupies the one queue slot until ctx ends
	for i := 0; i < 200; i++ {
		w := post(fmt.Sprintf("k-%d", i))
		if w.Code == http.StatusServiceUnavailable {
			if w.Header().Get("Retry-After") == "" || !strings.Contains(w.Body.String(), `"unavailable"`) {
				t.Fatalf("503 without Retry-After or code: %v %s", w.Header(), w.Body)
			}
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("no request was refused with 503 while the queue was full")
}
