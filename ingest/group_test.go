package ingest_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/folioledger/folio/affiliate"
	"github.com/folioledger/folio/ingest"
	"github.com/folioledger/folio/ledger"
)

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
