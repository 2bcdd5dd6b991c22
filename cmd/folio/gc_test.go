package main

import (
	"io"
	"log/slog"
	"math"
	"runtime/debug"
	"testing"

	"github.com/folioledger/folio/internal/sysmem"
)

// TestTuneGC: serve's collector defaults apply only where GOGC and
// GOMEMLIMIT are unset, and the memory limit is bounded.
func TestTuneGC(t *testing.T) {
	percent, limit := debug.SetGCPercent(-1), debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetGCPercent(percent); debug.SetMemoryLimit(limit) })
	log := slog.New(slog.NewTextHandler(io.Discard, nil))

	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	debug.SetGCPercent(100)
	debug.SetMemoryLimit(math.MaxInt64)
	tuneGC(log)
	if got := debug.SetGCPercent(-1); got != defaultGCPercent {
		t.Errorf("GOGC unset: gc percent %d, want %d", got, defaultGCPercent)
	}
	if got := debug.SetMemoryLimit(-1); got <= 0 || got > maxMemoryLimit || got > sysmem.Available()/4 {
		t.Errorf("GOMEMLIMIT unset: limit %d, want (0, min(%d, %d)]", got, sysmem.Available()/4, int64(maxMemoryLimit))
	}

	t.Setenv("GOGC", "77")
	t.Setenv("GOMEMLIMIT", "1GiB")
	debug.SetGCPercent(77)
	debug.SetMemoryLimit(1 << 30)
	tuneGC(log)
	if got := debug.SetGCPercent(-1); got != 77 {
		t.Errorf("GOGC=77: gc percent %d, want it left alone", got)
	}
	if got := debug.SetMemoryLimit(-1); got != 1<<30 {
		t.Errorf("GOMEMLIMIT=1GiB: limit %d, want it left alone", got)
	}
}
