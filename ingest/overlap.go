package ingest

import (
	"context"
	"sync"
	"time"

	"github.com/folioledger/folio/affiliate"
	"github.com/jackc/pgx/v5"
)

// Overlap (Options.Overlap): a shard's writer prepares its next group
// while the previous group is being written. See "Overlap" in the package
// doc.

// preparedGroup is a group's trades prepared ahead of its write.
type preparedGroup struct {
	p *affiliate.Prepared // nil: the snapshot failed; prepare in the write
	// epoch is the shard's committed groups when the snapshot was about to
	// begin: every later one may be missing from it.
	epoch uint64
}

// shardLog is what a shard's writer committed lately: a count of its
// committed groups, and what the last few changed (affiliate.Touched).
type shardLog struct {
	mu     sync.Mutex
	epoch  uint64
	recent []*affiliate.Touched // the last groups', oldest first
}

// keptTouched is how many groups' changes a shard's log keeps: a snapshot
// that misses more is prepared again in its write transaction.
const keptTouched = 8

func (l *shardLog) add(t *affiliate.Touched) {
	if t == nil {
		t = &affiliate.Touched{} // a group that booked nothing
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.epoch++
	l.recent = append(l.recent, t)
	if len(l.recent) > keptTouched {
		l.recent = l.recent[1:]
	}
}

func (l *shardLog) now() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.epoch
}

// since returns the changes of the groups committed after epoch; ok is
// false when the log no longer holds them all.
func (l *shardLog) since(epoch uint64) (ts []*affiliate.Touched, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := l.epoch - epoch
	if n > uint64(len(l.recent)) {
		return nil, false
	}
	return l.recent[uint64(len(l.recent))-n:], true
}

// overlapLoop is a shard's writer with Options.Overlap: this goroutine
// collects and prepares groups, and hands each to a second one that
// writes them in order; the hand-over waits for the writer, so one group
// at most is prepared ahead. A group stays open while the previous
// group's statements run (up to MaxItems). Then it is prepared ahead only
// if that pays: the previous group is still being written (committing),
// and this one is as large (or full). Otherwise — the writer is idle, or
// overlapping would split what one transaction would carry, as with a
// fixed number of clients each waiting for its answer, which the pipeline
// would share out between two smaller groups, each with a transaction's
// fixed cost — it is collected and written as without Overlap: it keeps
// collecting until the previous group is written and MaxWait after, and
// is prepared in its write transaction.
func (g *Ingester) overlapLoop(ctx context.Context, queue chan *job, shard int) {
	ready := make(chan func())
	var writer sync.WaitGroup
	writer.Go(func() {
		for write := range ready {
			write()
		}
	})
	wctx := context.WithoutCancel(ctx)
	prev := &inFlight{stmts: closedChan, done: closedChan}
	for {
		group := g.collect(ctx, queue)
		if group == nil {
			break
		}
		group = g.extend(group, queue, prev.stmts, nil)
		var ahead *preparedGroup
		switch {
		case closed(prev.done): // nothing to overlap with
		case items(group) >= min(prev.items, g.opts.MaxItems):
			ahead = g.prepare(wctx, group, shard)
		default:
			group = g.extend(group, queue, prev.done, nil)
			timer := time.NewTimer(g.opts.MaxWait)
			group = g.extend(group, queue, nil, timer.C)
			timer.Stop()
		}
		cur := &inFlight{stmts: make(chan struct{}), done: make(chan struct{}), items: items(group)}
		ready <- func() {
			defer close(cur.done)
			g.commit(wctx, group, shard, ahead, cur.stmts)
		}
		prev = cur
	}
	close(ready)
	writer.Wait()
}

// inFlight is a group handed to the writer: stmts is closed once its
// statements have run (before its COMMIT), done once it is answered.
type inFlight struct {
	stmts, done chan struct{}
	items       int
}

var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

func closed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// prepare prepares group's trades in a read-only snapshot (schema.DB.
// SnapshotTx). A failure is not the group's answer: its write transaction
// prepares it again and answers.
func (g *Ingester) prepare(ctx context.Context, group []*job, shard int) *preparedGroup {
	ahead := &preparedGroup{epoch: g.logs[shard].now()}
	trades := groupTrades(group)
	err := g.db.SnapshotTx(ctx, func(tx pgx.Tx) error {
		var err error
		ahead.p, err = g.trades.PrepareTrades(ctx, tx, trades)
		return err
	})
	if err != nil {
		ahead.p = nil
	}
	return ahead
}

// bookTrades books a shard's group in tx: as prepared ahead when it was,
// this is the transaction's first attempt, and no group committed since
// the snapshot changed what the preparation read (affiliate.Prepared.
// Stale); otherwise prepared here, in tx.
func (g *Ingester) bookTrades(ctx context.Context, tx pgx.Tx, trades []affiliate.NewTrade, shard int, ahead *preparedGroup, attempt int) (affiliate.Booked, error) {
	switch {
	case ahead == nil:
		if g.opts.Overlap {
			g.inTx.Add(1)
		}
	case ahead.p != nil && attempt == 1:
		if since, ok := g.logs[shard].since(ahead.epoch); ok && !ahead.p.Stale(since) {
			g.ahead.Add(1)
			return g.trades.BookPreparedTx(ctx, tx, ahead.p)
		}
		fallthrough
	default:
		g.again.Add(1)
	}
	return g.trades.BookTradesTx(ctx, tx, trades)
}

// OverlapCounts are the group transactions of the shard writers with
// Options.Overlap, by where their trades were prepared: Ahead, in a
// snapshot while the previous group was written; Again, prepared ahead
// but prepared again in the write transaction (a group committed since
// changed what the snapshot read, a retry, or the snapshot failed); InTx,
// in the write transaction (nothing to overlap with, or overlapping would
// have split the group; also a request retried alone).
type OverlapCounts struct {
	Ahead, Again, InTx int64
}

// Overlap returns the counts since the ingester was made.
func (g *Ingester) Overlap() OverlapCounts {
	return OverlapCounts{Ahead: g.ahead.Load(), Again: g.again.Load(), InTx: g.inTx.Load()}
}
