package events_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/folioledger/folio/affiliate"
	"github.com/folioledger/folio/affiliate/affiliatetest"
	"github.com/folioledger/folio/events"
	"github.com/folioledger/folio/ledger"
)

var t0 = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

// newFeedEnv is the broker tree A → B → C → D on a journal of shards
// shards, with traders T0…T{traders-1} referred by C.
func newFeedEnv(t *testing.T, shards, traders int) (*affiliatetest.Env, *events.Feed) {
	t.Helper()
	e := affiliatetest.New(t, func() time.Time { return time.Now().UTC() })
	if err := ledger.SetShards(context.Background(), e.App, shards); err != nil {
		t.Fatalf("SetShards: %v", err)
	}
	e.BrokerTree(t)
	for i := range traders {
		e.User(t, fmt.Sprintf("T%d", i), "CCCCCC")
	}
	return e, &events.Feed{DB: e.App}
}

// reader pages through the feed, recording what it saw and failing on a
// repeated event or a shard's entries out of seq order.
type reader struct {
	t       *testing.T
	feed    *events.Feed
	filter  events.Filter
	cursor  events.Cursor
	seen    map[string]int
	lastSeq map[int]int64
	events  []events.Event
}

func newReader(t *testing.T, feed *events.Feed, f events.Filter) *reader {
	return &reader{t: t, feed: feed, filter: f, seen: map[string]int{}, lastSeq: map[int]int64{}}
}

// page reads one page of limit and reports whether it was empty.
func (r *reader) page(limit int) bool {
	r.t.Helper()
	p, err := r.feed.Read(context.Background(), r.cursor, r.filter, limit)
	if err != nil {
		r.t.Fatalf("Read: %v", err)
	}
	if len(p.Events) > limit {
		r.t.Fatalf("Read(limit %d) = %d events", limit, len(p.Events))
	}
	for _, ev := range p.Events {
		r.seen[ev.ID]++
		if r.seen[ev.ID] > 1 {
			r.t.Fatalf("event %s read twice", ev.ID)
		}
		if ev.Entry != nil {
			if ev.Entry.Seq <= r.lastSeq[ev.Entry.Shard] {
				r.t.Fatalf("shard %d: seq %d after %d", ev.Entry.Shard, ev.Entry.Seq, r.lastSeq[ev.Entry.Shard])
			}
			r.lastSeq[ev.Entry.Shard] = ev.Entry.Seq
		}
		r.events = append(r.events, ev)
	}
	if len(p.Events) > 0 && r.filter.Holder == "" && r.filter.Types == nil {
		// The last event's cursor is the page's next cursor.
		if last := p.Events[len(p.Events)-1].Cursor; last != p.Next.String() && !p.More {
			r.t.Fatalf("last event's cursor %q, page's next %q", last, p.Next)
		}
	}
	r.cursor = p.Next
	return len(p.Events) == 0 && !p.More
}

