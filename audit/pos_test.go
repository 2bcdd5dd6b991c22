package audit_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/folioledger/folio/audit"
)

// TestPositionsGaplessUnderConcurrency appends from many goroutines at once,
// through the serializable runner and the READ COMMITTED journal-writer
// runner, and checks that positions are 1…n without a gap or a repeat and
// that After pages through them all exactly once.
func TestPositionsGaplessUnderConcurrency(t *testing.T) {
	t.Parallel()
	app := newApp(t)
	ctx := context.Background()
	const writers, each = 6, 6
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			run := app.Tx
			if w%2 == 1 {
				run = app.WriterTx
			}
			for i := range each {
				err := run(ctx, func(tx pgx.Tx) error {
					return audit.Write(ctx, tx, audit.Record{At: t0, Actor: "t", Action: "currency.put", Object: fmt.Sprintf("currency:W%dI%d", w, i)})
				})
				if err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("Write: %v", err)
	}
	seen := map[string]bool{}
	var after int64
	for {
		recs, err := audit.After(ctx, app.Pool, after, 7)
		if err != nil {
			t.Fatalf("After(%d): %v", after, err)
		}
		if len(recs) == 0 {
			break
		}
		for _, r := range recs {
			if r.Pos != after+1 {
				t.Fatalf("position %d follows %d, want %d", r.Pos, after, after+1)
			}
			if seen[r.Object] {
				t.Fatalf("%s read twice", r.Object)
			}
			seen[r.Object] = true
			after = r.Pos
		}
	}
	if len(seen) != writers*each {
		t.Fatalf("read %d records, want %d", len(seen), writers*each)
	}
}
