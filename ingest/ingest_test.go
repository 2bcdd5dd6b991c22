package ingest_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/folioledger/folio/affiliate"
	"github.com/folioledger/folio/ingest"
	"github.com/folioledger/folio/ledger"
)

func TestIngesterGroupCommit(t *testing.T) {
	f := newFixture(t)
	brokerTree(t, f)
	ing := ingest.New(f.svc.DB, f.svc, f.ledger, ingest.Options{MaxWait: 5 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go ing.Run(ctx)
	const clients, perClient = 16, 20
	var wg sync.WaitGroup
	errs := make(chan error, clients*perClient)
	created := make(chan string, clients*perClient*2)
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < perClient; i++ {
				// Clients overlap: trade ids repeat across pairs of clients.
				id := fmt.Sprintf("g-%d-%d", c/2, i)
				res, err := ing.SubmitTrades(ctx, []affiliate.NewTrade{trade(id, "D", "1.5")})
				if err != nil {
					errs <- err
					return
				}
				if res[0].Status == affiliate.TradeCreated {
					created <- id
				} else if res[0].Status != affiliate.TradeExists {
					errs <- fmt.Errorf("trade %s: %s %v", id, res[0].Status, res[0].Err)
				}
				er, err := ing.SubmitEntries(ctx, []ledger.NewEntry{{IdempotencyKey: fmt.Sprintf("e-%d-%d", c, i), Postings: []ledger.NewPosting{
					{Account: "110:USDT", Side: "debit", Amount: "1"}, {Account: "201:USDT:D", Side: "credit", Amount: "1"}}}}, c%3 == 0)
				if err != nil || er[0].Err != nil {
					errs <- fmt.Errorf("entry: %v %v", err, er)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	close(created)
	for err := range errs {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for id := range created {
		if seen[id] {
			t.Fatalf("trade %s created twice", id)
		}
		seen[id] = true
	}
	if len(seen) != clients/2*perClient {
		t.Fatalf("created %d distinct trades, want %d", len(seen), clients/2*perClient)
	}
	var trades, entries int
	if err := f.db.Admin.QueryRow(ctx, `SELECT (SELECT count(*) FROM trades), (SELECT count(*) FROM entries WHERE kind = 'manual')`).Scan(&trades, &entries); err != nil {
		t.Fatal(err)
	}
	if trades != clients/2*perClient || entries != clients*perClient {
		t.Fatalf("trades %d, manual entries %d; want %d and %d", trades, entries, clients/2*perClient, clients*perClient)
	}
	var txs int
	// Group commit: far fewer journal-head updates (seq jumps) than requests.
	if err := f.db.Admin.QueryRow(ctx, `SELECT count(DISTINCT recorded_at) FROM entries`).Scan(&txs); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d requests committed in %d transactions", clients*perClient*2, txs)
	f.verify(t)
}

func TestIngesterBackpressure(t *testing.T) {
	f := newFixture(t)
	ing := ingest.New(f.svc.DB, f.svc, f.ledger, ingest.Options{QueueSize: 1})
	// No writer runs: the first request waits in the queue, the second is
	// refused at once instead of queueing without bound.
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	go ing.SubmitTrades(ctx, []affiliate.NewTrade{trade("q-1", "D", "1")})
	var err error
	for i := 0; i < 100; i++ {
		if _, err = ing.SubmitTrades(ctx, []affiliate.NewTrade{trade("q-2", "D", "1")}); errors.Is(err, ingest.ErrBusy) {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("second submit = %v, want ErrBusy", err)
}

// The engines the ingester feeds in `folio serve`.
var (
	_ ingest.TradePoster = (*affiliate.Service)(nil)
	_ ingest.EntryPoster = (*ledger.Ledger)(nil)
)

// TestIngesterAtomicRejectionInGroup: a rejected atomic batch sharing a
// group with other requests is refused as a whole (ErrBatchRejected, per-item
// results, nothing written) while its neighbours commit.
func TestIngesterAtomicRejectionInGroup(t *testing.T) {
	f := newFixture(t)
	brokerTree(t, f)
	ing := ingest.New(f.svc.DB, f.svc, f.ledger, ingest.Options{MaxWait: 200 * time.Millisecond})
	ctx := context.Background()
	deposit := func(key, amount string) ledger.NewEntry {
		return ledger.NewEntry{IdempotencyKey: key, Postings: []ledger.NewPosting{
			{Account: "110:USDT", Side: "debit", Amount: amount}, {Account: "201:USDT:D", Side: "credit", Amount: amount}}}
	}
	unbalanced := func(key string) ledger.NewEntry {
		return ledger.NewEntry{IdempotencyKey: key, Postings: []ledger.NewPosting{
			{Account: "110:USDT", Side: "debit", Amount: "1"}, {Account: "201:USDT:D", Side: "credit", Amount: "2"}}}
	}

	var wg sync.WaitGroup
	var (
		tradeRes                      []affiliate.TradeResult
		plainRes, atomicRes           []ledger.Result
		tradeErr, plainErr, atomicErr error
	)
	wg.Go(func() { tradeRes, tradeErr = ing.SubmitTrades(ctx, []affiliate.NewTrade{trade("r-1", "D", "2")}) })
	wg.Go(func() {
		plainRes, plainErr = ing.SubmitEntries(ctx, []ledger.NewEntry{deposit("p-1", "3"), unbalanced("bad-p"), deposit("p-2", "4")}, false)
	})
	wg.Go(func() {
		atomicRes, atomicErr = ing.SubmitEntries(ctx, []ledger.NewEntry{deposit("a-1", "5"), unbalanced("bad-a")}, true)
	})
	for ingest.Queued(ing) < 3 {
		time.Sleep(time.Millisecond)
	}
	// All three queued before the writer starts: one group.
	rctx, stop := context.WithCancel(ctx)
	ran := make(chan struct{})
	go func() { ing.Run(rctx); close(ran) }()
	wg.Wait()
	stop()
	<-ran

	if tradeErr != nil || len(tradeRes) != 1 || tradeRes[0].Status != affiliate.TradeCreated {
		t.Errorf("SubmitTrades = %+v, %v; want one created trade", tradeRes, tradeErr)
	}
	if plainErr != nil || len(plainRes) != 3 || plainRes[0].Err != nil || plainRes[1].Err == nil || plainRes[2].Err != nil {
		t.Errorf("SubmitEntries(non-atomic) = %+v, %v; want the middle item refused, the others written", plainRes, plainErr)
	}
	if !errors.Is(atomicErr, ledger.ErrBatchRejected) || len(atomicRes) != 2 || !errors.Is(atomicRes[0].Err, ledger.ErrNotWritten) || atomicRes[1].Err == nil {
		t.Errorf("SubmitEntries(atomic) = %+v, %v; want ErrBatchRejected with per-item errors", atomicRes, atomicErr)
	}
	var keys int
	if err := f.db.Admin.QueryRow(ctx, `SELECT count(*) FROM entries WHERE idempotency_key IN ('p-1', 'p-2', 'a-1', 'bad-p', 'bad-a')`).Scan(&keys); err != nil {
		t.Fatal(err)
	}
	if keys != 2 {
		t.Errorf("%d of p-1, p-2, a-1, bad-p, bad-a written, want 2 (p-1, p-2)", keys)
	}
	// p-1 and p-2 (the trade's fee is paid from 202:USDT:D), not a-1.
	if got, want := f.balance(t, "201:USDT:D"), "7"; got != want {
		t.Errorf("201:USDT:D = %s, want %s", got, want)
	}
	f.verify(t)
}
