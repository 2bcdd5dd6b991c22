// Package parallel spreads a loop over the machine's cores.
package parallel

import (
	"runtime"
	"sync"
)

// Run runs f over [0, n) split into contiguous ranges, one goroutine per
// core, and returns when all are done; small n runs inline. f must only
// touch the indexes of its range.
func Run(n int, f func(lo, hi int)) {
	workers := min(runtime.GOMAXPROCS(0), n/minPerWorker)
	if workers <= 1 {
		f(0, n)
		return
	}
	var wg sync.WaitGroup
	for k := range workers {
		lo, hi := k*n/workers, (k+1)*n/workers
		wg.Go(func() { f(lo, hi) })
	}
	wg.Wait()
}

// minPerWorker is the least work per goroutine that Run spreads.
const minPerWorker = 128
