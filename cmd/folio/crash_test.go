package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/folioledger/folio/affiliate"
	"github.com/folioledger/folio/ledger"
	"github.com/folioledger/folio/schema"
	"github.com/folioledger/folio/schema/schematest"
	"github.com/folioledger/folio/seal"
)

// buildFolio compiles the folio binary for tests that run it as a process.
func buildFolio(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "folio")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// checkpointKeyFor is the checkpoint key file of the servers of one
// database (every server of a database signs with the same key), removed
// after the test.
func checkpointKeyFor(t *testing.T, url string) string {
	sum := sha256.Sum256([]byte(url))
	path := filepath.Join(os.TempDir(), "folio-test-"+hex.EncodeToString(sum[:8])+".key")
	t.Cleanup(func() { os.Remove(path); os.Remove(path + ".pub") })
	return path
}

// startServeProcess runs `folio serve` on url and waits until it is ready.
// It seals every 50ms.
func startServeProcess(t *testing.T, bin, url, addr, key string, extra ...string) *exec.Cmd {
	t.Helper()
	args := []string{"serve", "--database-url", url, "--listen", addr, "--admin-key", key, "--log-level", "warn",
		"--checkpoint-key", checkpointKeyFor(t, url), "--seal-interval", "50ms"}
	cmd := exec.Command(bin, append(args, extra...)...)
	cmd.Env = append(os.Environ(), "FOLIO_DATA_DIR=")
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 300; i++ {
		if resp, err := http.Get("http://" + addr + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return cmd
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	_ = cmd.Process.Kill()
	t.Fatal("folio serve did not become ready")
	return nil
}

// TestCrashExactlyOnce streams trades of eight traders to a server with
// four journal shards, kills it with SIGKILL in the middle, restarts it on
// the same database and resends every trade: each trade is booked exactly
// once, every shard's chain verifies and 101 is zero (docs/CONTRACT.md §9)
// — in both writer modes (the CockroachDB path runs on PostgreSQL too).
func TestCrashExactlyOnce(t *testing.T) {
	clearEnv(t)
	bin := buildFolio(t)
	for _, mode := range []string{schema.ModePostgres, schema.ModeCockroach} {
		t.Run(mode, func(t *testing.T) { crashExactlyOnce(t, bin, mode) })
	}
}

// crashTraders are the traders of the crash and concurrency tests: D0…D7,
// referred by C (A ← B ← C ← Dn), spread over the shards.
const crashTraders = 8

// setupCrashBooks creates the program and the referral tree of the crash
// and concurrency tests.
func setupCrashBooks(t *testing.T, app *schema.DB) {
	t.Helper()
	ctx := context.Background()
	svc := affiliate.NewService(app, ledger.New(app))
	if _, err := svc.PutProgram(ctx, "broker", affiliate.ProgramSpec{Kind: "levels", Levels: []string{"0.25", "0.10", "0.05"}, Default: true}, "test"); err != nil {
		t.Fatal(err)
	}
	users := []string{"A", "B", "C"}
	for i := range crashTraders {
		users = append(users, fmt.Sprintf("D%d", i))
	}
	for i, u := range users {
		if _, _, err := svc.CreateUser(ctx, affiliate.NewUser{ID: u}); err != nil {
			t.Fatal(err)
		}
		if i > 0 {
			if err := svc.SetReferrer(ctx, u, users[min(i, 3)-1], "test"); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// crashBatches returns n trades of the eight traders as POST /v1/trades
// bodies of batch trades each, ids prefix-0, prefix-1, ….
func crashBatches(prefix string, n, batch int) []string {
	batches := make([]string, 0, n/batch)
	for b := 0; b < n/batch; b++ {
		body := `{"trades": [`
		for i := 0; i < batch; i++ {
			if i > 0 {
				body += ","
			}
			k := b*batch + i
			body += fmt.Sprintf(`{"id": "%s-%d", "user_id": "D%d", "market": "BTCUSDT", "liquidity": "taker", "fee": {"amount": "1.5", "currency": "USDT"}, "executed_at": "2026-01-02T00:00:00Z"}`, prefix, k, k%crashTraders)
		}
		batches = append(batches, body+"]}")
	}
	return batches
}

// postTradeBody posts one body to addr's /v1/trades and returns the
// status; a 200 whose results hold an error is an error.
func postTradeBody(addr, key, body string) (int, error) {
	code, _, results, err := postTrades(http.DefaultClient, addr, key, body)
	if err != nil || code != http.StatusOK {
		return code, err
	}
	for _, r := range results {
		if r.Status != "created" && r.Status != "exists" {
			return code, fmt.Errorf("trade %s: %s %s", r.ID, r.Status, r.Error)
		}
	}
	return code, nil
}

// checkBooked fails unless exactly n trades, fee entries and commission
// entries are booked, the books verify, 101 is zero and the entries span
// more than one journal shard.
// checkBooked checks the books after n trades written by servers that
// sealed (checkSealed); checkBookedBooks checks the books alone.
func checkBooked(t *testing.T, db *schematest.DB, app *schema.DB, n int) {
	t.Helper()
	checkBookedBooks(t, db, app, n)
	checkSealed(t, db, app)
}

// checkBookedBooks: n trades each booked once, the books verify, 101 = 0.
func checkBookedBooks(t *testing.T, db *schematest.DB, app *schema.DB, n int) {
	t.Helper()
	ctx := context.Background()
	var trades, fees, comms, shards int
	if err := db.Admin.QueryRow(ctx, `SELECT (SELECT count(*) FROM trades), (SELECT count(*) FROM entries WHERE kind = 'trade_fee'),
		(SELECT count(*) FROM entries WHERE kind = 'commission'), (SELECT count(DISTINCT shard) FROM entries)`).Scan(&trades, &fees, &comms, &shards); err != nil {
		t.Fatal(err)
	}
	if trades != n || fees != n || comms != n {
		t.Fatalf("trades %d, trade_fee entries %d, commission entries %d; want %d each (exactly once)", trades, fees, comms, n)
	}
	if shards < 2 {
		t.Fatalf("the entries are in %d journal shard(s); the test needs several", shards)
	}
	rep, err := ledger.New(app).Verify(ctx)
	if err != nil || !rep.OK {
		t.Fatalf("Verify = %+v, %v", rep, err)
	}
}

// checkSealed checks that the servers of db sealed while they wrote: one
// chain, every checkpoint signed by the database's key.
func checkSealed(t *testing.T, db *schematest.DB, app *schema.DB) {
	t.Helper()
	ctx := context.Background()
	skey, err := os.ReadFile(checkpointKeyFor(t, db.URL))
	if err != nil {
		t.Fatal(err)
	}
	_, verifier, _, err := seal.ParseKey(strings.TrimSpace(string(skey)))
	if err != nil {
		t.Fatal(err)
	}
	if n, err := seal.Verify(ctx, app, verifier, 10); err != nil || len(n) != 0 {
		t.Fatalf("seal.Verify = %+v, %v", n, err)
	}
	var seals int
	if err := db.Admin.QueryRow(ctx, `SELECT count(*) FROM seals`).Scan(&seals); err != nil || seals == 0 {
		t.Fatalf("%d seals (%v); the servers seal every 50ms while they write", seals, err)
	}
	if got := balanceOf(t, app, "101:USDT"); got != "0" {
		t.Fatalf("101:USDT = %s, want 0", got)
	}
}

func crashExactlyOnce(t *testing.T, bin, mode string) {
	db, app := appDB(t)
	setupCrashBooks(t, app)
	const n, batch = 400, 10
	batches := crashBatches("crash", n, batch)
	key := "crash-test-admin-key-0123456789"
	addr := freeAddr(t)
	post := func(body string) (int, error) { return postTradeBody(addr, key, body) }

	srv := startServeProcess(t, bin, db.URL, addr, key, "--db-mode", mode, "--journal-shards", "4")
	var acked atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		for _, b := range batches {
			if code, err := post(b); err != nil || code != http.StatusOK {
				return // the server died under us
			}
			acked.Add(1)
		}
	}()
	for acked.Load() < int64(len(batches)/4) {
		time.Sleep(5 * time.Millisecond)
	}
	if err := srv.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = srv.Wait()
	<-done
	if acked.Load() >= int64(len(batches)) {
		t.Fatalf("the stream finished before the kill; nothing was tested")
	}
	t.Logf("killed after %d of %d batches were acknowledged", acked.Load(), len(batches))

	srv = startServeProcess(t, bin, db.URL, addr, key, "--db-mode", mode)
	defer func() { _ = srv.Process.Signal(syscall.SIGTERM); _ = srv.Wait() }()
	for _, b := range batches {
		if code, err := post(b); err != nil || code != http.StatusOK {
			t.Fatalf("resend: %d %v", code, err)
		}
	}
	checkBooked(t, db, app, n)
}

// TestTwoServers runs two `folio serve` processes on one database, four
// shards, both writing at once — each its own trades and the same
// trades as the other: every trade is booked exactly once, no update is
// lost (101 is zero, every balance row matches its postings) and the
// books verify, in both writer modes.
func TestTwoServers(t *testing.T) {
	clearEnv(t)
	bin := buildFolio(t)
	for _, mode := range []string{schema.ModePostgres, schema.ModeCockroach} {
		t.Run(mode, func(t *testing.T) {
			db, app := appDB(t)
			setupCrashBooks(t, app)
			key := "two-servers-admin-key-0123456789"
			addrs := []string{freeAddr(t), freeAddr(t)}
			for i, addr := range addrs {
				srv := startServeProcess(t, bin, db.URL, addr, key, "--db-mode", mode, "--journal-shards", "4")
				defer func() { _ = srv.Process.Signal(syscall.SIGTERM); _ = srv.Wait() }()
				_ = i
			}
			shared := crashBatches("both", 200, 10)
			var wg sync.WaitGroup
			errs := make(chan error, 4)
			for i, addr := range addrs {
				own := crashBatches(fmt.Sprintf("own%d", i), 200, 10)
				for _, list := range [][]string{own, shared} {
					wg.Go(func() {
						for _, b := range list {
							if code, err := postTradeBody(addr, key, b); err != nil || code != http.StatusOK {
								errs <- fmt.Errorf("%s: %d %v", addr, code, err)
								return
							}
						}
					})
				}
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			checkBooked(t, db, app, 600)
		})
	}
}

func balanceOf(t *testing.T, app *schema.DB, account string) string {
	t.Helper()
	b, err := ledger.New(app).GetBalance(context.Background(), account, ledger.AsOf{})
	if err != nil {
		t.Fatal(err)
	}
	return ledger.Format(&b.Balance)
}
