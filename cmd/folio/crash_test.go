package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/folioledger/folio/affiliate"
	"github.com/folioledger/folio/ledger"
	"github.com/folioledger/folio/schema"
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

// startServeProcess runs `folio serve` on url and waits until it is ready.
func startServeProcess(t *testing.T, bin, url, addr, key string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(bin, "serve", "--database-url", url, "--listen", addr, "--admin-key", key, "--log-level", "warn")
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

// TestCrashExactlyOnce streams trades to a server, kills it with SIGKILL in
// the middle, restarts it on the same database and resends every trade:
// each trade is booked exactly once and the books verify (docs/CONTRACT.md §9).
func TestCrashExactlyOnce(t *testing.T) {
	clearEnv(t)
	ctx := context.Background()
	bin := buildFolio(t)
	db, app := appDB(t)
	svc := affiliate.NewService(app, ledger.New(app))
	if _, err := svc.PutProgram(ctx, "broker", affiliate.ProgramSpec{Kind: "levels", Levels: []string{"0.25", "0.10", "0.05"}, Default: true}, "test"); err != nil {
		t.Fatal(err)
	}
	for i, u := range []string{"A", "B", "C", "D"} {
		if _, _, err := svc.CreateUser(ctx, affiliate.NewUser{ID: u}); err != nil {
			t.Fatal(err)
		}
		if i > 0 {
			if err := svc.SetReferrer(ctx, u, []string{"A", "B", "C"}[i-1], "test"); err != nil {
				t.Fatal(err)
			}
		}
	}
	const n, batch = 400, 10
	batches := make([]string, 0, n/batch)
	for b := 0; b < n/batch; b++ {
		body := `{"trades": [`
		for i := 0; i < batch; i++ {
			if i > 0 {
				body += ","
			}
			body += fmt.Sprintf(`{"id": "crash-%d", "user_id": "D", "market": "BTCUSDT", "liquidity": "taker", "fee": {"amount": "1.5", "currency": "USDT"}, "executed_at": "2026-01-02T00:00:00Z"}`, b*batch+i)
		}
		batches = append(batches, body+"]}")
	}
	key := "crash-test-admin-key-0123456789"
	addr := freeAddr(t)
	post := func(body string) (int, error) {
		req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/v1/trades", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}

	srv := startServeProcess(t, bin, db.URL, addr, key)
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

	srv = startServeProcess(t, bin, db.URL, addr, key)
	defer func() { _ = srv.Process.Signal(syscall.SIGTERM); _ = srv.Wait() }()
	for _, b := range batches {
		if code, err := post(b); err != nil || code != http.StatusOK {
			t.Fatalf("resend: %d %v", code, err)
		}
	}
	var trades, fees, comms int
	if err := db.Admin.QueryRow(ctx, `SELECT (SELECT count(*) FROM trades), (SELECT count(*) FROM entries WHERE kind = 'trade_fee'),
		(SELECT count(*) FROM entries WHERE kind = 'commission')`).Scan(&trades, &fees, &comms); err != nil {
		t.Fatal(err)
	}
	if trades != n || fees != n || comms != n {
		t.Fatalf("trades %d, trade_fee entries %d, commission entries %d; want %d each (exactly once)", trades, fees, comms, n)
	}
	rep, err := ledger.New(app).Verify(ctx)
	if err != nil || !rep.OK {
		t.Fatalf("Verify = %+v, %v", rep, err)
	}
	if got := balanceOf(t, app, "101:USDT"); got != "0" {
		t.Fatalf("101:USDT = %s, want 0", got)
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
