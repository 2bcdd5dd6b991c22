package main

import (
	"slices"
	"sync"
	"time"
)

// latencyWindows are the stream's answers cut by when they came, in
// windows of latencyWindow. p99 says how long the tail is; the windows say
// when it happens. A periodic dip — the statistics folder's rounds at
// 64 clients × 1 trade, one a second — shows as windows with fewer trades
// and a higher p99 than their neighbours, and a stall as windows without
// answers.
type latencyWindows struct {
	start  time.Time
	mu     sync.Mutex
	lat    []*latencies
	trades []int64
}

const (
	latencyWindow = 250 * time.Millisecond
	// maxLatencyWindows bounds the report: a longer stream has its
	// windows merged, k adjacent ones at a time.
	maxLatencyWindows = 240
)

// latencyWindowReport is one window of the JSON report's latency_windows.
type latencyWindowReport struct {
	At       float64 `json:"at_s"` // the window's start, seconds into the stream
	Seconds  float64 `json:"seconds"`
	Requests int64   `json:"requests"`
	Trades   int64   `json:"trades"`
	P50ms    float64 `json:"p50_ms"`
	P99ms    float64 `json:"p99_ms"`
}

func newLatencyWindows(start time.Time) *latencyWindows {
	return &latencyWindows{start: start}
}

// add records a request of trades trades answered at done after d.
func (s *latencyWindows) add(done time.Time, d time.Duration, trades int64) {
	i := max(0, int(done.Sub(s.start)/latencyWindow))
	s.mu.Lock()
	for len(s.lat) <= i {
		s.lat = append(s.lat, &latencies{counts: map[int]int64{}})
		s.trades = append(s.trades, 0)
	}
	l := s.lat[i]
	s.trades[i] += trades
	s.mu.Unlock()
	l.add(d)
}

// report returns the windows, k adjacent ones merged into each so that
// there are at most limit.
func (s *latencyWindows) report(limit int) []latencyWindowReport {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := max(1, (len(s.lat)+limit-1)/limit)
	out := []latencyWindowReport{}
	for lo := 0; lo < len(s.lat); lo += k {
		hi := min(lo+k, len(s.lat))
		merged := &latencies{counts: map[int]int64{}}
		var trades int64
		for i := lo; i < hi; i++ {
			for b, n := range s.lat[i].counts {
				merged.counts[b] += n
			}
			merged.n += s.lat[i].n
			trades += s.trades[i]
		}
		out = append(out, latencyWindowReport{At: (time.Duration(lo) * latencyWindow).Seconds(), Seconds: (time.Duration(hi-lo) * latencyWindow).Seconds(),
			Requests: merged.n, Trades: trades, P50ms: merged.quantile(0.50), P99ms: merged.quantile(0.99)})
	}
	return out
}

// windowP99s is the smallest, median and largest p99 of the windows that
// had answers (zeros when none had).
func windowP99s(ws []latencyWindowReport) (lo, median, hi float64) {
	var p []float64
	for _, w := range ws {
		if w.Requests > 0 {
			p = append(p, w.P99ms)
		}
	}
	if len(p) == 0 {
		return 0, 0, 0
	}
	slices.Sort(p)
	return p[0], p[len(p)/2], p[len(p)-1]
}
