package ledger_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/folioledger/folio/ledger"
	"github.com/folioledger/folio/schema"
)

// TestShardsWriteInParallel gives the journal four shards and posts from
// eight writers at once, in both writer modes: entries spread over the
// shards, each shard's seqs are gapless, balances sum their per-shard rows,
// an entry touching a balance-rule account (230) lands in shard 0, reads as
// of a recorded time and a seq match the postings, and the books verify.
func TestShardsWriteInParallel(t *testing.T) {
	for _, mode := range []string{schema.ModePostgres, schema.ModeCockroach} {
		t.Run(mode, func(t *testing.T) {
			ctx := context.Background()
			e := newEnv(t)
			e.app.Mode = mode
			if err := ledger.SetShards(ctx, e.app, 4); err != nil {
				t.Fatal(err)
			}
			e.ledger = ledger.New(e.app)
			e.ledger.Now = e.clock.Now
			e.post(t, entry("fund", "110:USD", "debit", "1000", "230:USD:h", "credit", "1000"))
			const writers, per = 8, 25
			var wg sync.WaitGroup
			errs := make(chan error, writers)
			for w := range writers {
				wg.Go(func() {
					for i := range per {
						ne := entry(fmt.Sprintf("w%d-%d", w, i), "110:USD", "debit", "1.25", fmt.Sprintf("201:USD:h%d", i%5), "credit", "1.25")
						res, err := e.ledger.Post(ctx, []ledger.NewEntry{ne}, ledger.Options{})
						if err == nil {
							err = res[0].Err
						}
						if err != nil {
							errs <- err
							return
						}
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			var shards int
			var gapless bool
			if err := e.db.Admin.QueryRow(ctx, `SELECT count(DISTINCT shard),
				bool_and(n = top) FROM (SELECT shard, count(*) AS n, max(seq) AS top FROM entries GROUP BY shard) s`).Scan(&shards, &gapless); err != nil {
				t.Fatal(err)
			}
			if shards < 3 || !gapless {
				t.Fatalf("entries in %d shards, gapless %v; want several shards, each gapless", shards, gapless)
			}
			if got, want := e.balance(t, "110:USD"), "1250"; got != want {
				t.Fatalf("110:USD = %s, want %s (the sum of its shards' rows)", got, want)
			}
			var rows int
			if err := e.db.Admin.QueryRow(ctx, `SELECT count(*) FROM balances WHERE account = '110:USD'`).Scan(&rows); err != nil || rows < 3 {
				t.Fatalf("110:USD has %d balance rows (%v); want one per shard that wrote to it", rows, err)
			}
			// A balance-rule account lives in shard 0.
			e.clock.Advance(time.Minute)
			moved := e.post(t, entry("spend", "230:USD:h", "debit", "10", "110:USD", "credit", "10"))
			if moved.Shard != 0 {
				t.Fatalf("an entry touching 230 went to shard %d, want 0", moved.Shard)
			}
			res, err := e.ledger.Post(ctx, []ledger.NewEntry{entry("overspend", "230:USD:h", "debit", "991", "110:USD", "credit", "991")}, ledger.Options{})
			if err != nil || res[0].Err == nil {
				t.Fatalf("overspending 230 = %v, %+v; want the non_negative rule to refuse it", err, res)
			}
			// As of a recorded time before the spend, 110 was 1250.
			b, err := e.ledger.GetBalance(ctx, "110:USD", ledger.AsOf{Recorded: moved.RecordedAt.Add(-time.Microsecond)})
			if err != nil || ledger.Format(&b.Balance) != "1250" {
				t.Fatalf("110:USD as of before the spend = %v, %v; want 1250", b, err)
			}
			tb, err := e.ledger.TrialBalance(ctx, ledger.AsOf{}, "USD")
			if err != nil || len(tb.Currencies) != 1 || !tb.Currencies[0].Balanced || len(tb.Cut) != 4 {
				t.Fatalf("trial balance = %+v, %v; want one balanced currency and a cut of 4 shards", tb, err)
			}
			e.verify(t)
		})
	}
}

// TestSetShardsRetires changes the shard count: retired shards keep their
// chains (verified) and a ledger still routing by the old count gets
// ErrShardsChanged instead of writing to a retired shard.
func TestSetShardsRetires(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	if err := ledger.SetShards(ctx, e.app, 4); err != nil {
		t.Fatal(err)
	}
	old := ledger.New(e.app)
	old.Now = e.clock.Now
	for i := range 40 {
		if res, err := old.Post(ctx, []ledger.NewEntry{entry(fmt.Sprintf("k%d", i), "110:USD", "debit", "1", "201:USD:a", "credit", "1")}, ledger.Options{}); err != nil || res[0].Err != nil {
			t.Fatal(err, res)
		}
	}
	if err := ledger.SetShards(ctx, e.app, 2); err != nil {
		t.Fatal(err)
	}
	heads, err := ledger.Heads(ctx, e.app.Pool)
	if err != nil || len(heads) != 4 || !heads[1].Active || heads[2].Active || heads[3].Active || heads[3].Seq == 0 {
		t.Fatalf("heads after SetShards(2) = %+v, %v; want 0-1 active, 2-3 retired with their entries", heads, err)
	}
	sawChanged := false
	for i := range 40 {
		_, err := old.Post(ctx, []ledger.NewEntry{entry(fmt.Sprintf("again%d", i), "110:USD", "debit", "1", "201:USD:a", "credit", "1")}, ledger.Options{})
		if errors.Is(err, ledger.ErrShardsChanged) {
			sawChanged = true
		} else if err != nil {
			t.Fatal(err)
		}
	}
	if !sawChanged {
		t.Fatal("a ledger routing by 4 shards never hit a retired one")
	}
	fresh := ledger.New(e.app)
	fresh.Now = e.clock.Now
	for i := range 20 {
		res, err := fresh.Post(ctx, []ledger.NewEntry{entry(fmt.Sprintf("new%d", i), "110:USD", "debit", "1", "201:USD:a", "credit", "1")}, ledger.Options{})
		if err != nil || res[0].Err != nil || res[0].Entry.Shard > 1 {
			t.Fatalf("post after resharding: %v %+v", err, res)
		}
	}
	for _, n := range []int{0, ledger.MaxShards + 1} {
		if err := ledger.SetShards(ctx, e.app, n); err == nil {
			t.Fatalf("SetShards(%d) accepted", n)
		}
	}
	e.verify(t)
}
