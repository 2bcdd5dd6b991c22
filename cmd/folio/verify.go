package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"golang.org/x/mod/sumdb/note"

	"github.com/folioledger/folio/ledger"
	"github.com/folioledger/folio/seal"
)

// runVerify recomputes the hash chain and every stored balance and checks
// the columns postings and balances copy from their entries and accounts
// (docs/CONTRACT.md §1.3 rule 5, ledger.Verify), and prints the report as JSON. Exit status: 0 when the books
// verify, 1 when a problem is found, 2 when the check could not run.
func runVerify(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, _, err := parseArgs(command{name: "verify", groups: flagsDB | flagsCheckpoint | flagsLog, quiet: true}, args, stderr)
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
	// The seal chain, the Merkle log and the checkpoints: signatures are
	// checked with the checkpoint key when its file is here, the
	// checkpoints' bodies in any case.
	var verifier note.Verifier
	if b, err := os.ReadFile(cfg.checkpointKeyPath()); err == nil {
		if _, verifier, _, err = seal.ParseKey(string(bytes.TrimSpace(b))); err != nil {
			return err
		}
	} else if cfg.CheckpointKey != "" {
		return fmt.Errorf("verify: %w", err)
	} else {
		log.Warn("checkpoint signatures not checked (their bodies are): no checkpoint key; give --checkpoint-key", "looked_at", cfg.checkpointKeyPath())
	}
	probs, err := seal.Verify(ctx, db.App, verifier, 100)
	if err != nil {
		return fmt.Errorf("verify seals: %w", err)
	}
	rep.Problems = append(rep.Problems, probs...)
	rep.OK = len(rep.Problems) == 0
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
