package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/folioledger/folio/bundle"
	"github.com/folioledger/folio/seal"
)

// runExport writes the audit bundle of the entries recorded in [--from,
// --to) into DIR (package bundle, docs/AUDIT-BUNDLE.md). Exit status: 0
// when written, 2 otherwise.
func runExport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var from, to string
	cfg, rest, err := parseArgs(command{name: "export", args: " DIR", groups: flagsDB | flagsCheckpoint | flagsLog, quiet: true, flags: func(fs *flag.FlagSet) {
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
	// The checkpoints part needs the checkpoints' verifier key: the
	// --checkpoint-key file (a signer key, or the verifier key of its .pub).
	var vkey string
	if b, err := os.ReadFile(cfg.checkpointKeyPath()); err == nil {
		if vkey, err = exportVerifierKey(string(bytes.TrimSpace(b))); err != nil {
			return &exitError{code: exitFailure, err: fmt.Errorf("export: --checkpoint-key: %w", err)}
		}
	} else if cfg.CheckpointKey != "" {
		return &exitError{code: exitFailure, err: fmt.Errorf("export: %w", err)}
	} else {
		log.Warn("the bundle carries no checkpoints: no checkpoint key; give --checkpoint-key", "looked_at", cfg.checkpointKeyPath())
	}
	db, err := openDatabase(ctx, cfg, log, openOptions{})
	if err != nil {
		return err
	}
	defer closeDatabase(db, log)

	unsealed := false
	m, err := bundle.ExportWith(ctx, db.App, start, end, time.Now().UTC(), rest[0], bundle.Options{VerifierKey: vkey, Unsealed: &unsealed})
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	if unsealed {
		log.Warn("the bundle carries no checkpoints: no seal holds every entry of the range yet; seal (POST /v1/audit/seals, or wait for serve's sealer) and export again")
	}
	_, err = fmt.Fprintf(stdout, "wrote the audit bundle of [%s, %s) to %s: %d files, %d checkpoint files\n", m.From, m.To, rest[0], len(m.Files)+1, len(m.Checkpoints))
	return err
}

// exportVerifierKey is the verifier key of a checkpoint key file's text: a
// note signer key (PRIVATE+KEY+…) or a verifier key.
func exportVerifierKey(text string) (string, error) {
	if strings.HasPrefix(text, "PRIVATE+KEY+") {
		_, _, vkey, err := seal.ParseKey(text)
		return vkey, err
	}
	if _, err := note.NewVerifier(text); err != nil {
		return "", err
	}
	return text, nil
}

// runAuditVerify checks an audit bundle with no database and no server
// (bundle.Verify), printing "ok: …" or "problem: FILE:LINE: FIELD: …".
// Exit status: 0 when it verifies, 1 on a problem, 2 when the command is
// misused.
func runAuditVerify(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var keyFile string
	_, rest, err := parseArgs(command{name: "audit-verify", args: " DIR", quiet: true, flags: func(fs *flag.FlagSet) {
		fs.StringVar(&keyFile, "key", "", "file of the checkpoints' verifier key, obtained from the operator; the bundle's key must be it")
	}}, args, stderr)
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		return &exitError{code: exitFailure, err: errors.New("audit-verify: give one directory: folio audit-verify DIR")}
	}
	var key string
	if keyFile != "" {
		b, err := os.ReadFile(keyFile)
		if err != nil {
			return &exitError{code: exitFailure, err: fmt.Errorf("audit-verify: --key: %w", err)}
		}
		if key, err = exportVerifierKey(string(bytes.TrimSpace(b))); err != nil {
			return &exitError{code: exitFailure, err: fmt.Errorf("audit-verify: --key: %w", err)}
		}
	}
	sum, err := bundle.VerifyWithKey(rest[0], key)
	if err != nil {
		var p *bundle.Problem
		if errors.As(err, &p) {
			fmt.Fprintf(stdout, "problem: %s\n", p.Error())
			return &exitError{code: exitProblems, err: fmt.Errorf("audit-verify: %s", p.Error()), reported: true}
		}
		return &exitError{code: exitFailure, err: fmt.Errorf("audit-verify: %w", err)}
	}
	cps := "no checkpoints"
	if sum.JournalCheckpoints > 0 {
		cps = fmt.Sprintf("%d journal checkpoints (signatures, consistency) and every entry's inclusion in the tree of %d, %d period checkpoints, signed by %s",
			sum.JournalCheckpoints, sum.TreeSize, sum.PeriodCheckpoints, sum.CheckpointKey)
	}
	_, err = fmt.Fprintf(stdout, "ok: [%s, %s), %d shards, %d entries, %d postings, %d balance rows, currencies %s; chains, balances, trial balances, reconciliation and digests verified; %s\n",
		sum.From, sum.To, sum.Shards, sum.Entries, sum.Postings, sum.Accounts, strings.Join(sum.Currencies, " "), cps)
	return err
}
