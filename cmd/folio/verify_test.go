package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/folioledger/folio/accounts"
	"github.com/folioledger/folio/ledger"
	"github.com/folioledger/folio/schema"
	"github.com/folioledger/folio/schema/schematest"
	"github.com/folioledger/folio/seal"
)

// appDB returns an app-role pool on a fresh migrated database with the
// demo currencies.
func appDB(t *testing.T) (*schematest.DB, *schema.DB) {
	t.Helper()
	ctx := context.Background()
	db := schematest.New(t, schema.Migrate)
	app, err := schema.Open(ctx, db.URL, schema.OpenOptions{Role: schema.AppRole})
	if err != nil {
		t.Fatalf("open app pool: %v", err)
	}
	t.Cleanup(app.Close)
	err = app.Tx(ctx, func(tx pgx.Tx) error {
		for _, c := range demoCurrencies() {
			if _, err := accounts.PutCurrency(ctx, tx, c, "test", time.Now(), ledger.InUse); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("put currencies: %v", err)
	}
	return db, app
}

func TestVerifyCLI(t *testing.T) {
	clearEnv(t)
	ctx := context.Background()
	db, app := appDB(t)
	l := ledger.New(app)
	for i := 1; i <= 5; i++ {
		e := ledger.NewEntry{IdempotencyKey: fmt.Sprintf("verify-%d", i), Kind: "manual", Postings: []ledger.NewPosting{
			{Account: "110:USDT", Side: accounts.Debit, Amount: fmt.Sprintf("%d.5", i)},
			{Account: "201:USDT:alice", Side: accounts.Credit, Amount: fmt.Sprintf("%d.5", i)},
		}}
		res, err := l.Post(ctx, []ledger.NewEntry{e}, ledger.Options{})
		if err != nil || res[0].Err != nil {
			t.Fatalf("Post(%s) = %v, %v", e.IdempotencyKey, err, res[0].Err)
		}
	}

	stdout, stderr, code := cli(t, ctx, "verify", "--database-url", db.URL)
	if code != 0 {
		t.Fatalf("verify on clean books: exit %d, want 0\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	rep := decodeReport(t, stdout)
	if !rep.OK || rep.EntriesChecked != 5 || len(rep.Problems) != 0 {
		t.Fatalf("verify report = %+v, want ok with 5 entries checked and no problems", rep)
	}

	if _, err := db.Admin.Exec(ctx, `UPDATE postings SET amount = amount + 1 WHERE seq = 3`); err != nil {
		t.Fatalf("tamper: %v", err)
	}
	stdout, stderr, code = cli(t, ctx, "verify", "--database-url", db.URL)
	if code != 1 {
		t.Fatalf("verify on tampered books: exit %d, want 1\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	rep = decodeReport(t, stdout)
	if rep.OK || len(rep.Problems) == 0 {
		t.Fatalf("verify report = %+v, want problems", rep)
	}
	if p := rep.Problems[0]; p.Kind != ledger.ProblemHash || p.Seq != 3 {
		t.Fatalf("first problem = %+v, want %s at seq 3", p, ledger.ProblemHash)
	}
}

func TestVerifyCLIOperationalError(t *testing.T) {
	clearEnv(t)
	// Nothing listens on port 1: the check cannot run, which is not a
	// finding about the books.
	_, _, code := cli(t, context.Background(), "verify", "--database-url", "postgres://postgres@127.0.0.1:1/folio?sslmode=disable&connect_timeout=5")
	if code != 2 {
		t.Fatalf("verify against an unreachable database: exit %d, want 2", code)
	}
}

// TestMigrateCLI: a database with a pending migration step is refused by
// the other commands, with a pointer to folio migrate, until migrate runs.
func TestMigrateCLI(t *testing.T) {
	clearEnv(t)
	ctx := context.Background()
	db := schematest.New(t, schema.Migrate)
	if _, err := db.Admin.Exec(ctx, `DELETE FROM schema_migrations WHERE version = (SELECT max(version) FROM schema_migrations)`); err != nil {
		t.Fatal(err)
	}
	err := run(ctx, []string{"verify", "--database-url", db.URL}, io.Discard, io.Discard)
	if code := exitCode(err); code != 2 || !strings.Contains(fmt.Sprint(err), "folio migrate") {
		t.Fatalf("verify on a database with pending migrations: exit %d, error %v; want 2 and a pointer to `folio migrate`", code, err)
	}
	for i := 0; i < 2; i++ { // migrating twice is harmless
		if stdout, stderr, code := cli(t, ctx, "migrate", "--database-url", db.URL); code != 0 || !strings.Contains(stdout, "up to date") {
			t.Fatalf("migrate: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
		}
	}
	if stdout, stderr, code := cli(t, ctx, "verify", "--database-url", db.URL); code != 0 {
		t.Fatalf("verify after migrate: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
}

func decodeReport(t *testing.T, stdout string) ledger.Report {
	t.Helper()
	var rep ledger.Report
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("verify printed no JSON report: %v\n%s", err, stdout)
	}
	return rep
}

// TestVerifyCLIChecksSeals: folio verify checks the seal chain, the Merkle
// log and the checkpoints' signatures with --checkpoint-key: clean with the
// key that signed them, checkpoint_invalid with another key, an error for a
// key file that is not there, and merkle_mismatch after a forged Merkle
// hash is stored.
func TestVerifyCLIChecksSeals(t *testing.T) {
	clearEnv(t)
	ctx := context.Background()
	db, app := appDB(t)
	l := ledger.New(app)
	for i := 1; i <= 3; i++ {
		e := ledger.NewEntry{IdempotencyKey: fmt.Sprintf("seal-%d", i), Kind: "manual", Postings: []ledger.NewPosting{
			{Account: "110:USDT", Side: accounts.Debit, Amount: "1"},
			{Account: "201:USDT:alice", Side: accounts.Credit, Amount: "1"},
		}}
		if res, err := l.Post(ctx, []ledger.NewEntry{e}, ledger.Options{}); err != nil || res[0].Err != nil {
			t.Fatalf("Post = %v, %v", err, res)
		}
	}
	dir := t.TempDir()
	keyFile, otherFile := filepath.Join(dir, "checkpoint.key"), filepath.Join(dir, "other.key")
	skey, err := seal.LoadKey(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := seal.LoadKey(otherFile); err != nil {
		t.Fatal(err)
	}
	svc, err := seal.New(app, skey)
	if err != nil {
		t.Fatal(err)
	}
	if _, created, err := svc.Seal(ctx); err != nil || !created {
		t.Fatalf("Seal = %v, %v", created, err)
	}
	check := func(keyPath string, wantCode int, wantKind string) {
		t.Helper()
		stdout, stderr, code := cli(t, ctx, "verify", "--database-url", db.URL, "--checkpoint-key", keyPath)
		if code != wantCode {
			t.Fatalf("verify --checkpoint-key %s: exit %d, want %d\nstdout: %s\nstderr: %s", keyPath, code, wantCode, stdout, stderr)
		}
		if wantKind != "" {
			rep := decodeReport(t, stdout)
			if len(rep.Problems) == 0 || rep.Problems[0].Kind != wantKind {
				t.Fatalf("verify --checkpoint-key %s = %+v, want a %s", keyPath, rep, wantKind)
			}
		}
	}
	check(keyFile, 0, "")
	check(otherFile, 1, seal.ProblemCheckpoint)
	check(filepath.Join(dir, "missing.key"), 2, "")
	if _, err := db.Admin.Exec(ctx, `INSERT INTO merkle_hash_runs (first_idx, hashes) VALUES (0, sha256('forged'))`); err != nil {
		t.Fatal(err)
	}
	check(keyFile, 1, seal.ProblemMerkle)
}
