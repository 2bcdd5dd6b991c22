package main

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/folioledger/folio/seal"
)

// TestExportAndAuditVerify: a month of generated activity (trades in two
// currencies, bounties, reversals, an executed payout batch) exported with
// `folio export` verifies with `folio audit-verify` — no database flags —
// and one changed byte makes it exit 1 naming the file and line.
func TestExportAndAuditVerify(t *testing.T) {
	clearEnv(t)
	ctx := context.Background()
	db, _, from, to := monthOfActivity(t)
	dir := filepath.Join(t.TempDir(), "bundle")
	out, errOut, code := cli(t, ctx, "export", "--database-url", db.URL, "--from", from.Format(time.RFC3339), "--to", to.Format(time.RFC3339), dir)
	if code != 0 || !strings.Contains(out, "wrote the audit bundle") {
		t.Fatalf("folio export: exit %d\n%s%s", code, out, errOut)
	}
	out, errOut, code = cli(t, ctx, "audit-verify", dir)
	if code != 0 || !strings.HasPrefix(out, "ok: ") || !strings.Contains(out, "USDT") || !strings.Contains(out, "TOKEN") {
		t.Fatalf("folio audit-verify of a fresh export: exit %d\n%s%s", code, out, errOut)
	}
	if _, _, code := cli(t, ctx, "export", "--database-url", db.URL, "--from", from.Format(time.RFC3339), "--to", to.Format(time.RFC3339), dir); code != exitFailure {
		t.Errorf("export into a non-empty directory: exit %d, want %d", code, exitFailure)
	}
	if _, _, code := cli(t, ctx, "export", "--database-url", db.URL, "--from", "2026-03-01", dir+"2"); code != exitFailure {
		t.Errorf("export without --to: exit %d, want %d", code, exitFailure)
	}

	path := filepath.Join(dir, "postings.csv")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	i := strings.Index(string(raw), "\n0,5,") + 6 // a field of shard 0's fifth entry's first posting
	raw[i] ^= 0x01
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	out, _, code = cli(t, ctx, "audit-verify", dir)
	if code != exitProblems || !regexp.MustCompile(`^problem: postings\.csv:[0-9]+: entry_id: `).MatchString(out) {
		t.Fatalf("audit-verify of a changed bundle: exit %d, want 1 naming postings.csv, the line and entry_id\n%s", code, out)
	}
	if _, _, code := cli(t, ctx, "audit-verify"); code != exitFailure {
		t.Errorf("audit-verify without a directory: exit %d, want %d", code, exitFailure)
	}
}

// TestExportCheckpointsCLI: with --checkpoint-key, `folio export` writes
// the checkpoints part of a sealed range; `folio audit-verify --key` with
// the operator's published verifier key passes and checks the
// checkpoints; with another key it exits 1 naming checkpoints/key.txt. An
// unsealed range is exported without checkpoints and with a warning.
func TestExportCheckpointsCLI(t *testing.T) {
	clearEnv(t)
	ctx := context.Background()
	db, app, from, to := monthOfActivity(t)
	keyFile := filepath.Join(t.TempDir(), "checkpoint.key")
	skey, err := seal.LoadKey(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"export", "--database-url", db.URL, "--checkpoint-key", keyFile, "--from", from.Format(time.RFC3339), "--to", to.Format(time.RFC3339)}

	unsealedDir := filepath.Join(t.TempDir(), "unsealed")
	out, errOut, code := cli(t, ctx, append(args, unsealedDir)...)
	if code != 0 || !strings.Contains(out, "0 checkpoint files") || !strings.Contains(errOut, "no seal holds every entry") {
		t.Fatalf("export of an unsealed range: exit %d\n%s%s", code, out, errOut)
	}

	seals, err := seal.New(app, skey)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := seals.Seal(ctx); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "bundle")
	out, errOut, code = cli(t, ctx, append(args, dir)...)
	if code != 0 || !strings.Contains(out, "4 checkpoint files") {
		t.Fatalf("folio export --checkpoint-key: exit %d\n%s%s", code, out, errOut)
	}
	out, errOut, code = cli(t, ctx, "audit-verify", "--key", keyFile+".pub", dir)
	if code != 0 || !strings.HasPrefix(out, "ok: ") || !strings.Contains(out, "1 journal checkpoints") || !strings.Contains(out, "every entry's inclusion") {
		t.Fatalf("folio audit-verify --key: exit %d\n%s%s", code, out, errOut)
	}
	other := filepath.Join(t.TempDir(), "other.key")
	if _, err := seal.LoadKey(other); err != nil {
		t.Fatal(err)
	}
	out, _, code = cli(t, ctx, "audit-verify", "--key", other+".pub", dir)
	if code != exitProblems || !strings.HasPrefix(out, "problem: checkpoints/key.txt:1: ") {
		t.Fatalf("audit-verify with another key: exit %d, want 1 naming checkpoints/key.txt\n%s", code, out)
	}
	if _, _, code := cli(t, ctx, "audit-verify", "--key", filepath.Join(t.TempDir(), "missing"), dir); code != exitFailure {
		t.Errorf("audit-verify with a missing key file: exit %d, want %d", code, exitFailure)
	}
}
