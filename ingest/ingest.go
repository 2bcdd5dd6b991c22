package ingest

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/folioledger/folio"
	"github.com/folioledger/folio/affiliate"
	"github.com/folioledger/folio/ledger"
	"github.com/folioledger/folio/schema"
	"github.com/jackc/pgx/v5"
)

// ErrBusy is returned when the ingestion queue is full: the caller should
// retry later (HTTP 503 with Retry-After).
var ErrBusy = folio.Errorf(folio.EUNAVAILABLE, "the server is busy: the write queue is full; retry shortly")

// Options tune group commit.
type Options struct {
	// MaxItems flushes a group once it holds this many trades and entries
	// (default 2000).
	MaxItems int
	// MaxWait flushes a group this long after its first request arrived
	// (default 2 ms).
	MaxWait time.Duration
	// QueueSize bounds the requests waiting for each writer (default
	// 1024); beyond it Submit returns ErrBusy instead of growing memory.
	QueueSize int
	// Shards is the journal's number of shards (ledger.Ledger.Shards;
	// default 1): trades are booked by one writer per shard, each trade by
	// the writer of its trader's shard (ledger.ShardOf).
	Shards int
	// Overlap prepares each shard's next group of trades in a read-only
	// snapshot while the shard's previous group is being written (see
	// "Overlap" in the package doc); false prepares each group inside its
	// write transaction.
	Overlap bool
}

// TradePoster books trades inside the caller's transaction, one result per
// trade in order; an error fails the whole transaction. Once the
// transaction has committed, the writer calls the result's Committed (the
// statistics folder then folds the trades' accruals from memory).
// *affiliate.Service is one (see affiliate.Service.BookTradesTx).
// With Options.Overlap the writer books a group in two transactions
// instead: PrepareTrades in a read-only snapshot, BookPreparedTx in the
// write transaction (see "Overlap" in the package doc).
type TradePoster interface {
	BookTradesTx(ctx context.Context, tx pgx.Tx, trades []affiliate.NewTrade) (affiliate.Booked, error)
	PrepareTrades(ctx context.Context, tx pgx.Tx, trades []affiliate.NewTrade) (*affiliate.Prepared, error)
	BookPreparedTx(ctx context.Context, tx pgx.Tx, p *affiliate.Prepared) (affiliate.Booked, error)
}

// EntryPoster applies journal operations inside the caller's transaction,
// one result per operation in order. With opts.Atomic a rejected item
// fails them all with ledger.ErrBatchRejected; any other error fails the
// whole transaction. *ledger.Ledger is one (see ledger.Ledger.ApplyTx).
type EntryPoster interface {
	ApplyTx(ctx context.Context, tx pgx.Tx, ops []ledger.Op, opts ledger.Options) ([]ledger.Result, error)
}

// Ingester is group commit: one writer per journal shard for trades and
// one for entries, each coalescing the requests queued for it into shared
// database transactions — one BookTradesTx for a shard's queued trades,
// one ledger batch for the queued non-atomic entries — so a shard's head
// is updated once per transaction instead of once per request. Each
// request gets its own per-item results once the transaction that holds it
// commits. A request
// whose group fails as a whole is retried in a transaction of its own, so
// one bad request cannot fail its neighbours. See the package doc.
type Ingester struct {
	db      *schema.DB
	trades  TradePoster
	entries EntryPoster
	opts    Options
	queue   chan *job   // entries, for the entries writer
	shardQ  []chan *job // trades, per shard, for the shard writers
	logs    []*shardLog // per shard, what its writer committed lately
	// With Options.Overlap, the group transactions by where their trades
	// were prepared (OverlapCounts).
	ahead, again, inTx atomic.Int64
}

type job struct {
	shard   int // the shard writer's, for a trades part
	trades  []affiliate.NewTrade
	entries []ledger.NewEntry
	atomic  bool
	done    chan result
}

type result struct {
	trades  []affiliate.TradeResult
	entries []ledger.Result
	err     error
}

// New returns an ingester that writes in db's journal transactions
// (ledger.JournalTx), booking trades through trades and entries through
// entries, both writing on db; call Run to start its writer. In `folio
// serve` they are the affiliate service and the ledger it was built on.
func New(db *schema.DB, trades TradePoster, entries EntryPoster, opts Options) *Ingester {
	if opts.MaxItems <= 0 {
		opts.MaxItems = 2000
	}
	if opts.MaxWait <= 0 {
		opts.MaxWait = 2 * time.Millisecond
	}
	if opts.QueueSize <= 0 {
		opts.QueueSize = 1024
	}
	if opts.Shards <= 0 {
		opts.Shards = 1
	}
	g := &Ingester{db: db, trades: trades, entries: entries, opts: opts, queue: make(chan *job, opts.QueueSize)}
	for range opts.Shards {
		g.shardQ = append(g.shardQ, make(chan *job, opts.QueueSize))
		g.logs = append(g.logs, &shardLog{})
	}
	return g
}

