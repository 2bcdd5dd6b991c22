package api

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/folioledger/folio/keys"
	"github.com/folioledger/folio/ledger"
)

// sseEvent is one event read from a stream.
type sseEvent struct{ id, typ, data string }

// sseClient is an open event stream.
type sseClient struct {
	body   io.ReadCloser
	events chan sseEvent
	done   chan error
}

// openStream connects to url with key (and Last-Event-ID when lastID is
// not "") and parses events into a channel until the stream ends.
func openStream(t *testing.T, url, key, lastID string) *sseClient {
	t.Helper()
	rq, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	rq.Header.Set("Authorization", "Bearer "+key)
	if lastID != "" {
		rq.Header.Set("Last-Event-ID", lastID)
	}
	res, err := http.DefaultClient.Do(rq)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "text/event-stream" {
		b, _ := io.ReadAll(res.Body)
		t.Fatalf("GET %s = %d %s %s", url, res.StatusCode, res.Header.Get("Content-Type"), b)
	}
	c := &sseClient{body: res.Body, events: make(chan sseEvent, 100000), done: make(chan error, 1)}
	go func() {
		sc := bufio.NewScanner(res.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if ev.id != "" {
					c.events <- ev
				}
				ev = sseEvent{}
			case strings.HasPrefix(line, ":"), strings.HasPrefix(line, "retry:"):
			case strings.HasPrefix(line, "id: "):
				ev.id = line[4:]
			case strings.HasPrefix(line, "event: "):
				ev.typ = line[7:]
			case strings.HasPrefix(line, "data: "):
				ev.data = line[6:]
			}
		}
		c.done <- sc.Err()
		close(c.events)
	}()
	return c
}

// eventID returns the stable id inside an event's data line.
func eventID(t *testing.T, ev sseEvent) string {
	t.Helper()
	i := strings.Index(ev.data, `"id":"`)
	if i < 0 {
		t.Fatalf("event without id: %s", ev.data)
	}
	rest := ev.data[i+6:]
	return rest[:strings.Index(rest, `"`)]
}

// TestEventStreamResumesWithLastEventID: a client reads part of the stream
// while trades are booked, disconnects, reconnects with Last-Event-ID
// while more are booked, and in the end has every event of the feed
// exactly once.
func TestEventStreamResumesWithLastEventID(t *testing.T) {
	e := newEnv(t)
	e.currencies()
	e.putProgram("broker", map[string]any{"kind": "levels", "levels": []string{"0.25", "0.10"}, "default": true})
	e.tree("root>", "root>a", "a>b", "a>c")
	ts := httptest.NewServer(e.srv.Handler())
	defer ts.Close()
	n := 0
	bookSome := func(k int) {
		for range k {
			n++
			e.book(trade(fmt.Sprintf("s-%d", n), []string{"b", "c"}[n%2], "10"))
		}
	}
	bookSome(5)

	got := map[string]int{}
	c := openStream(t, ts.URL+"/v1/events/stream", bootstrapKey, "")
	var wg sync.WaitGroup
	wg.Go(func() { bookSome(10) })
	last := ""
	for i := 0; i < 20; i++ {
		select {
		case ev := <-c.events:
			got[eventID(t, ev)]++
			last = ev.id
		case <-time.After(10 * time.Second):
			t.Fatal("no event within 10 s")
		}
	}
	c.body.Close()
	wg.Wait()
	bookSome(5)

	c = openStream(t, ts.URL+"/v1/events/stream?after=ignored-when-last-event-id-is-sent", bootstrapKey, last)
	defer c.body.Close()
	wg.Go(func() { bookSome(5) })
	wg.Wait()
	want := readAllEvents(t, e, bootstrapKey, "", 1000)
	deadline := time.After(20 * time.Second)
	for len(got) < len(want) {
		select {
		case ev := <-c.events:
			got[eventID(t, ev)]++
		case <-deadline:
			t.Fatalf("after 20 s the streams delivered %d of %d events", len(got), len(want))
		}
	}
	for _, ev := range want {
		if got[ev.ID] != 1 {
			t.Errorf("%s delivered %d times, want once", ev.ID, got[ev.ID])
		}
	}
	if len(got) != len(want) {
		t.Errorf("streams delivered %d distinct events, the feed has %d", len(got), len(want))
	}
	// Nothing more arrives (no repeat after catching up).
	select {
	case ev := <-c.events:
		t.Errorf("extra event after catching up: %s %s", ev.typ, eventID(t, ev))
	case <-time.After(700 * time.Millisecond):
	}
}

