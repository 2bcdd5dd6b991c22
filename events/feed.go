package events

import (
	"context"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/folioledger/folio"
	"github.com/folioledger/folio/affiliate"
	"github.com/folioledger/folio/audit"
	"github.com/folioledger/folio/ledger"
	"github.com/folioledger/folio/payouts"
	"github.com/folioledger/folio/schema"
)

// Event is one event of the feed. Exactly one of Entry, Accrual and Audit
// is set, by Type's family (payout and config events are audit records).
type Event struct {
	// ID is the event's stable id: "entry:<uuid>", "accrual:<uuid>" or
	// "audit:<uuid>". It is the same however the event is read (page,
	// stream, webhook): a consumer de-duplicates by it.
	ID   string
	Type string
	At   time.Time // when it was recorded
	// Cursor is the feed's position just after this event: reading after
	// it returns the events that follow.
	Cursor string

	Entry   *ledger.Entry
	Accrual *affiliate.Accrual
	Audit   *audit.Record
	// Lines are, for an affiliate-scoped read of a payout event, the
	// holder's lines of the batch (as they are when read).
	Lines []payouts.Line
}

// BatchID is the payout batch a payout event is about ("" otherwise).
func (e *Event) BatchID() string {
	if e.Audit == nil {
		return ""
	}
	id, _ := strings.CutPrefix(e.Audit.Object, "payout_batch:")
	if id == e.Audit.Object {
		return ""
	}
	return id
}

// Filter selects the events of a read.
type Filter struct {
	// Types are event types or families (ParseTypes); nil is every type.
	Types []string
	// Holder, when not "", scopes the read to one affiliate: its own
	// accruals (as beneficiary) and the payout events of batches in which
	// it has a line; nothing else.
	Holder string
}

// Page is the result of a read: the events and the cursor to read on from.
type Page struct {
	Events []Event
	Next   Cursor
	// More reports that the read stopped at its limit, or at its scan
	// budget, before reaching the end of every source.
	More bool
}

// Feed reads the event feed from the journal, the accruals and the audit
// log, through their owners' read functions.
type Feed struct {
	DB *schema.DB
}

// Limits of a read.
const (
	MaxLimit = 1000
	// filteredScan is how many events of each source a filtered read
	// fetches: a scoped or type-filtered page may skip many.
	filteredScan = 1000
)

// auditSource is the merge rank of the audit log, after every shard.
const auditSource = ledger.MaxShards

// item is one event of a source with its position in that source.
type item struct {
	ev  Event
	pos pos
}

// source is one source's events fetched for a read, in source order, and
// the position at the end of the fetched range.
type source struct {
	rank  int // shard number, or auditSource
	items []item
	next  int
	end   pos
	more  bool // the source has events past end
}

// Read returns up to limit events after the cursor, matching f, read in
// one snapshot. See doc.go, "Order", for the order and what a resumed read
// guarantees.
func (fd *Feed) Read(ctx context.Context, after Cursor, f Filter, limit int) (*Page, error) {
	var page *Page
	err := fd.DB.ReadTx(ctx, func(tx pgx.Tx) error {
		var err error
		page, err = read(ctx, tx, after, f, limit)
		return err
	})
	return page, err
}

// Head returns the cursor at the feed's current end: reading after it
// returns only events recorded later.
func (fd *Feed) Head(ctx context.Context) (Cursor, error) {
	var c Cursor
	err := fd.DB.ReadTx(ctx, func(tx pgx.Tx) error {
		heads, err := ledger.Heads(ctx, tx)
		if err != nil {
			return err
		}
		c = Cursor{}
		for _, h := range heads {
			if h.Seq > 0 {
				c.setShard(h.Shard, pos{h.Seq, subDone})
			}
		}
		c.audit, err = audit.LastPos(ctx, tx)
		return err
	})
	return c, err
}

