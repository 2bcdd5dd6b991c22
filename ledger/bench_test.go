package ledger_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/folioledger/folio/ledger"
)

// BenchmarkPostBatch posts batches of two-posting entries over 20 accounts
// (10 platform/holder pairs in USDT) from one writer; one operation is one
// batch (one transaction). It reports entries/s and postings/s. Run it with
// `go test -run '^$' -bench PostBatch ./ledger/` (`make bench`).
func BenchmarkPostBatch(b *testing.B) {
	for _, size := range []int{100, 10, 1} {
		b.Run(fmt.Sprintf("batch=%d", size), func(b *testing.B) {
			e := newEnv(b)
			ctx := context.Background()
			var accts []string
			for i := range 10 {
				accts = append(accts, fmt.Sprintf("201:USDT:u%d", i), fmt.Sprintf("208:USDT:u%d", i))
			}
			batch := make([]ledger.NewEntry, size)
			n := 0
			start := time.Now()
			for b.Loop() {
				for i := range batch {
					n++
					d, c := accts[n%len(accts)], accts[(n*7+3)%len(accts)]
					if d == c {
						c = accts[(n+1)%len(accts)]
					}
					amt := fmt.Sprintf("%d.%06d", n%1000+1, n%999983)
					batch[i] = entry(fmt.Sprintf("bench-%d", n), d, "debit", amt, c, "credit", amt)
				}
				res, err := e.ledger.Post(ctx, batch, ledger.Options{})
				if err != nil {
					b.Fatalf("Post: %v", err)
				}
				for _, r := range res {
					if r.Err != nil {
						b.Fatalf("Post item: %v", r.Err)
					}
				}
			}
			secs := time.Since(start).Seconds()
			b.ReportMetric(float64(n)/secs, "entries/s")
			b.ReportMetric(float64(2*n)/secs, "postings/s")
		})
	}
}