// SubmitTrades books trades through the writer, at most
// affiliate.MaxTradesPerBatch, with one result per trade (see
// affiliate.Service.BookTradesTx). It returns ErrBusy when the queue is
// full and ctx's error if ctx ends first (the trades may still commit).
func (g *Ingester) SubmitTrades(ctx context.Context, trades []affiliate.NewTrade) ([]affiliate.TradeResult, error) {
	p, err := g.EnqueueTrades(trades)
	if err != nil {
		return nil, err
	}
	return p.Wait(ctx)
}

// PendingTrades are trades queued for the writers by
// [Ingester.EnqueueTrades]; Wait returns their results.
type PendingTrades struct {
	n     int
	parts []*job
	where [][]int
}

// EnqueueTrades queues trades for the writers, as SubmitTrades does, and
// returns at once: the caller waits for their results with Wait. Trades
// queued by one caller in turn reach each shard's writer in that order, so
// a trader's trades are booked in the order they were queued (see
// stream.Booker, which queues the chunks of one message batch side by
// side). It returns ErrBusy when a writer's queue is full (parts for
// other shards may have been queued already, as with SubmitTrades).
func (g *Ingester) EnqueueTrades(trades []affiliate.NewTrade) (*PendingTrades, error) {
	if len(trades) > affiliate.MaxTradesPerBatch {
		return nil, folio.Errorf(folio.EINVALID, "at most %d trades per call", affiliate.MaxTradesPerBatch)
	}
	// One part per shard, each to its shard's writer; the results are put
	// back in request order.
	n := len(g.shardQ)
	parts := make([]*job, n)
	where := make([][]int, n)
	for i, t := range trades {
		s := ledger.ShardOf(t.UserID, n)
		if parts[s] == nil {
			parts[s] = &job{shard: s, done: make(chan result, 1)}
		}
		parts[s].trades = append(parts[s].trades, t)
		where[s] = append(where[s], i)
	}
	for _, p := range parts {
		if p == nil {
			continue
		}
		select {
		case g.shardQ[p.shard] <- p:
		default:
			// Parts already queued are written anyway: their trades
			// are idempotent, and the caller sends them all again.
			return nil, ErrBusy
		}
	}
	return &PendingTrades{n: len(trades), parts: parts, where: where}, nil
}