func read(ctx context.Context, q schema.Querier, after Cursor, f Filter, limit int) (*Page, error) {
	if limit <= 0 || limit > MaxLimit {
		limit = MaxLimit
	}
	fetch := limit
	if f.Types != nil || f.Holder != "" {
		fetch = filteredScan
	}
	wantEntries := f.Holder == "" && wantsFamily(f.Types, "entry")
	wantAccruals := wantsFamily(f.Types, "accrual")
	wantAudit := wantsFamily(f.Types, "payout") || f.Holder == "" && wantsFamily(f.Types, "config")

	heads, err := ledger.Heads(ctx, q)
	if err != nil {
		return nil, err
	}
	lastAudit, err := audit.LastPos(ctx, q)
	if err != nil {
		return nil, err
	}
	if err := checkReachable(after, heads, lastAudit); err != nil {
		return nil, err
	}
	var sources []*source
	cur := after.clone()
	for _, h := range heads {
		p := after.shard(h.Shard)
		if p.seq == h.Seq && p.sub == subDone {
			continue // nothing new
		}
		lo := p.seq
		if p.sub != subDone {
			lo = p.seq - 1
		}
		through := min(h.Seq, lo+int64(fetch))
		if !wantEntries && !wantAccruals {
			through = h.Seq // no journal event is wanted: skip to the head
		}
		src := &source{rank: h.Shard, end: pos{through, subDone}, more: through < h.Seq}
		if wantEntries || wantAccruals {
			if src.items, err = shardItems(ctx, q, h.Shard, lo, through, wantEntries, wantAccruals); err != nil {
				return nil, err
			}
		}
		src.items = skipThrough(src.items, p)
		sources = append(sources, src)
	}
	if wantAudit {
		recs, err := audit.After(ctx, q, after.audit, fetch)
		if err != nil {
			return nil, err
		}
		src := &source{rank: auditSource, end: pos{after.audit, subDone}, more: len(recs) == fetch}
		for i := range recs {
			r := &recs[i]
			src.items = append(src.items, item{ev: Event{ID: "audit:" + r.ID, Type: auditType(r.Action), At: r.At, Audit: r}, pos: pos{r.Pos, subDone}})
			src.end = pos{r.Pos, subDone}
		}
		sources = append(sources, src)
	} else {
		// No audit event is wanted: skip the log to its end.
		cur.audit = lastAudit
	}

	page := &Page{}
	// Sources with nothing fetched are read to the end of their range.
	for _, s := range sources {
		if len(s.items) == 0 {
			setPos(&cur, s, s.end)
		}
		page.More = page.More || s.more
	}
	for len(page.Events) < limit {
		var best *source
		for _, s := range sources {
			if s.next == len(s.items) {
				continue
			}
			if best == nil || s.items[s.next].ev.At.Before(best.items[best.next].ev.At) {
				best = s
			}
		}
		if best == nil {
			break
		}
		it := best.items[best.next]
		best.next++
		p := it.pos
		if best.next == len(best.items) {
			p = best.end // the rest of the fetched range holds no event
		}
		setPos(&cur, best, p)
		ev := it.ev
		keep, err := admit(ctx, q, f, &ev)
		if err != nil {
			return nil, err
		}
		if keep {
			ev.Cursor = cur.String()
			page.Events = append(page.Events, ev)
		}
	}
	for _, s := range sources {
		page.More = page.More || s.next < len(s.items)
	}
	page.Next = cur
	return page, nil
}

// checkReachable refuses a cursor that names a shard the journal does not
// have or a position past a source's end: the feed never made it.
func checkReachable(c Cursor, heads []ledger.Head, lastAudit int64) error {
	bad := &folio.Error{Code: folio.EINVALID, Fields: []string{"after"},
		Message: "the cursor is ahead of the feed or names a journal shard it does not have; pass back a cursor exactly as received"}
	if c.audit > lastAudit {
		return bad
	}
	seqs := make(map[int]int64, len(heads))
	for _, h := range heads {
		seqs[h.Shard] = h.Seq
	}
	for n, p := range c.shards {
		head, ok := seqs[n]
		if !ok || p.seq > head {
			return bad
		}
	}
	return nil
}

func setPos(c *Cursor, s *source, p pos) {
	if s.rank == auditSource {
		c.audit = p.seq
		return
	}
	c.setShard(s.rank, p)
}

// skipThrough drops the items at or before p.
func skipThrough(items []item, p pos) []item {
	i := 0
	for i < len(items) && !p.less(items[i].pos) {
		i++
	}
	return items[i:]
}

// shardItems returns the events of one shard's entries with after < seq <=
// through: each entry (sub 0) followed by its accruals (sub 1…n).
func shardItems(ctx context.Context, q schema.Querier, shard int, after, through int64, entries, accruals bool) ([]item, error) {
	var es []*ledger.Entry
	var err error
	if entries {
		if es, err = ledger.ShardEntries(ctx, q, shard, after, through); err != nil {
			return nil, err
		}
	}
	var as []affiliate.Accrual
	var seqs []int64
	if accruals {
		if as, seqs, err = affiliate.AccrualsAt(ctx, q, shard, after, through, ""); err != nil {
			return nil, err
		}
	}
	var out []item
	ai := 0
	emitAccruals := func(upTo int64) {
		for ai < len(as) && seqs[ai] <= upTo {
			seq, sub := seqs[ai], 1
			for ai < len(as) && seqs[ai] == seq {
				a := &as[ai]
				out = append(out, item{ev: Event{ID: "accrual:" + a.ID, Type: TypeAccrualCreated, At: a.RecordedAt, Accrual: a}, pos: pos{seq, sub}})
				ai, sub = ai+1, sub+1
			}
		}
	}
	for _, e := range es {
		emitAccruals(e.Seq - 1)
		out = append(out, item{ev: Event{ID: "entry:" + e.ID, Type: TypeEntryPosted, At: e.RecordedAt, Entry: e}, pos: pos{e.Seq, 0}})
		emitAccruals(e.Seq)
	}
	emitAccruals(through)
	return out, nil
}

// admit reports whether ev passes f, and fills in what a scoped read shows.
func admit(ctx context.Context, q schema.Querier, f Filter, ev *Event) (bool, error) {
	if !matchType(f.Types, ev.Type) {
		return false, nil
	}
	if f.Holder == "" {
		return true, nil
	}
	switch {
	case ev.Accrual != nil:
		return ev.Accrual.Beneficiary == f.Holder, nil
	case strings.HasPrefix(ev.Type, "payout."):
		batch := ev.BatchID()
		if batch == "" {
			return false, nil
		}
		lines, err := payouts.HolderLines(ctx, q, batch, f.Holder)
		if err != nil {
			return false, err
		}
		ev.Lines = lines
		return len(lines) > 0, nil
	}
	return false, nil
}
