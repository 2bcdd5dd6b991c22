package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/folioledger/folio/accounts"
	"github.com/folioledger/folio/affiliate"
	"github.com/folioledger/folio/ledger"
	"github.com/folioledger/folio/schema"
)

// TestOutageExactlyOnce kills the private PostgreSQL of `folio serve`
// (SIGKILL to its postmaster) in the middle of a trade stream whose client
// resends a batch, unchanged, on 503 or a broken connection (docs/CONTRACT.md §9):
//
//   - no request is answered 500, and some are answered 503 with
//     Retry-After while the database is down;
//   - /healthz stays 200 (the process serves), /readyz answers 503 while
//     the database is down and 200 once it is back;
//   - serve restarts the cluster and requests succeed again within 30 s;
//   - every trade is booked exactly once (a second resend finds them all),
//     the 101 clearing account is zero and `folio verify` passes.
func TestOutageExactlyOnce(t *testing.T) {
	clearEnv(t)
	ctx := context.Background()
	// As root the server runs as the postgres OS user: it must reach the
	// data dir.
	dataDir, err := os.MkdirTemp("", "folio-outage-test-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dataDir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() || testing.Verbose() {
			b, _ := os.ReadFile(filepath.Join(dataDir, "postgres.log"))
			t.Logf("postgres.log:\n%s", b)
		}
		os.RemoveAll(dataDir)
	})
	key := "outage-test-admin-key-0123456789"
	addr := freeAddr(t)
	s := startServe(t, "--data-dir", dataDir, "--listen", addr, "--admin-key", key)
	s.waitFor(t, "/readyz to answer 200", func() bool {
		code, _, _ := httpStatus("http://"+addr+"/readyz", "")
		return code == http.StatusOK
	})
	url, err := os.ReadFile(filepath.Join(dataDir, urlFile))
	if err != nil {
		t.Fatal(err)
	}
	app, err := schema.Open(ctx, strings.TrimSpace(string(url)), schema.OpenOptions{Role: schema.AppRole})
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	setupTradeUsers(t, app)

	const n, batch = 300, 10
	batches := make([]string, 0, n/batch)
	for b := 0; b < n/batch; b++ {
		var items []string
		for i := 0; i < batch; i++ {
			items = append(items, fmt.Sprintf(`{"id": "outage-%d", "user_id": "D", "market": "BTCUSDT", "liquidity": "taker", "fee": {"amount": "1.5", "currency": "USDT"}, "executed_at": "2026-01-02T00:00:00Z"}`, b*batch+i))
		}
		batches = append(batches, `{"trades": [`+strings.Join(items, ",")+`]}`)
	}

	// The probes: /healthz and /readyz every 20 ms until the stream ends.
	var healthBad, readyDown atomic.Int64
	probing, stopProbes := context.WithCancel(ctx)
	var probes sync.WaitGroup
	probes.Go(func() {
		for probing.Err() == nil {
			if code, _, _ := httpStatus("http://"+addr+"/healthz", ""); code != http.StatusOK {
				healthBad.Add(1)
			}
			if code, _, _ := httpStatus("http://"+addr+"/readyz", ""); code == http.StatusServiceUnavailable {
				readyDown.Add(1)
			}
			time.Sleep(20 * time.Millisecond)
		}
	})

	client := &http.Client{Timeout: 30 * time.Second}
	var (
		statuses  = map[string]int{} // "503", "200", "conn error", …
		firstFail time.Time
		recovered time.Duration
		killedAt  time.Time
	)
	for i, body := range batches {
		if i == len(batches)/4 {
			pid := postmasterPID(t, dataDir)
			killedAt = time.Now()
			if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			t.Logf("SIGKILL to postmaster %d after %d of %d batches", pid, i, len(batches))
		}
		for attempt := 0; ; attempt++ {
			code, retryAfter, results, err := postTrades(client, addr, key, body)
			switch {
			case err != nil:
				statuses["conn error"]++
			case code == http.StatusServiceUnavailable && retryAfter == "":
				t.Errorf("batch %d: 503 without Retry-After", i)
			default:
				statuses[strconv.Itoa(code)]++
			}
			if err == nil && code == http.StatusOK {
				for _, r := range results {
					if r.Status != "created" && r.Status != "exists" {
						t.Fatalf("batch %d: trade %s is %s: %s", i, r.ID, r.Status, r.Error)
					}
				}
				if !firstFail.IsZero() && recovered == 0 {
					recovered = time.Since(killedAt)
				}
				break
			}
			if err == nil && code != http.StatusServiceUnavailable {
				t.Fatalf("batch %d: status %d, want 200 or 503", i, code)
			}
			if firstFail.IsZero() {
				firstFail = time.Now()
			}
			if !killedAt.IsZero() && time.Since(killedAt) > 30*time.Second {
				t.Fatalf("batch %d still failing 30 s after the kill (%d, %v); statuses %v\nstderr: %s", i, code, err, statuses, s.stderr)
			}
			// Faster than Retry-After, to measure the recovery closely.
			time.Sleep(100 * time.Millisecond)
		}
	}
	stopProbes()
	probes.Wait()
	t.Logf("statuses %v; first success %v after the kill; /readyz answered 503 %d times", statuses, recovered.Round(time.Millisecond), readyDown.Load())
	for _, line := range strings.Split(s.stderr.String(), "\n") {
		if strings.Contains(line, `"msg":"postgres`) {
			t.Log(line)
		}
	}
	if statuses["500"] > 0 {
		t.Errorf("%d requests were answered 500", statuses["500"])
	}
	if statuses["503"] == 0 {
		t.Errorf("no request was answered 503 (statuses %v)", statuses)
	}
	if healthBad.Load() > 0 {
		t.Errorf("/healthz failed %d times during the outage", healthBad.Load())
	}
	if readyDown.Load() == 0 {
		t.Errorf("/readyz never answered 503 during the outage")
	}
	if code, _, _ := httpStatus("http://"+addr+"/readyz", ""); code != http.StatusOK {
		t.Errorf("/readyz = %d after the recovery, want 200", code)
	}
	if !strings.Contains(s.stderr.String(), "postgres restarted") {
		t.Errorf("serve did not log the restart:\n%s", s.stderr)
	}

	// Everything resent once more: all of it is already there.
	for i, body := range batches {
		code, _, results, err := postTrades(client, addr, key, body)
		if err != nil || code != http.StatusOK {
			t.Fatalf("resend of batch %d: %d %v", i, code, err)
		}
		for _, r := range results {
			if r.Status != "exists" {
				t.Fatalf("resend of batch %d: trade %s is %s, want exists", i, r.ID, r.Status)
			}
		}
	}
	var trades, fees, comms int
	if err := app.Pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM trades), (SELECT count(*) FROM entries WHERE kind = 'trade_fee'),
		(SELECT count(*) FROM entries WHERE kind = 'commission')`).Scan(&trades, &fees, &comms); err != nil {
		t.Fatal(err)
	}
	if trades != n || fees != n || comms != n {
		t.Fatalf("trades %d, trade_fee entries %d, commission entries %d; want %d each (exactly once)", trades, fees, comms, n)
	}
	if got := balanceOf(t, app, "101:USDT"); got != "0" {
		t.Errorf("101:USDT = %s, want 0", got)
	}
	if out, errOut, code := cli(t, ctx, "verify", "--data-dir", dataDir); code != 0 {
		t.Errorf("folio verify: exit %d\n%s%s", code, out, errOut)
	}
}

// tradeResult is one item of POST /v1/trades' answer.
type tradeResult struct {
	ID     string          `json:"id"`
	Status string          `json:"status"`
	Error  json.RawMessage `json:"error"`
}

// postTrades posts one batch and returns the status, Retry-After and, on
// 200, the per-trade results.
func postTrades(c *http.Client, addr, key, body string) (int, string, []tradeResult, error) {
	req, err := http.NewRequest(http.MethodPost, "http://"+addr+"/v1/trades", strings.NewReader(body))
	if err != nil {
		return 0, "", nil, err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, "", nil, err
	}
	var out struct {
		Results []tradeResult `json:"results"`
	}
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(b, &out); err != nil {
			return 0, "", nil, fmt.Errorf("decode %s: %w", b, err)
		}
	}
	return resp.StatusCode, resp.Header.Get("Retry-After"), out.Results, nil
}

// postmasterPID reads the pid of the cluster in dataDir from its
// postmaster.pid.
func postmasterPID(t *testing.T, dataDir string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dataDir, "pgdata", "postmaster.pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0]))
	if err != nil || pid <= 0 {
		t.Fatalf("postmaster.pid: %q", b)
	}
	return pid
}

// setupTradeUsers creates the demo currencies, a default three-level
// program and the referral chain A ← B ← C ← D.
func setupTradeUsers(t *testing.T, app *schema.DB) {
	t.Helper()
	ctx := context.Background()
	err := app.Tx(ctx, func(tx pgx.Tx) error {
		for _, c := range demoCurrencies() {
			if _, err := accounts.PutCurrency(ctx, tx, c, "test", time.Now()); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
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
}
