package seal_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/folioledger/folio/accounts"
	"github.com/folioledger/folio/ledger"
)

// BenchmarkSeal measures sealing a backlog of 10,000 entries over four
// shards (one seal: the Merkle log's appends and the seal's rows), and
// verifying the result. Run: go test -run - -bench Seal -benchtime 3x ./seal/
func BenchmarkSeal(b *testing.B) {
	const perRound, batch = 10000, 500
	e := newEnv(b, 4)
	ctx := context.Background()
	n := 0
	for b.Loop() {
		b.StopTimer()
		for i := 0; i < perRound; i += batch {
			var items []ledger.NewEntry
			for range batch {
				n++
				items = append(items, ledger.NewEntry{IdempotencyKey: fmt.Sprintf("b%d", n), Kind: "manual", Postings: []ledger.NewPosting{
					{Account: "101:USD", Side: accounts.Debit, Amount: "1.00"},
					{Account: "605:USD", Side: accounts.Credit, Amount: "1.00"},
				}})
			}
			if _, err := e.ledger.Post(ctx, items, ledger.Options{}); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
		if _, created, err := e.seals.Seal(ctx); err != nil || !created {
			b.Fatalf("Seal: %v, %v", created, err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(n), "µs/entry")
}
