package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/folioledger/folio/events"
)

// TestServeEventsOut runs `folio serve --demo` with a webhook receiver and
// an open event stream: serve's dispatcher delivers a new trade's events,
// signed, and shutting down ends the stream at once instead of waiting for
// the drain timeout.
func TestServeEventsOut(t *testing.T) {
	clearEnv(t)
	dataDir, err := os.MkdirTemp("", "folio-serve-events-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dataDir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dataDir) })

	var mu sync.Mutex
	got := map[string]string{} // event id → type
	var secret string
	var bad []string
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		if !events.Verify(secret, r.Header.Get(events.HeaderTimestamp), r.Header.Get(events.HeaderSignature), body, time.Now(), 5*time.Minute) {
			bad = append(bad, string(body))
		}
		var ev struct{ ID, Type string }
		_ = json.Unmarshal(body, &ev)
		got[ev.ID] = ev.Type
	}))
	defer recv.Close()

	addr := freeAddr(t)
	s := startServe(t, "--data-dir", dataDir, "--listen", addr, "--demo", "--webhook-allow-private") // the receiver is on loopback
	s.waitFor(t, "the curl session on stdout", func() bool { return strings.Contains(s.stdout.String(), "/v1/entries\n") })
	key := parseSession(t, s.stdout.String()).key
	base := "http://" + addr
	call := func(method, path, body string) []byte {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		if res.StatusCode/100 != 2 {
			t.Fatalf("%s %s = %d %s", method, path, res.StatusCode, b)
		}
		return b
	}
	var sub struct{ ID, Secret string }
	if err := json.Unmarshal(call("POST", "/v1/webhooks", `{"url": "`+recv.URL+`", "types": ["entry.posted"]}`), &sub); err != nil || sub.Secret == "" {
		t.Fatalf("POST /v1/webhooks: %+v %v", sub, err)
	}
	mu.Lock()
	secret = sub.Secret
	mu.Unlock()

	// An open stream, from the current end.
	req, _ := http.NewRequest("GET", base+"/v1/events/stream?after=now&types=entry", nil)
	req.Header.Set("Authorization", "Bearer "+key)
	stream, err := http.DefaultClient.Do(req)
	if err != nil || stream.StatusCode != http.StatusOK {
		t.Fatalf("open stream: %v %v", stream, err)
	}
	defer stream.Body.Close()
	streamed := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stream.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			if line := sc.Bytes(); bytes.HasPrefix(line, []byte("event: ")) {
				streamed <- string(line[7:])
			}
		}
		close(streamed)
	}()

	call("POST", "/v1/trades", `{"trades": [{"id": "serve-ev-1", "user_id": "dave", "market": "BTCUSDT", "liquidity": "taker",
		"fee": {"amount": "4", "currency": "USDT"}, "executed_at": "2026-01-02T00:00:00Z"}]}`)
	s.waitFor(t, "the webhook to receive the trade's two entries", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) >= 2
	})
	mu.Lock()
	if len(bad) > 0 || len(got) != 2 {
		t.Errorf("receiver: %d events %v, %d with bad signatures", len(got), got, len(bad))
	}
	mu.Unlock()
	for range 2 {
		select {
		case typ := <-streamed:
			if typ != "entry.posted" {
				t.Errorf("stream sent %s", typ)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("the stream sent no entry within 30 s")
		}
	}

	start := time.Now()
	if err := s.stop(t); err != nil {
		t.Fatalf("serve: %v", err)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("shutdown with an open stream took %v: the stream held the drain", d)
	}
	for range streamed {
	}
}
