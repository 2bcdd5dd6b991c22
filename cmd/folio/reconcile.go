package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/folioledger/folio/ledger"
	"github.com/folioledger/folio/reconcile"
)

// runReconcile prints the reconciliation report of a period (docs/CONTRACT.md §4) as
// JSON or CSV. Exit status: 0 when clean, 1 on any discrepancy, 2 when the
// report could not run.
func runReconcile(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var from, to, format, basis string
	cfg, rest, err := parseArgs(command{name: "reconcile", groups: flagsDB | flagsLog, quiet: true, flags: func(fs *flag.FlagSet) {
		fs.StringVar(&from, "from", "", "start of the period (RFC 3339 or YYYY-MM-DD, inclusive); default: the beginning")
		fs.StringVar(&to, "to", "", "end of the period (RFC 3339 or YYYY-MM-DD, exclusive); default: now")
		fs.StringVar(&format, "format", "json", "output format: json or csv")
		fs.StringVar(&basis, "basis", string(ledger.DefaultBasis), "bound the period by the entries' effective (business) time or by their recorded time: effective or recorded")
	}}, args, stderr)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return &exitError{code: exitFailure, err: fmt.Errorf("reconcile: unexpected arguments %q", rest)}
	}
	start, err := parseDay(from, time.Unix(0, 0).UTC())
	if err != nil {
		return &exitError{code: exitFailure, err: fmt.Errorf("reconcile: --from: %w", err)}
	}
	end, err := parseDay(to, time.Now().UTC().Add(time.Second))
	if err != nil {
		return &exitError{code: exitFailure, err: fmt.Errorf("reconcile: --to: %w", err)}
	}
	b, err := ledger.ParseBasis(basis)
	if err != nil {
		return &exitError{code: exitFailure, err: fmt.Errorf("reconcile: --basis must be effective or recorded")}
	}
	if format != "json" && format != "csv" {
		return &exitError{code: exitFailure, err: fmt.Errorf("reconcile: --format must be json or csv")}
	}
	log := newLogger(stderr, cfg.LogLevel)
	db, err := openDatabase(ctx, cfg, log, openOptions{})
	if err != nil {
		return err
	}
	defer closeDatabase(db, log)

	rep, err := reconcile.RunBasis(ctx, db.App, start, end, b)
	if err != nil {
		return fmt.Errorf("reconcile: %w", err)
	}
	if format == "csv" {
		err = rep.WriteCSV(stdout)
	} else {
		var out []byte
		if out, err = json.MarshalIndent(rep, "", "  "); err == nil {
			_, err = fmt.Fprintf(stdout, "%s\n", out)
		}
	}
	if err != nil {
		return err
	}
	if len(rep.Discrepancies) > 0 {
		return &exitError{code: exitProblems, err: fmt.Errorf("reconcile: %d discrepancy(ies), the first: %s", len(rep.Discrepancies), rep.Discrepancies[0].Kind)}
	}
	return nil
}

// parseDay parses an RFC 3339 time or a YYYY-MM-DD date (UTC midnight).
func parseDay(s string, def time.Time) (time.Time, error) {
	if s == "" {
		return def, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither RFC 3339 nor YYYY-MM-DD", s)
	}
	return t, nil
}
