package affiliate_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/folioledger/folio/affiliate"
)

// BenchmarkPostTrades books batches of 500 trades by 50 traders under a
// 5-level broker tree, reporting trades/s.
//
//	go test -run '^$' -bench BenchmarkPostTrades -benchtime 20x ./affiliate/
func BenchmarkPostTrades(b *testing.B) {
	f := newFixture(b)
	ctx := context.Background()
	if _, err := f.svc.PutProgram(ctx, "broker", affiliate.ProgramSpec{Kind: "levels", Levels: []string{"0.25", "0.10", "0.05", "0.02", "0.01"}, Default: true}, "b"); err != nil {
		b.Fatal(err)
	}
	prev := ""
	for i := 0; i < 5; i++ {
		id := fmt.Sprintf("L%d", i)
		if _, _, err := f.svc.CreateUser(ctx, affiliate.NewUser{ID: id}); err != nil {
			b.Fatal(err)
		}
		if prev != "" {
			if err := f.svc.SetReferrer(ctx, id, prev, "b"); err != nil {
				b.Fatal(err)
			}
		}
		prev = id
	}
	for i := 0; i < 50; i++ {
		id := fmt.Sprintf("T%d", i)
		if _, _, err := f.svc.CreateUser(ctx, affiliate.NewUser{ID: id}); err != nil {
			b.Fatal(err)
		}
		if err := f.svc.SetReferrer(ctx, id, prev, "b"); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	n := 0
	for i := 0; i < b.N; i++ {
		batch := make([]affiliate.NewTrade, 500)
		for k := range batch {
			n++
			batch[k] = trade(fmt.Sprintf("bt-%d", n), fmt.Sprintf("T%d", n%50), "1.234567")
		}
		res, err := f.svc.PostTrades(ctx, batch)
		if err != nil {
			b.Fatal(err)
		}
		if res[0].Status != affiliate.TradeCreated {
			b.Fatalf("%+v", res[0])
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "trades/s")
}
