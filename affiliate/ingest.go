package affiliate

import (
	"context"
	"errors"
	"time"

	"github.com/folioledger/folio"
	"github.com/folioledger/folio/ledger"
	"github.com/folioledger/folio/schema"
	"github.com/jackc/pgx/v5"
)

// ErrBusy is returned when the ingestion queue is full: the caller should
// retry later (HTTP 503 with Retry-After).
var ErrBusy = folio.Errorf(folio.EUNAVAILABLE, "the server is busy: the write queue is full; retry shortly")

// IngestOptions tune group commit.
type IngestOptions struct {
	// MaxItems flushes a group once it holds this many trades and entries
	// (default 2000).
	MaxItems int
	// MaxWait flushes a group this long after its first request arrived
	// (default 2 ms).
	MaxWait time.Duration
	// QueueSize bounds the requests waiting for the writer (default 1024);
	// beyond it Submit returns ErrBusy instead of growing memory.
	QueueSize int
}

// Ingester is group commit: a single writer per server that coalesces
// concurrent trade and entry requests into shared database transactions —
// one PostTradesTx for all queued trades and one ledger batch for all
// queued non-atomic entries, so the journal head is updated once or twice
// per transaction instead of once per request. Each request gets its own
// per-item results once the transaction that holds it commits. A request
// whose group fails as a whole is retried in a transaction of its own, so
// one bad request cannot fail its neighbours.
type Ingester struct {
	svc   *Service
	opts  IngestOptions
	queue chan *ingestJob
}

type ingestJob struct {
	trades  []NewTrade
	entries []ledger.NewEntry
	atomic  bool
	done    chan ingestResult
}

type ingestResult struct {
	trades  []TradeResult
	entries []ledger.Result
	err     error
}

// NewIngester returns an ingester for svc; call Run to start its writer.
func NewIngester(svc *Service, opts IngestOptions) *Ingester {
	if opts.MaxItems <= 0 {
		opts.MaxItems = 2000
	}
	if opts.MaxWait <= 0 {
		opts.MaxWait = 2 * time.Millisecond
	}
	if opts.QueueSize <= 0 {
		opts.QueueSize = 1024
	}
	return &Ingester{svc: svc, opts: opts, queue: make(chan *ingestJob, opts.QueueSize)}
}

// SubmitTrades books trades through the writer (see PostTradesTx).
func (g *Ingester) SubmitTrades(ctx context.Context, trades []NewTrade) ([]TradeResult, error) {
	if len(trades) > MaxTradesPerBatch {
		return nil, folio.Errorf(folio.EINVALID, "at most %d trades per call", MaxTradesPerBatch)
	}
	r, err := g.submit(ctx, &ingestJob{trades: trades})
	return r.trades, err
}

// SubmitEntries posts ledger entries through the writer; atomic batches
// are all-or-nothing as with ledger.Post.
func (g *Ingester) SubmitEntries(ctx context.Context, entries []ledger.NewEntry, atomic bool) ([]ledger.Result, error) {
	r, err := g.submit(ctx, &ingestJob{entries: entries, atomic: atomic})
	return r.entries, err
}

func (g *Ingester) submit(ctx context.Context, j *ingestJob) (ingestResult, error) {
	j.done = make(chan ingestResult, 1)
	select {
	case g.queue <- j:
	default:
		return ingestResult{}, ErrBusy
	}
	select {
	case r := <-j.done:
		return r, r.err
	case <-ctx.Done():
		return ingestResult{}, ctx.Err()
	}
}

// Run is the writer loop; it returns when ctx is done, after answering
// every request it has taken.
func (g *Ingester) Run(ctx context.Context) {
	for {
		var first *ingestJob
		select {
		case <-ctx.Done():
			g.drain()
			return
		case first = <-g.queue:
		}
		group := []*ingestJob{first}
		items := first.size()
		timer := time.NewTimer(g.opts.MaxWait)
	collect:
		for items < g.opts.MaxItems {
			select {
			case j := <-g.queue:
				group = append(group, j)
				items += j.size()
			case <-timer.C:
				break collect
			}
		}
		timer.Stop()
		g.commit(context.WithoutCancel(ctx), group)
	}
}

// drain answers queued requests after shutdown began.
func (g *Ingester) drain() {
	for {
		select {
		case j := <-g.queue:
			j.done <- ingestResult{err: folio.Errorf(folio.EUNAVAILABLE, "the server is shutting down")}
		default:
			return
		}
	}
}

func (j *ingestJob) size() int { return len(j.trades) + len(j.entries) }

// commit writes a group in one transaction, or each job alone if the group
// fails as a whole.
func (g *Ingester) commit(ctx context.Context, group []*ingestJob) {
	results, err := g.write(ctx, group)
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
			j.done <- ingestResult{err: err}
		}
		return
	}
	for _, j := range group {
		r, err := g.write(ctx, []*ingestJob{j})
		if err != nil {
			j.done <- ingestResult{err: err}
			continue
		}
		j.done <- r[0]
	}
}

func (g *Ingester) write(ctx context.Context, group []*ingestJob) ([]ingestResult, error) {
	var results []ingestResult
	err := g.svc.Ledger.JournalTx(ctx, func(tx pgx.Tx) error {
		results = make([]ingestResult, len(group))
		var trades []NewTrade
		var ops []ledger.Op
		for _, j := range group {
			trades = append(trades, j.trades...)
			if !j.atomic {
				for k := range j.entries {
					ops = append(ops, ledger.Op{New: &j.entries[k]})
				}
			}
		}
		if len(trades) > 0 {
			tr, err := g.svc.PostTradesTx(ctx, tx, trades)
			if err != nil {
				return err
			}
			for i, j := range group {
				results[i].trades, tr = tr[:len(j.trades)], tr[len(j.trades):]
			}
		}
		if len(ops) > 0 {
			er, err := g.svc.Ledger.ApplyTx(ctx, tx, ops, ledger.Options{})
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
			er, err := g.svc.Ledger.ApplyTx(ctx, tx, jops, ledger.Options{Atomic: true})
			if err != nil && !errors.Is(err, ledger.ErrBatchRejected) {
				return err
			}
			results[i].entries, results[i].err = er, err
		}
		return nil
	})
	return results, err
}
