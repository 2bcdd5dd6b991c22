package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/apd/v3"
	"github.com/jackc/pgx/v5"
)

// server is one `folio serve` run in a goroutine.
type server struct {
	stdout, stderr *syncBuffer
	cancel         context.CancelFunc
	done           chan error
}

func startServe(t *testing.T, args ...string) *server {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &server{stdout: &syncBuffer{}, stderr: &syncBuffer{}, cancel: cancel, done: make(chan error, 1)}
	go func() { s.done <- run(ctx, append([]string{"serve"}, args...), s.stdout, s.stderr) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-s.done:
		case <-time.After(2 * time.Minute):
			t.Errorf("serve did not stop")
		}
	})
	return s
}

// stop cancels the server's context (as SIGINT does) and returns serve's
// result.
func (s *server) stop(t *testing.T) error {
	t.Helper()
	s.cancel()
	select {
	case err := <-s.done:
		s.done <- err // for the cleanup
		return err
	case <-time.After(2 * time.Minute):
		t.Fatalf("serve did not return within 2 minutes of the cancel\nstderr: %s", s.stderr)
		return nil
	}
}

// waitFor polls until cond holds, failing the test if serve returns first
// or a minute and a half passes.
func (s *server) waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for !cond() {
		select {
		case err := <-s.done:
			s.done <- err
			t.Fatalf("serve returned %v while waiting for %s\nstdout: %s\nstderr: %s", err, what, s.stdout, s.stderr)
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s\nstdout: %s\nstderr: %s", what, s.stdout, s.stderr)
		}
	}
}

// session is what serve --demo printed: the admin key and the first curl's
// URL.
type session struct{ key, balanceURL, baseURL string }

var (
	keyLine   = regexp.MustCompile(`(?m)^\s*KEY='?([^'\s]+)'?\s*$`)
	curlLine  = regexp.MustCompile(`(?m)^\s*curl -s -H "Authorization: Bearer \$KEY" (http://\S+/v1/accounts/\S+/balance)\s*$`)
	servingOn = regexp.MustCompile(`Folio is serving (http://\S+)`)
)

