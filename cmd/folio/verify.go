package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/folioledger/folio/ledger"
)

// runVerify recomputes the hash chain and every stored balance and checks
// the columns postings and balances copy from their entries and accounts
// (docs/CONTRACT.md §1.3 rule 5, ledger.Verify), and prints the report as JSON. Exit status: 0 when the books
// verify, 1 when a problem is found, 2 when the check could not run.
func runVerify(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, _, err := parseArgs(command{name: "verify", groups: flagsDB | flagsLog, quiet: true}, args, stderr)
	if err != nil {
		return err
	}
	log := newLogger(stderr, cfg.LogLevel)
	db, err := openDatabase(ctx, cfg, log, openOptions{})
	if err != nil {
		return err
	}
	defer closeDatabase(db, log)

	rep, err := ledger.New(db.App).Verify(ctx)
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	out, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintf(stdout, "%s\n", out); err != nil {
		return err
	}
	if !rep.OK {
		return &exitError{code: exitProblems, err: fmt.Errorf("verify: %d problem(s) found, the first at %s", len(rep.Problems), describeProblem(rep.Problems[0]))}
	}
	return nil
}

func describeProblem(p ledger.Problem) string {
	switch {
	case p.Seq != 0:
		return fmt.Sprintf("seq %d (%s)", p.Seq, p.Kind)
	case p.Account != "":
		return fmt.Sprintf("account %s (%s)", p.Account, p.Kind)
	}
	return p.Kind
}