// TestFeedResumesWithoutMissOrRepeat pages through the feed with a small
// limit while four writers book trades on four shards and an admin creates
// referral codes; then reads to the end and checks that every entry,
// accrual and configuration change was read exactly once.
func TestFeedResumesWithoutMissOrRepeat(t *testing.T) {
	t.Parallel()
	const shards, writers, rounds, traders = 4, 4, 15, 16
	e, feed := newFeedEnv(t, shards, traders)
	ctx := context.Background()

	r := newReader(t, feed, events.Filter{})
	done := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, writers+1)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range rounds {
				batch := []affiliate.NewTrade{
					affiliatetest.Trade(fmt.Sprintf("w%d-%d-a", w, i), fmt.Sprintf("T%d", (w*4+i)%traders), "10"),
					affiliatetest.Trade(fmt.Sprintf("w%d-%d-b", w, i), fmt.Sprintf("T%d", (w*4+i+1)%traders), "20"),
				}
				if _, err := e.Svc.PostTrades(ctx, batch); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range 10 {
			if _, err := e.Svc.CreateCode(ctx, "A", affiliate.NewCode{Code: "CFGXX" + string("ABCDEFGHJK"[i])}, "test"); err != nil {
				errs <- err
				return
			}
		}
	}()
	go func() { wg.Wait(); close(done) }()
	reads := 0
	for running := true; running; {
		select {
		case <-done:
			running = false
		default:
			r.page(7)
			reads++
		}
	}
	close(errs)
	for err := range errs {
		t.Fatalf("writer: %v", err)
	}
	for !r.page(7) {
	}

	// Ground truth, read from the owners.
	want := map[string]bool{}
	heads, err := ledger.Heads(ctx, e.App.Pool)
	if err != nil {
		t.Fatal(err)
	}
	busy := 0
	for _, h := range heads {
		es, err := ledger.ShardEntries(ctx, e.App.Pool, h.Shard, 0, h.Seq)
		if err != nil {
			t.Fatal(err)
		}
		if len(es) > 0 {
			busy++
		}
		for _, en := range es {
			want["entry:"+en.ID] = true
		}
	}
	if busy < 2 {
		t.Fatalf("only %d shards got entries; the test needs several", busy)
	}
	for _, b := range []string{"A", "B", "C"} {
		as, err := e.Svc.ListAccruals(ctx, affiliate.AccrualFilter{Beneficiary: b, Limit: 10000})
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range as {
			want["accrual:"+a.ID] = true
		}
	}
	configs := 0
	for id := range r.seen {
		if !want[id] && id[:6] != "audit:" {
			t.Errorf("read %s, which the owners do not have", id)
		}
		if id[:6] == "audit:" {
			configs++
		}
	}
	for id := range want {
		if r.seen[id] != 1 {
			t.Errorf("%s read %d times, want once", id, r.seen[id])
		}
	}
	if configs < 10+7 { // the codes, the program and the tree's codes
		t.Errorf("read %d configuration events, want at least 17", configs)
	}
	if n := len(want); n < writers*rounds*2*2 {
		t.Fatalf("ground truth has %d events, want at least %d", n, writers*rounds*4)
	}
	t.Logf("%d events in %d reads during the writes", len(r.events), reads)

	// A fresh reader from the beginning in one page sees the same set.
	all, err := feed.Read(ctx, events.Cursor{}, events.Filter{}, events.MaxLimit)
	if err != nil || len(all.Events) != len(r.events) {
		t.Fatalf("one-page read = %d events, %v; want %d", len(all.Events), err, len(r.events))
	}
	// Resuming from any event's cursor yields exactly the events after it
	// in the merged order of one read.
	mid := all.Events[len(all.Events)/2]
	c, err := events.ParseCursor(mid.Cursor)
	if err != nil {
		t.Fatal(err)
	}
	rest, err := feed.Read(ctx, c, events.Filter{}, events.MaxLimit)
	if err != nil {
		t.Fatal(err)
	}
	if len(rest.Events) != len(all.Events)-len(all.Events)/2-1 {
		t.Fatalf("read after the middle event = %d events, want %d", len(rest.Events), len(all.Events)-len(all.Events)/2-1)
	}
	for i, ev := range rest.Events {
		if ev.ID != all.Events[len(all.Events)/2+1+i].ID {
			t.Fatalf("event %d after the middle = %s, want %s", i, ev.ID, all.Events[len(all.Events)/2+1+i].ID)
		}
	}
}

// TestFeedScopedToAffiliate: an affiliate's read holds its own accruals
// only (and no entry, no configuration change), and a types filter keeps
// only the types asked for.
func TestFeedScopedToAffiliate(t *testing.T) {
	t.Parallel()
	e, feed := newFeedEnv(t, 2, 4)
	ctx := context.Background()
	for i := range 4 {
		if _, err := e.Svc.PostTrades(ctx, []affiliate.NewTrade{affiliatetest.Trade(fmt.Sprintf("t%d", i), fmt.Sprintf("T%d", i), "100")}); err != nil {
			t.Fatal(err)
		}
	}
	r := newReader(t, feed, events.Filter{Holder: "B"})
	for !r.page(3) {
	}
	if len(r.events) != 4 {
		t.Fatalf("B's scoped read = %d events, want its 4 accruals", len(r.events))
	}
	for _, ev := range r.events {
		if ev.Type != events.TypeAccrualCreated || ev.Accrual.Beneficiary != "B" {
			t.Errorf("B's scoped read has %s %s", ev.Type, ev.ID)
		}
	}
	types, err := events.ParseTypes("config")
	if err != nil {
		t.Fatal(err)
	}
	r = newReader(t, feed, events.Filter{Types: types})
	for !r.page(100) {
	}
	if len(r.events) == 0 {
		t.Fatal("config read is empty")
	}
	for _, ev := range r.events {
		if ev.Audit == nil || ev.Type[:7] != "config." {
			t.Errorf("config read has %s %s", ev.Type, ev.ID)
		}
	}
}
