package ledger_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/folioledger/folio/ledger"
)

// BenchmarkVerify verifies a journal of 50,000 two-posting entries over 20
// accounts; one operation is one Verify. It reports entries verified per
// second. Run it with `go test -run '^$' -bench Verify ./ledger/`.
func BenchmarkVerify(b *testing.B) {
	const entries, size = 50_000, 500
	e := newEnv(b)
	ctx := context.Background()
	var accts []string
	for i := range 10 {
		accts = append(accts, fmt.Sprintf("201:USDT:u%d", i), fmt.Sprintf("208:USDT:u%d", i))
	}
	batch := make([]ledger.NewEntry, size)
	for n := 0; n < entries; {
		for i := range batch {
			n++
			d, c := accts[n%len(accts)], accts[(n*7+3)%len(accts)]
			if d == c {
				c = accts[(n+1)%len(accts)]
			}
			amt := fmt.Sprintf("%d.%06d", n%1000+1, n%999983)
			batch[i] = entry(fmt.Sprintf("bench-%d", n), d, "debit", amt, c, "credit", amt)
		}
		if _, err := e.ledger.Post(ctx, batch, ledger.Options{}); err != nil {
			b.Fatalf("Post: %v", err)
		}
	}
	for b.Loop() {
		rep, err := e.ledger.Verify(ctx)
		if err != nil || !rep.OK || rep.EntriesChecked != entries {
			b.Fatalf("Verify = %+v, %v", rep, err)
		}
	}
	b.ReportMetric(float64(entries)*float64(b.N)/b.Elapsed().Seconds(), "entries/s")
}