// TestEventStreamScoped: an affiliate's stream carries only its own
// accruals; ?after=now starts at the end; a bad Last-Event-ID is 400.
func TestEventStreamScoped(t *testing.T) {
	e := newEnv(t)
	e.currencies()
	e.putProgram("broker", map[string]any{"kind": "levels", "levels": []string{"0.25", "0.10"}, "default": true})
	e.tree("root>", "root>a", "a>b", "a>c")
	e.book(trade("x-1", "b", "10"))
	key := e.key(keys.RoleAffiliate, "root")
	c := openStream(t, httptestURL(t, e)+"/v1/events/stream?after=now", key, "")
	defer c.body.Close()
	e.book(trade("x-2", "c", "10"))
	select {
	case ev := <-c.events:
		if ev.typ != "accrual.created" || !strings.Contains(ev.data, `"beneficiary":"root"`) || !strings.Contains(ev.data, `"trade_id":"x-2"`) {
			t.Errorf("root's stream got %s %s", ev.typ, ev.data)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("root's stream got nothing in 10 s")
	}
	res := e.do(req{Method: "GET", Path: "/v1/events/stream", Key: key, Header: map[string]string{"Last-Event-ID": "garbage"}})
	if res.Status != http.StatusBadRequest {
		t.Errorf("stream with Last-Event-ID garbage = %d, want 400", res.Status)
	}
}

func httptestURL(t *testing.T, e *env) string {
	ts := httptest.NewServer(e.srv.Handler())
	t.Cleanup(ts.Close)
	return ts.URL
}

// smallBuffers is a listener whose connections have small socket send
// buffers, so that a client that does not read blocks the server's writes
// after a few kilobytes instead of megabytes.
type smallBuffers struct{ net.Listener }

func (l smallBuffers) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(4096)
	}
	return c, err
}

// TestEventStreamDropsSlowClient: a client that stops reading is
// disconnected, while trades keep being booked at full speed.
func TestEventStreamDropsSlowClient(t *testing.T) {
	e := newEnv(t)
	e.currencies()
	e.putProgram("broker", map[string]any{"kind": "levels", "levels": []string{"0.25", "0.10"}, "default": true})
	e.tree("root>", "root>a", "a>b")
	logs := &syncBuffer{}
	l := ledger.New(e.app)
	l.Now = e.clock.Now
	srv := New(Config{DB: e.app, Ledger: l, AdminKey: bootstrapKey, Now: e.clock.Now, Registry: prometheus.NewRegistry(),
		Logger: slog.New(slog.NewJSONHandler(logs, nil)),
		Stream: StreamConfig{Poll: 20 * time.Millisecond, Buffer: 8, WriteTimeout: 300 * time.Millisecond}})
	ts := httptest.NewUnstartedServer(srv.Handler())
	ts.Listener = smallBuffers{ts.Listener}
	ts.Start()
	defer ts.Close()

	d := net.Dialer{Control: nil}
	conn, err := d.DialContext(context.Background(), "tcp", ts.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.(*net.TCPConn).SetReadBuffer(4096)
	fmt.Fprintf(conn, "GET /v1/events/stream HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n", bootstrapKey)

	// Book trades in batches while the client reads nothing.
	start := time.Now()
	for i := range 30 {
		var batch []map[string]any
		for j := range 10 {
			batch = append(batch, trade(fmt.Sprintf("slow-%d-%d", i, j), "b", "10"))
		}
		e.book(batch...)
	}
	t.Logf("booked 300 trades in %v with a stalled stream open", time.Since(start))
	// The server has given up on the client: reading now drains what was
	// buffered and then meets the end of the connection.
	deadline := time.Now().Add(15 * time.Second)
	for !strings.Contains(logs.String(), `"msg":"event stream ended"`) {
		if time.Now().After(deadline) {
			t.Fatalf("the slow client was not dropped; logs:\n%s", logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	_ = conn.SetReadDeadline(time.Now().Add(15 * time.Second))
	n, err := io.Copy(io.Discard, conn)
	if err != nil {
		t.Fatalf("after %d bytes the connection did not end: %v", n, err)
	}
	// The feed itself holds every event: nothing was lost for a client
	// that resumes.
	if all := readAllEvents(t, e, bootstrapKey, "&types=entry", 1000); len(all) < 600 {
		t.Errorf("the feed has %d entry events, want at least 600", len(all))
	}
}

// TestEventStreamOutlivesWriteTimeout: the server's WriteTimeout (folio
// serve sets one) does not end a stream, which keeps sending heartbeats
// and events past it.
func TestEventStreamOutlivesWriteTimeout(t *testing.T) {
	e := newEnv(t)
	e.currencies()
	srv := New(Config{DB: e.app, Ledger: ledger.New(e.app), AdminKey: bootstrapKey, Registry: prometheus.NewRegistry(),
		Stream: StreamConfig{Poll: 20 * time.Millisecond, Heartbeat: 50 * time.Millisecond}})
	ts := httptest.NewUnstartedServer(srv.Handler())
	ts.Config.WriteTimeout = 300 * time.Millisecond
	ts.Start()
	defer ts.Close()
	rq, _ := http.NewRequest(http.MethodGet, ts.URL+"/v1/events/stream?after=now", nil)
	rq.Header.Set("Authorization", "Bearer "+bootstrapKey)
	res, err := http.DefaultClient.Do(rq)
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("open stream: %v %v", res, err)
	}
	defer res.Body.Close()
	time.Sleep(time.Second)
	e.do(req{Method: "PUT", Path: "/v1/currencies/EUR", Key: bootstrapKey, Body: map[string]any{"precision": 2}})
	sc := bufio.NewScanner(res.Body)
	beats := 0
	for sc.Scan() {
		line := sc.Text()
		if line == ": heartbeat" {
			beats++
		}
		if strings.HasPrefix(line, "event: config.currency.put") {
			if beats < 10 {
				t.Errorf("%d heartbeats before the event, want the stream to have lived past the write timeout", beats)
			}
			return
		}
	}
	t.Fatalf("the stream ended after %d heartbeats: %v", beats, sc.Err())
}
