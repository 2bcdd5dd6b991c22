package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"strconv"

	"github.com/folioledger/folio/ledger"
	"github.com/folioledger/folio/schema"
)

// DefaultJournalShards is the shard count a fresh database gets: one per
// core, at least two. Measured on the 2-core development machine
// (2026-12-04, README "Measured figures"), 2 shards against 4: 1,446
// against 915 trades/s with 64 clients × 1 trade, 3,298 against 2,805 with
// 8 clients × 500 over 50k trades, 2,252 against 2,484 with 8 × 500 over
// 300k trades and 100k users. Once both cores are busy, more writers add
// per-group and per-shard costs (smaller groups, more balance rows of the
// hot accounts, a folder round per shard); small groups suffer most.
func DefaultJournalShards() int { return min(max(runtime.NumCPU(), 2), ledger.MaxShards) }

// journalShards settles the journal's shard count when serve starts. A
// database whose journal has never been written takes want (or the
// default); one that has keeps its stored count, and an explicit different
// want is refused: changing it is `folio journal-shards N`, never a silent
// reshuffle.
func journalShards(ctx context.Context, db *schema.DB, want int, log *slog.Logger) (int, error) {
	heads, err := ledger.Heads(ctx, db.Pool)
	if err != nil {
		return 0, err
	}
	active, written := 0, false
	for _, h := range heads {
		if h.Active {
			active++
		}
		written = written || h.Seq > 0
	}
	n := want
	if n == 0 {
		n = DefaultJournalShards()
	}
	switch {
	case !written && active != n:
		if err := ledger.SetShards(ctx, db, n); err != nil {
			return 0, err
		}
		log.Info("journal shards set for a fresh journal", "shards", n)
		active = n
	case written && want > 0 && want != active:
		return 0, &exitError{code: exitFailure, err: fmt.Errorf("the journal has %d shards; --journal-shards %d differs: change the count with `folio journal-shards %d` (see README) or drop the flag", active, want, want)}
	}
	log.Info("journal", "shards", active, "mode", db.WriterMode(ctx))
	return active, nil
}

// runJournalShards is `folio journal-shards [N]`: prints the shard heads,
// or sets the number of active shards to N (stop every server first; they
// route by the count they read at start).
func runJournalShards(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, rest, err := parseArgs(command{name: "journal-shards", args: " [N]", groups: flagsDB | flagsLog, quiet: true}, args, stderr)
	if err != nil {
		return err
	}
	if len(rest) > 1 {
		return &exitError{code: exitFailure, err: fmt.Errorf("journal-shards: at most one argument, the new count")}
	}
	log := newLogger(stderr, cfg.LogLevel)
	db, err := openDatabase(ctx, cfg, log, openOptions{Create: false, Migrate: cfg.Migrate, Exclusive: true})
	if err != nil {
		return err
	}
	defer db.Close()
	if len(rest) == 1 {
		n, err := strconv.Atoi(rest[0])
		if err != nil {
			return &exitError{code: exitFailure, err: fmt.Errorf("journal-shards: %q is not a number", rest[0])}
		}
		if err := ledger.SetShards(ctx, db.App, n); err != nil {
			return err
		}
	}
	heads, err := ledger.Heads(ctx, db.App.Pool)
	if err != nil {
		return err
	}
	for _, h := range heads {
		state := "active"
		if !h.Active {
			state = "retired"
		}
		fmt.Fprintf(stdout, "shard %d\t%s\tseq %d\thash %x\n", h.Shard, state, h.Seq, h.Hash)
	}
	return nil
}
