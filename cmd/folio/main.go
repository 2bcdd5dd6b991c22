// Command folio is Folio's single binary: the HTTP server and the operator
// subcommands (docs/CONTRACT.md §6). main only wires signals to run; run dispatches to
// one function per subcommand, each parsing its own flags.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop() // a second signal ends the process at once
	}()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	var ee *exitError
	if err != nil && !(errors.As(err, &ee) && ee.reported) {
		fmt.Fprintln(os.Stderr, "folio:", err)
	}
	os.Exit(exitCode(err))
}

// Exit statuses.
const (
	exitOK       = 0
	exitProblems = 1 // verify found a problem, or reconcile a discrepancy
	exitFailure  = 2 // anything else: bad usage, unreachable database, ...
)

// exitError carries a process exit status with an error. reported means
// the error was already printed (flag errors print themselves).
type exitError struct {
	code     int
	err      error
	reported bool
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// exitCode maps run's error to the process exit status.
func exitCode(err error) int {
	var ee *exitError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ee):
		return ee.code
	}
	return exitFailure
}

// run executes the subcommand named by args[0] with the rest of args.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		usage(stderr)
		return &exitError{code: exitFailure, err: errors.New("no command given"), reported: true}
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return runServe(ctx, rest, stdout, stderr)
	case "migrate":
		return runMigrate(ctx, rest, stdout, stderr)
	case "verify":
		return runVerify(ctx, rest, stdout, stderr)
	case "keys":
		return runKeys(ctx, rest, stdout, stderr)
	case "reconcile":
		return runReconcile(ctx, rest, stdout, stderr)
	case "demo":
		return runDemo(ctx, rest, stdout, stderr)
	case "bench":
		return runBench(ctx, rest, stdout, stderr)
	case "ingest":
		return runIngest(ctx, rest, stdout, stderr)
	case "journal-shards":
		return runJournalShards(ctx, rest, stdout, stderr)
	case "export":
		return runExport(ctx, rest, stdout, stderr)
	case "audit-verify":
		return runAuditVerify(ctx, rest, stdout, stderr)
	case "help", "-h", "-help", "--help":
		usage(stdout)
		return nil
	}
	usage(stderr)
	return &exitError{code: exitFailure, err: fmt.Errorf("unknown command %q", cmd)}
}

func usage(w io.Writer) {
	fmt.Fprint(w, `Folio: a double-entry ledger with an affiliate-commission module.

Usage: folio <command> [flags]

Commands:
  serve         serve the HTTP API; without --database-url on a private PostgreSQL
                kept in --data-dir (default ./.folio); --demo seeds demo data once
  migrate       apply pending database migrations
  verify        recompute the hash chain and every balance; print a JSON report
  keys create   --role admin|poster|auditor|affiliate [--holder H] [--note N]:
                create an API key; its secret is printed once
  keys list     list API keys (never their secrets)
  keys revoke   ID: revoke an API key
  reconcile     [--from T] [--to T] [--format json|csv]: reconciliation report of a
                period (docs/CONTRACT.md §4); exit status 1 on any discrepancy
  demo          seed the demo data (currencies, entries, the affiliate demo) without
                serving; idempotent
  journal-shards [N]: list the journal's shards; with N, make N of them active
                (stop every server first, restart after)
  export        --from T --to T DIR: write the audit bundle of the entries recorded in
                [from, to) into DIR (docs/AUDIT-BUNDLE.md)
  audit-verify  DIR: check an audit bundle with no database and no server; exit status
                1 naming the first problem (file, line, field)
  bench         [--trades N --users U --depth D --clients C --batch B --duration T
                --journal-shards S --db-mode M --json --url URL]: throughput benchmark
                through the HTTP API (docs/CONTRACT.md §8)
  ingest        [--metrics-listen ADDR] URL...: consume trades from Kafka or RabbitMQ
                beside the servers, on the same database (the consumers of serve
                --ingest; README, "Wiring an exchange's trade feed")
  help          this text

'folio <command> -h' lists a command's flags.
`)
	printEnv(w, nil)
	fmt.Fprint(w, `
Exit status: 0 success; 1 verify or audit-verify found a problem or reconcile a discrepancy;
2 any other error.
`)
}

// parseArgs parses a subcommand's flags with the process environment,
// turning -h and flag errors (already printed) into exitErrors.
func parseArgs(cmd command, args []string, stderr io.Writer) (Config, []string, error) {
	cfg, rest, err := parseConfig(cmd, args, os.Getenv, stderr)
	var ue *usageError
	switch {
	case errors.Is(err, flag.ErrHelp):
		return Config{}, nil, &exitError{code: exitOK, err: err, reported: true}
	case errors.As(err, &ue):
		return Config{}, nil, &exitError{code: exitFailure, err: err, reported: true}
	case err != nil:
		return Config{}, nil, &exitError{code: exitFailure, err: fmt.Errorf("%s: %w", cmd.name, err)}
	}
	return cfg, rest, nil
}

// newLogger returns the JSON logger on stderr at level (validated by
// Config.Validate).
func newLogger(stderr io.Writer, level string) *slog.Logger {
	l, _ := parseLevel(level)
	return slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: l}))
}

// closeDatabase closes db, logging a failure to stop the private cluster.
func closeDatabase(db *database, log *slog.Logger) {
	if err := db.Close(); err != nil {
		log.Error("close database", "err", err)
	}
}
