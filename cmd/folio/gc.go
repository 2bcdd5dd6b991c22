package main

import (
	"log/slog"
	"os"
	"runtime/debug"

	"github.com/folioledger/folio/internal/sysmem"
)

// The Go runtime's garbage collector settings of folio serve when the
// operator did not choose them (GOGC, GOMEMLIMIT unset or empty).
//
// The write path allocates a lot and keeps little: a group of trades
// allocates its splits, postings and statement parameters and drops them
// at commit, while the live heap (the user cache, pools) stays near
// 150 MB. With Go's default GOGC=100 the collector marked that live heap
// every ~150 MB of allocation, and its mark workers were ~18% of the
// server's CPU under `folio bench` (8 × 500), CPU that PostgreSQL on
// the same cores wanted. GOGC=400 marks a fifth as often: server CPU per
// trade fell by 15–30% and trades/s rose 12–16% on a quiet machine, 8–12%
// with 64 clients × 1 on a noisy one (README, "Measured figures, dated",
// 2026-12-04 and 2026-12-05), for a peak heap of ~0.9 GB instead of
// ~0.3 GB.
//
// The memory limit bounds that trade: a soft limit of a quarter of the
// memory the process may use (its cgroup's limit, else the machine's), at
// most 4 GiB, makes the collector run earlier when the heap nears it, so
// a small machine keeps GOGC=100-like memory and a large one gets the
// speed.
const (
	defaultGCPercent = 400
	maxMemoryLimit   = 4 << 30
)

// tuneGC applies the defaults above where the environment is silent, and
// logs what the runtime uses.
func tuneGC(log *slog.Logger) {
	gogc, limitEnv := os.Getenv("GOGC"), os.Getenv("GOMEMLIMIT")
	if gogc == "" {
		debug.SetGCPercent(defaultGCPercent)
	}
	if limitEnv == "" {
		if total := sysmem.Available(); total > 0 {
			debug.SetMemoryLimit(min(total/4, maxMemoryLimit))
		}
	}
	percent := debug.SetGCPercent(-1)
	debug.SetGCPercent(percent)
	log.Info("garbage collector", "gc_percent", percent, "memory_limit_bytes", debug.SetMemoryLimit(-1),
		"from_environment", gogc != "" || limitEnv != "")
}
