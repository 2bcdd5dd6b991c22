package parallel_test

import (
	"sync/atomic"
	"testing"

	"github.com/folioledger/folio/internal/parallel"
)

// Run covers every index exactly once, whatever n, and writes made by its
// ranges are all visible when it returns.
func TestRunCoversEveryIndexOnce(t *testing.T) {
	for _, n := range []int{0, 1, 127, 128, 255, 256, 257, 1000, 4097} {
		hits := make([]int32, n)
		var calls atomic.Int32
		parallel.Run(n, func(lo, hi int) {
			calls.Add(1)
			for i := lo; i < hi; i++ {
				atomic.AddInt32(&hits[i], 1)
			}
		})
		for i, h := range hits {
			if h != 1 {
				t.Fatalf("n=%d: index %d visited %d times", n, i, h)
			}
		}
		if calls.Load() < 1 {
			t.Errorf("n=%d: f never called", n)
		}
	}
}
