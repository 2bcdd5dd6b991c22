package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/folioledger/folio/bundle"
)

// runExport writes the audit bundle of the entries recorded in [--from,
// --to) into DIR (package bundle, docs/AUDIT-BUNDLE.md). Exit status: 0
// when written, 2 otherwise.
func runExport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var from, to string
	cfg, rest, err := parseArgs(command{name: "export", args: " DIR", groups: flagsDB | flagsLog, quiet: true, flags: func(fs *flag.FlagSet) {
		fs.StringVar(&from, "from", "", "start of the range by recorded time (YYYY-MM-DD or RFC 3339, inclusive); required")
		fs.StringVar(&to, "to", "", "end of the range by recorded time (YYYY-MM-DD or RFC 3339, exclusive; not after now); required")
	}}, args, stderr)
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		return &exitError{code: exitFailure, err: errors.New("export: give one directory: folio export --from YYYY-MM-DD --to YYYY-MM-DD DIR")}
	}
	if from == "" || to == "" {
		return &exitError{code: exitFailure, err: errors.New("export: --from and --to are required")}
	}
	start, err := parseDay(from, time.Time{})
	if err != nil {
		return &exitError{code: exitFailure, err: fmt.Errorf("export: --from: %w", err)}
	}
	end, err := parseDay(to, time.Time{})
	if err != nil {
		return &exitError{code: exitFailure, err: fmt.Errorf("export: --to: %w", err)}
	}
	log := newLogger(stderr, cfg.LogLevel)
	db, err := openDatabase(ctx, cfg, log, openOptions{})
	if err != nil {
		return err
	}
	defer closeDatabase(db, log)

	m, err := bundle.Export(ctx, db.App, start, end, time.Now().UTC(), rest[0])
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	_, err = fmt.Fprintf(stdout, "wrote the audit bundle of [%s, %s) to %s: %d files\n", m.From, m.To, rest[0], len(m.Files)+1)
	return err
}

// runAuditVerify checks an audit bundle with no database and no server
// (bundle.Verify), printing "ok: …" or "problem: FILE:LINE: FIELD: …".
// Exit status: 0 when it verifies, 1 on a problem, 2 when the command is
// misused.
func runAuditVerify(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	_, rest, err := parseArgs(command{name: "audit-verify", args: " DIR", quiet: true}, args, stderr)
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		return &exitError{code: exitFailure, err: errors.New("audit-verify: give one directory: folio audit-verify DIR")}
	}
	sum, err := bundle.Verify(rest[0])
	if err != nil {
		var p *bundle.Problem
		if errors.As(err, &p) {
			fmt.Fprintf(stdout, "problem: %s\n", p.Error())
			return &exitError{code: exitProblems, err: fmt.Errorf("audit-verify: %s", p.Error()), reported: true}
		}
		return &exitError{code: exitFailure, err: fmt.Errorf("audit-verify: %w", err)}
	}
	_, err = fmt.Fprintf(stdout, "ok: [%s, %s), %d shards, %d entries, %d postings, %d balance rows, currencies %s; chains, balances, trial balances, reconciliation and digests verified\n",
		sum.From, sum.To, sum.Shards, sum.Entries, sum.Postings, sum.Accounts, strings.Join(sum.Currencies, " "))
	return err
}