// Wait returns the results of the queued trades, one per trade in order,
// once they are committed; ctx's error if ctx ends first (the trades may
// still commit).
func (p *PendingTrades) Wait(ctx context.Context) ([]affiliate.TradeResult, error) {
	out := make([]affiliate.TradeResult, p.n)
	for s, part := range p.parts {
		if part == nil {
			continue
		}
		select {
		case r := <-part.done:
			if r.err != nil {
				return nil, r.err
			}
			for k, i := range p.where[s] {
				out[i] = r.trades[k]
			}
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return out, nil
}

// SubmitEntries posts ledger entries through the writer, with one result
// per entry; atomic batches are all-or-nothing as with ledger.Post (their
// rejection is ledger.ErrBatchRejected). ErrBusy and ctx as SubmitTrades.
func (g *Ingester) SubmitEntries(ctx context.Context, entries []ledger.NewEntry, atomic bool) ([]ledger.Result, error) {
	r, err := g.submit(ctx, &job{entries: entries, atomic: atomic, shard: -1})
	return r.entries, err
}

func (g *Ingester) submit(ctx context.Context, j *job) (result, error) {
	j.done = make(chan result, 1)
	select {
	case g.queue <- j:
	default:
		return result{}, ErrBusy
	}
	select {
	case r := <-j.done:
		return r, r.err
	case <-ctx.Done():
		return result{}, ctx.Err()
	}
}

// Run runs the writers — one per journal shard for trades, one for
// entries — and returns when ctx is done, after every writer answered the
// requests it had taken.
func (g *Ingester) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for s, q := range g.shardQ {
		wg.Go(func() { g.loop(ctx, q, s) })
	}
	g.loop(ctx, g.queue, -1)
	wg.Wait()
}

// loop is one writer: shard is its journal shard, or -1 for entries.
func (g *Ingester) loop(ctx context.Context, queue chan *job, shard int) {
	if shard >= 0 && g.opts.Overlap {
		g.overlapLoop(ctx, queue, shard)
		return
	}
	for {
		group := g.collect(ctx, queue)
		if group == nil {
			return
		}
		g.commit(context.WithoutCancel(ctx), group, shard, nil, nil)
	}
}

// collect returns the next group of queue (see "How requests are grouped"
// in the package doc), or nil once ctx is done, after answering the
// requests still queued.
func (g *Ingester) collect(ctx context.Context, queue chan *job) []*job {
	var first *job
	select {
	case <-ctx.Done():
		drain(queue)
		return nil
	case first = <-queue:
	}
	timer := time.NewTimer(g.opts.MaxWait)
	defer timer.Stop()
	return g.extend([]*job{first}, queue, nil, timer.C)
}

// extend adds to group what queues until done is closed, timeout fires
// (nil ones never do) or the group holds MaxItems.
func (g *Ingester) extend(group []*job, queue chan *job, done <-chan struct{}, timeout <-chan time.Time) []*job {
	n := items(group)
	for n < g.opts.MaxItems {
		select {
		case j := <-queue:
			group = append(group, j)
			n += j.size()
		case <-done:
			return group
		case <-timeout:
			return group
		}
	}
	return group
}

// groupTrades is the trades of group's requests, in order.
func groupTrades(group []*job) []affiliate.NewTrade {
	var trades []affiliate.NewTrade
	for _, j := range group {
		trades = append(trades, j.trades...)
	}
	return trades
}

func items(group []*job) int {
	n := 0
	for _, j := range group {
		n += j.size()
	}
	return n
}

// drain answers queued requests after shutdown began.
func drain(queue chan *job) {
	for {
		select {
		case j := <-queue:
			j.done <- result{err: folio.Errorf(folio.EUNAVAILABLE, "the server is shutting down")}
		default:
			return
		}
	}
}

func (j *job) size() int { return len(j.trades) + len(j.entries) }

// commit writes a group in one transaction, or each job alone if the group
// fails as a whole. ahead is the group's trades prepared ahead (nil: none);
// stmts, when not nil, is closed once the group's statements have run
// (before its COMMIT), or it failed.
func (g *Ingester) commit(ctx context.Context, group []*job, shard int, ahead *preparedGroup, stmts chan struct{}) {
	results, err := g.write(ctx, group, shard, ahead, stmts)
	if err == nil {
		for i, j := range group {
			j.done <- results[i]
		}
		return
	}
	if len(group) == 1 || schema.IsUnavailable(err) {
		// A database outage is not one request's fault: every request
		// of the group gets the error (503) and resends.
		for _, j := range group {
			j.done <- result{err: err}
		}
		return
	}
	for _, j := range group {
		r, err := g.write(ctx, []*job{j}, shard, nil, nil)
		if err != nil {
			j.done <- result{err: err}
			continue
		}
		j.done <- r[0]
	}
}

func (g *Ingester) write(ctx context.Context, group []*job, shard int, ahead *preparedGroup, stmts chan struct{}) ([]result, error) {
	var results []result
	var booked affiliate.Booked
	attempt := 0
	var once sync.Once
	signal := func() {
		if stmts != nil {
			once.Do(func() { close(stmts) })
		}
	}
	defer signal()
	trades := groupTrades(group)
	err := ledger.GroupJournalTx(ctx, g.db, func(tx pgx.Tx) error {
		defer signal()
		attempt++
		results = make([]result, len(group))
		booked = affiliate.Booked{}
		if shard >= 0 {
			// The shard's head first: everything read after it sees the
			// shard's previous group (see schema.DB.WriterTx).
			if err := ledger.LockShard(ctx, tx, shard); err != nil {
				return err
			}
		}
		var ops []ledger.Op
		for _, j := range group {
			if !j.atomic {
				for k := range j.entries {
					ops = append(ops, ledger.Op{New: &j.entries[k]})
				}
			}
		}
		if len(trades) > 0 {
			var err error
			if booked, err = g.bookTrades(ctx, tx, trades, shard, ahead, attempt); err != nil {
				return err
			}
			tr := booked.Results
			for i, j := range group {
				results[i].trades, tr = tr[:len(j.trades)], tr[len(j.trades):]
			}
		}
		if len(ops) > 0 {
			er, err := g.entries.ApplyTx(ctx, tx, ops, ledger.Options{})
			if err != nil {
				return err
			}
			for i, j := range group {
				if !j.atomic {
					results[i].entries, er = er[:len(j.entries)], er[len(j.entries):]
				}
			}
		}
		for i, j := range group {
			if !j.atomic || len(j.entries) == 0 {
				continue
			}
			jops := make([]ledger.Op, len(j.entries))
			for k := range j.entries {
				jops[k] = ledger.Op{New: &j.entries[k]}
			}
			er, err := g.entries.ApplyTx(ctx, tx, jops, ledger.Options{Atomic: true})
			if err != nil && !errors.Is(err, ledger.ErrBatchRejected) {
				return err
			}
			results[i].entries, results[i].err = er, err
		}
		return nil
	})
	if err == nil {
		booked.Committed()
		if shard >= 0 {
			g.logs[shard].add(booked.Touched())
		}
	}
	return results, err
}