func parseSession(t *testing.T, stdout string) session {
	t.Helper()
	k, c, u := keyLine.FindStringSubmatch(stdout), curlLine.FindStringSubmatch(stdout), servingOn.FindStringSubmatch(stdout)
	if k == nil || c == nil || u == nil {
		t.Fatalf("serve --demo printed no KEY= line, balance curl or URL:\n%s", stdout)
	}
	return session{key: k[1], balanceURL: c[1], baseURL: u[1]}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func httpStatus(url, key string) (int, []byte, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return 0, nil, err
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	var body json.RawMessage
	err = json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body, err
}

// entryCount counts the journal's entries through the superuser URL the
// running server published in its data dir.
func entryCount(t *testing.T, dataDir string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dataDir, urlFile))
	if err != nil {
		t.Fatalf("read the published database URL: %v", err)
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM entries`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestServeEmbedded(t *testing.T) {
	clearEnv(t)
	// The PostgreSQL server runs as the postgres OS user when the tests run
	// as root: it must be able to reach the data dir.
	dataDir, err := os.MkdirTemp("", "folio-serve-test-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dataDir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dataDir) })

	var first session
	var entries int
	for round := 1; round <= 2; round++ {
		addr := freeAddr(t)
		s := startServe(t, "--data-dir", dataDir, "--listen", addr, "--demo", "--seal-interval", "100ms")
		s.waitFor(t, "/readyz to answer 200", func() bool {
			code, _, _ := httpStatus("http://"+addr+"/readyz", "")
			return code == http.StatusOK
		})
		s.waitFor(t, "the curl session on stdout", func() bool { return strings.Contains(s.stdout.String(), "/v1/entries\n") })
		got := parseSession(t, s.stdout.String())
		if got.baseURL != "http://"+addr {
			t.Fatalf("round %d: serve printed URL %s, want http://%s", round, got.baseURL, addr)
		}

		code, body, err := httpStatus(got.balanceURL, got.key)
		if err != nil || code != http.StatusOK {
			t.Fatalf("round %d: GET %s with the printed key = %d %s (%v), want 200", round, got.balanceURL, code, body, err)
		}
		var bal struct{ Account, Balance, Pending, Available string }
		if err := json.Unmarshal(body, &bal); err != nil {
			t.Fatalf("round %d: balance body %s: %v", round, body, err)
		}
		if !decimalEqual(bal.Balance, "750") || !decimalEqual(bal.Available, "650") {
			t.Fatalf("round %d: balance of %s = %+v, want balance 750 and available 650 (100 pending withdrawal)", round, bal.Account, bal)
		}

		// The sealing worker seals the demo's entries and signs with the
		// key generated in the data dir on first start, kept for the next.
		s.waitFor(t, "a signed checkpoint", func() bool {
			code, _, _ := httpStatus("http://"+addr+"/v1/audit/checkpoint", got.key)
			return code == http.StatusOK
		})
		if fi, err := os.Stat(filepath.Join(dataDir, "checkpoint.key")); err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("round %d: checkpoint key in the data dir: %v; want it, mode 0600", round, err)
		}
		pub, err := os.ReadFile(filepath.Join(dataDir, "checkpoint.key.pub"))
		if err != nil {
			t.Fatal(err)
		}
		code, body, err = httpStatus("http://"+addr+"/v1/audit/checkpoint-key", got.key)
		if err != nil || code != http.StatusOK || !strings.Contains(string(body), `"verifier_key":"`+strings.TrimSpace(string(pub))+`"`) {
			t.Fatalf("round %d: GET /v1/audit/checkpoint-key = %d %s, want the key of checkpoint.key.pub %s", round, code, body, pub)
		}

		n := entryCount(t, dataDir)
		if round == 1 {
			first, entries = got, n
			if want := len(demoEntries()) + 2*len(demoTrades()); entries != want {
				t.Fatalf("round 1: %d entries after seeding, want %d (manual entries, then a fee and a commission entry per trade)", entries, want)
			}
			keyFile := filepath.Join(dataDir, adminKeyFile)
			fi, err := os.Stat(keyFile)
			if err != nil || fi.Mode().Perm() != 0o600 {
				t.Fatalf("stored admin key %s: %v, mode %v; want mode 0600", keyFile, err, fi.Mode().Perm())
			}

			// The console is served at / beside the API, and its URL printed.
			if !strings.Contains(s.stdout.String(), "console    http://"+addr+"/") {
				t.Fatalf("stdout does not print the console's URL:\n%s", s.stdout)
			}
			res, err := http.Get("http://" + addr + "/") // redirected to /signin
			if err != nil {
				t.Fatal(err)
			}
			page, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != http.StatusOK || !strings.Contains(string(page), `type="password"`) {
				t.Fatalf("GET / = %d, want the console's sign-in page:\n%s", res.StatusCode, page)
			}

			// Other commands attach to the running cluster and leave it running.
			out, errOut, code := cli(t, context.Background(), "keys", "list", "--data-dir", dataDir)
			if code != 0 || !strings.Contains(out, "admin") || strings.Contains(out, got.key) {
				t.Fatalf("keys list while serving: exit %d\n%s\n%s", code, out, errOut)
			}
			if _, errOut, code := cli(t, context.Background(), "verify", "--data-dir", dataDir); code != 0 {
				t.Fatalf("verify while serving: exit %d\n%s", code, errOut)
			}
			if code, _, _ := httpStatus("http://"+addr+"/readyz", ""); code != http.StatusOK {
				t.Fatalf("/readyz after other commands used the data dir = %d, want 200", code)
			}
			err = run(context.Background(), []string{"serve", "--data-dir", dataDir, "--listen", freeAddr(t)}, io.Discard, io.Discard)
			if exitCode(err) != 2 || !strings.Contains(fmt.Sprint(err), "another folio process") {
				t.Fatalf("a second serve on the same data dir: exit %d, error %v; want 2 and a clear refusal", exitCode(err), err)
			}
		} else {
			if n != entries {
				t.Fatalf("round 2: %d entries, want %d: restarting with --demo duplicated the demo data", n, entries)
			}
			if got.key != first.key {
				t.Fatalf("round 2 printed key %q, want the stored key %q", got.key, first.key)
			}
		}

		if err := s.stop(t); err != nil {
			t.Fatalf("round %d: serve returned %v after cancel, want nil\nstderr: %s", round, err, s.stderr)
		}
		pid := filepath.Join(dataDir, "pgdata", "postmaster.pid")
		if _, err := os.Stat(pid); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("round %d: %s still exists after serve stopped (err %v): PostgreSQL was left running", round, pid, err)
		}
		if _, err := os.Stat(filepath.Join(dataDir, urlFile)); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("round %d: %s left behind", round, urlFile)
		}
		if !strings.Contains(s.stdout.String(), "Ctrl-C") || !strings.Contains(s.stdout.String(), dataDir) {
			t.Fatalf("round %d: stdout does not say where the data lives and how to stop:\n%s", round, s.stdout)
		}
	}
}

// TestServeRecreatesRevokedDemoKey: a stored demo key that was revoked is
// replaced by a new one on the next start.
func TestServeRecreatesRevokedDemoKey(t *testing.T) {
	clearEnv(t)
	dataDir, err := os.MkdirTemp("", "folio-serve-test-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dataDir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dataDir) })

	var keys []string
	for round := 1; round <= 2; round++ {
		addr := freeAddr(t)
		s := startServe(t, "--data-dir", dataDir, "--listen", addr, "--demo")
		s.waitFor(t, "the curl session on stdout", func() bool { return strings.Contains(s.stdout.String(), "/v1/entries\n") })
		got := parseSession(t, s.stdout.String())
		if code, body, err := httpStatus(got.balanceURL, got.key); code != http.StatusOK {
			t.Fatalf("round %d: GET %s = %d %s (%v), want 200", round, got.balanceURL, code, body, err)
		}
		keys = append(keys, got.key)
		if round == 1 {
			list, _, _ := cli(t, context.Background(), "keys", "list", "--data-dir", dataDir)
			id := strings.Fields(lineWith(list, "admin"))
			if len(id) == 0 {
				t.Fatalf("no admin key listed:\n%s", list)
			}
			if _, errOut, code := cli(t, context.Background(), "keys", "revoke", id[0], "--data-dir", dataDir); code != 0 {
				t.Fatalf("keys revoke: exit %d: %s", code, errOut)
			}
			if code, _, _ := httpStatus(got.balanceURL, got.key); code != http.StatusUnauthorized {
				t.Fatalf("revoked key: GET = %d, want 401", code)
			}
		}
		if err := s.stop(t); err != nil {
			t.Fatalf("round %d: serve returned %v", round, err)
		}
	}
	if keys[0] == keys[1] {
		t.Fatalf("the revoked demo key was printed again; want a new one")
	}
}

func decimalEqual(a, b string) bool {
	var x, y apd.Decimal
	if _, _, err := x.SetString(a); err != nil {
		return false
	}
	if _, _, err := y.SetString(b); err != nil {
		return false
	}
	return x.Cmp(&y) == 0
}
