package api

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/folioledger/folio"
	"github.com/folioledger/folio/events"
	"github.com/folioledger/folio/keys"
	"github.com/folioledger/folio/ledger"
	"github.com/folioledger/folio/payouts/webhook"
)

// receiver is a webhook endpoint that answers 500 to its first failFirst
// requests and 200 afterwards, verifying every signature with the README's
// recipe.
type receiver struct {
	t         *testing.T
	secret    string
	failFirst int

	mu       sync.Mutex
	requests int
	ok       map[string]int // event id → successful deliveries
	hooks    map[string]string
	bad      []string
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	ts, sig := r.Header.Get("Folio-Webhook-Timestamp"), r.Header.Get("Folio-Signature")
	// The recipe: HMAC-SHA256 over timestamp "." body with the secret, hex,
	// prefixed v1=; compared in constant time; timestamp within 5 minutes.
	mac := hmac.New(sha256.New, []byte(rc.secret))
	mac.Write([]byte(ts + "." + string(body)))
	want := "v1=" + hex.EncodeToString(mac.Sum(nil))
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.requests++
	if !hmac.Equal([]byte(sig), []byte(want)) || !events.Verify(rc.secret, ts, sig, body, time.Now(), 5*time.Minute) {
		rc.bad = append(rc.bad, fmt.Sprintf("bad signature %q for %s", sig, body))
	}
	id := r.Header.Get("Folio-Event-Id")
	if !strings.Contains(string(body), `"id":"`+id+`"`) {
		rc.bad = append(rc.bad, fmt.Sprintf("Folio-Event-Id %s is not the body's id: %.200s", id, body))
	}
	if rc.requests <= rc.failFirst {
		http.Error(w, "try later", http.StatusInternalServerError)
		return
	}
	rc.ok[id]++
	rc.hooks[r.Header.Get("Folio-Webhook-Id")] = id
	w.WriteHeader(http.StatusNoContent)
}

func newReceiver(t *testing.T, failFirst int) (*receiver, *httptest.Server) {
	rc := &receiver{t: t, failFirst: failFirst, ok: map[string]int{}, hooks: map[string]string{}}
	ts := httptest.NewServer(rc)
	t.Cleanup(ts.Close)
	return rc, ts
}

func (e *env) dispatcher(server string) *events.Dispatcher {
	return &events.Dispatcher{Webhooks: e.srv.Webhooks(), Render: e.srv.EventBody, Send: webhook.EventSender(true), Server: server,
		Backoff: time.Second, MaxBackoff: 4 * time.Second}
}

// subscribe creates a webhook to url and returns it with its secret.
func (e *env) subscribe(url string, types ...string) webhookJSON {
	e.t.Helper()
	body := map[string]any{"url": url}
	if types != nil {
		body["types"] = types
	}
	var w webhookJSON
	e.must(http.StatusCreated, req{Method: "POST", Path: "/v1/webhooks", Key: bootstrapKey, Body: body}).Decode(e.t, &w)
	if w.Secret == "" || !w.Enabled {
		e.t.Fatalf("POST /v1/webhooks = %+v, want a secret", w)
	}
	return w
}

func feedIDs(t *testing.T, e *env) map[string]bool {
	out := map[string]bool{}
	for _, ev := range readAllEvents(t, e, bootstrapKey, "", 1000) {
		out[ev.ID] = true
	}
	return out
}

// TestWebhookFailsTwiceThenGetsEverything: a receiver that fails twice,
// then succeeds, gets every event recorded after it subscribed, each once,
// with valid signatures; the delivery log shows the failed attempts; a
// redelivery repeats one event id, and only that one; a disabled webhook
// gets nothing more.
func TestWebhookFailsTwiceThenGetsEverything(t *testing.T) {
	e := newEnv(t)
	e.currencies()
	e.putProgram("broker", map[string]any{"kind": "levels", "levels": []string{"0.25", "0.10"}, "default": true})
	e.tree("root>", "root>a", "a>b")
	before := feedIDs(t, e)
	rc, ts := newReceiver(t, 2)
	w := e.subscribe(ts.URL + "/hooks")
	rc.secret = w.Secret
	for i := range 6 {
		e.book(trade(fmt.Sprintf("wh-%d", i), "b", "10"))
	}
	d := e.dispatcher("server-1")
	for range 20 {
		if _, err := d.RunOnce(t.Context()); err != nil {
			t.Fatalf("RunOnce: %v", err)
		}
		e.clock.Advance(5 * time.Second)
	}
	want := map[string]bool{}
	for id := range feedIDs(t, e) {
		if !before[id] {
			want[id] = true
		}
	}
	rc.mu.Lock()
	for _, b := range rc.bad {
		t.Error(b)
	}
	if len(want) < 6*4 {
		t.Fatalf("only %d new events", len(want))
	}
	for id := range want {
		if rc.ok[id] != 1 {
			t.Errorf("event %s delivered %d times, want once", id, rc.ok[id])
		}
	}
	if len(rc.ok) != len(want) || rc.requests != len(want)+2 {
		t.Errorf("receiver got %d events in %d requests; want %d in %d", len(rc.ok), rc.requests, len(want), len(want)+2)
	}
	rc.mu.Unlock()

	var log listJSON[deliveryJSON]
	e.must(http.StatusOK, req{Method: "GET", Path: "/v1/webhooks/" + w.ID + "/deliveries?limit=1000", Key: bootstrapKey}).Decode(t, &log)
	retried := 0
	for _, dl := range log.Data {
		if dl.Status != "delivered" || len(dl.Log) != dl.Attempts || !dl.Log[len(dl.Log)-1].OK {
			t.Errorf("delivery %+v", dl)
		}
		if dl.Attempts > 1 {
			retried++
			if dl.Log[0].OK || dl.Log[0].StatusCode != 500 || dl.Log[0].Server != "server-1" {
				t.Errorf("failed attempt logged as %+v", dl.Log[0])
			}
		}
	}
	if len(log.Data) != len(want) || retried == 0 {
		t.Errorf("delivery log: %d deliveries (%d retried), want %d with retries", len(log.Data), retried, len(want))
	}
	// Paging the log: limit 2 with cursors reaches the same deliveries.
	n, path := 0, "/v1/webhooks/"+w.ID+"/deliveries?limit=2"
	for path != "" {
		var p listJSON[deliveryJSON]
		e.must(http.StatusOK, req{Method: "GET", Path: path, Key: bootstrapKey}).Decode(t, &p)
		n += len(p.Data)
		path = ""
		if p.NextCursor != "" {
			path = "/v1/webhooks/" + w.ID + "/deliveries?limit=2&cursor=" + p.NextCursor
		}
	}
	if n != len(log.Data) {
		t.Errorf("paged log has %d deliveries, want %d", n, len(log.Data))
	}

	// A redelivery repeats exactly one event id, under a new webhook id.
	first := log.Data[0]
	var re deliveryJSON
	e.must(http.StatusCreated, req{Method: "POST", Path: "/v1/webhooks/" + w.ID + "/deliveries/" + first.ID + "/redeliver", Key: bootstrapKey}).Decode(t, &re)
	if re.EventID != first.EventID || re.RedeliveryOf == nil || *re.RedeliveryOf != first.ID || re.ID == first.ID {
		t.Errorf("redelivery = %+v of %+v", re, first)
	}
	if _, err := d.RunOnce(t.Context()); err != nil {
		t.Fatal(err)
	}
	rc.mu.Lock()
	for id, k := range rc.ok {
		if wantK := map[bool]int{true: 2, false: 1}[id == first.EventID]; k != wantK {
			t.Errorf("after the redelivery, event %s delivered %d times, want %d", id, k, wantK)
		}
	}
	if rc.hooks[re.ID] != first.EventID || rc.hooks[first.ID] != first.EventID {
		t.Errorf("Folio-Webhook-Id %s / %s not both seen for %s", first.ID, re.ID, first.EventID)
	}
	total := rc.requests
	rc.mu.Unlock()

	// Disabled: nothing more is delivered; the log stays.
	var off webhookJSON
	e.must(http.StatusOK, req{Method: "DELETE", Path: "/v1/webhooks/" + w.ID, Key: bootstrapKey}).Decode(t, &off)
	if off.Enabled || off.DisabledAt == nil || off.Secret != "" {
		t.Errorf("DELETE = %+v", off)
	}
	e.book(trade("wh-after", "b", "10"))
	if _, err := d.RunOnce(t.Context()); err != nil {
		t.Fatal(err)
	}
	rc.mu.Lock()
	if rc.requests != total {
		t.Errorf("a disabled webhook got %d more requests", rc.requests-total)
	}
	rc.mu.Unlock()
	e.must(http.StatusOK, req{Method: "GET", Path: "/v1/webhooks/" + w.ID + "/deliveries", Key: bootstrapKey})
	e.must(http.StatusConflict, req{Method: "POST", Path: "/v1/webhooks/" + w.ID + "/deliveries/" + first.ID + "/redeliver", Key: bootstrapKey})
	var list listJSON[webhookJSON]
	e.must(http.StatusOK, req{Method: "GET", Path: "/v1/webhooks", Key: bootstrapKey}).Decode(t, &list)
	if len(list.Data) != 1 || list.Data[0].Secret != "" || list.Data[0].Enabled {
		t.Errorf("GET /v1/webhooks = %+v", list.Data)
	}
}

// TestWebhookTwoDispatchers: two servers dispatching at once deliver each
// event once (claims are exclusive), and a types filter holds.
func TestWebhookTwoDispatchers(t *testing.T) {
	e := newEnv(t)
	e.currencies()
	e.putProgram("broker", map[string]any{"kind": "levels", "levels": []string{"0.25", "0.10"}, "default": true})
	e.tree("root>", "root>a", "a>b")
	rc, ts := newReceiver(t, 0)
	w := e.subscribe(ts.URL, "accrual.created")
	rc.secret = w.Secret
	for i := range 10 {
		e.book(trade(fmt.Sprintf("two-%d", i), "b", "10"))
	}
	var wg sync.WaitGroup
	for _, name := range []string{"s1", "s2"} {
		d := e.dispatcher(name)
		wg.Go(func() {
			for range 15 {
				if _, err := d.RunOnce(t.Context()); err != nil {
					t.Errorf("%s: %v", name, err)
					return
				}
			}
		})
	}
	wg.Wait()
	rc.mu.Lock()
	defer rc.mu.Unlock()
	for _, b := range rc.bad {
		t.Error(b)
	}
	if len(rc.ok) != 20 {
		t.Errorf("receiver got %d accruals, want 20 (10 trades × 2 levels)", len(rc.ok))
	}
	for id, n := range rc.ok {
		if n != 1 || !strings.HasPrefix(id, "accrual:") {
			t.Errorf("%s delivered %d times", id, n)
		}
	}
}

// TestWebhookHostileInput: bad subscriptions are 400 and write nothing;
// other roles are 403; unknown ids 404.
func TestWebhookHostileInput(t *testing.T) {
	e := newEnv(t)
	e.currencies()
	for name, body := range map[string]any{
		"ftp":          map[string]any{"url": "ftp://example.com/x"},
		"file":         map[string]any{"url": "file:///etc/passwd"},
		"javascript":   map[string]any{"url": "javascript:alert(1)"},
		"relative":     map[string]any{"url": "/hooks"},
		"no host":      map[string]any{"url": "http://"},
		"credentials":  map[string]any{"url": "https://user:pw@example.com/"},
		"empty":        map[string]any{"url": ""},
		"missing":      map[string]any{},
		"long":         map[string]any{"url": "https://example.com/" + strings.Repeat("a", 3000)},
		"space":        map[string]any{"url": "https://example.com/a b"},
		"number":       map[string]any{"url": 42},
		"unknown type": map[string]any{"url": "https://example.com/", "types": []string{"unknown"}},
		"empty types":  map[string]any{"url": "https://example.com/", "types": []string{}},
		"short secret": map[string]any{"url": "https://example.com/", "secret": "short"},
		"secret space": map[string]any{"url": "https://example.com/", "secret": "0123456789 abcdefgh"},
		"extra field":  map[string]any{"url": "https://example.com/", "events": "all"},
	} {
		res := e.do(req{Method: "POST", Path: "/v1/webhooks", Key: bootstrapKey, Body: body})
		if res.Status != http.StatusBadRequest || problemCode(t, res) != folio.EINVALID {
			t.Errorf("%s: POST /v1/webhooks = %d %s, want 400", name, res.Status, res.Body)
		}
	}
	huge := `{"url": "https://example.com/", "secret": "` + strings.Repeat("s", 2<<20) + `"}`
	if res := e.do(req{Method: "POST", Path: "/v1/webhooks", Key: bootstrapKey, Body: huge}); res.Status != http.StatusRequestEntityTooLarge {
		t.Errorf("huge body = %d, want 413", res.Status)
	}
	for _, role := range []string{keys.RoleAuditor, keys.RolePoster} {
		if res := e.do(req{Method: "POST", Path: "/v1/webhooks", Key: e.key(role, ""), Body: map[string]any{"url": "https://example.com/"}}); res.Status != http.StatusForbidden {
			t.Errorf("POST /v1/webhooks as %s = %d, want 403", role, res.Status)
		}
	}
	var list listJSON[webhookJSON]
	e.must(http.StatusOK, req{Method: "GET", Path: "/v1/webhooks", Key: bootstrapKey}).Decode(t, &list)
	if len(list.Data) != 0 {
		t.Fatalf("refused subscriptions were written: %+v", list.Data)
	}
	w := e.subscribe("https://example.com/", "payout", "config.program.put")
	unknown := "00000000-0000-4000-8000-000000000000"
	for _, c := range []struct {
		method, path string
		want         int
	}{
		{"DELETE", "/v1/webhooks/nope", 400},
		{"DELETE", "/v1/webhooks/" + unknown, 404},
		{"GET", "/v1/webhooks/" + unknown + "/deliveries", 404},
		{"GET", "/v1/webhooks/" + w.ID + "/deliveries?limit=0", 400},
		{"GET", "/v1/webhooks/" + w.ID + "/deliveries?limit=100000", 400},
		{"GET", "/v1/webhooks/" + w.ID + "/deliveries?cursor=garbage", 400},
		{"POST", "/v1/webhooks/" + w.ID + "/deliveries/" + unknown + "/redeliver", 404},
		{"POST", "/v1/webhooks/" + w.ID + "/deliveries/x/redeliver", 400},
	} {
		if res := e.do(req{Method: c.method, Path: c.path, Key: bootstrapKey}); res.Status != c.want {
			t.Errorf("%s %s = %d %s, want %d", c.method, c.path, res.Status, res.Body, c.want)
		}
	}
}

// TestWebhookRefusesInternalReceivers: on a server without
// --webhook-allow-private, POST /v1/webhooks refuses with 400 a URL whose
// host is literally a loopback, private, link-local, unspecified or
// multicast address, or localhost, and writes nothing; a public address is
// accepted. Delivery checks the address it dials: a subscription to a
// loopback receiver (made where it was allowed) fails each attempt with
// the reason recorded in the delivery log, and the receiver gets nothing.
func TestWebhookRefusesInternalReceivers(t *testing.T) {
	e := newEnv(t)
	e.currencies()
	e.putProgram("broker", map[string]any{"kind": "levels", "levels": []string{"0.25", "0.10"}, "default": true})
	e.tree("root>", "root>a", "a>b")
	rc, ts := newReceiver(t, 0)
	w := e.subscribe(ts.URL + "/hooks") // newEnv allows internal receivers
	rc.secret = w.Secret

	allowing := e.srv
	e.srv = New(Config{DB: e.app, Ledger: ledger.New(e.app), AdminKey: bootstrapKey, Registry: prometheus.NewRegistry(), Now: e.clock.Now})
	for _, url := range []string{
		"http://127.0.0.1:8080/hooks", "http://127.9.9.9/", "http://[::1]:9000/", "http://[::ffff:127.0.0.1]/",
		"http://10.0.0.7/", "http://172.16.5.4/", "http://192.168.1.1/", "http://[fd00::1]/",
		"http://169.254.169.254/latest/meta-data/", "http://[fe80::1]/", "http://0.0.0.0:80/", "http://0.1.2.3/",
		"http://224.0.0.1/", "http://[ff02::1]/", "http://255.255.255.255/",
		"http://localhost:8080/", "http://LOCALHOST./", "http://api.localhost/",
	} {
		res := e.do(req{Method: "POST", Path: "/v1/webhooks", Key: bootstrapKey, Body: map[string]any{"url": url}})
		if res.Status != http.StatusBadRequest || !strings.Contains(string(res.Body), "--webhook-allow-private") {
			t.Errorf("POST /v1/webhooks %s = %d %s, want 400 naming --webhook-allow-private", url, res.Status, res.Body)
		}
	}
	var list listJSON[webhookJSON]
	e.must(http.StatusOK, req{Method: "GET", Path: "/v1/webhooks", Key: bootstrapKey}).Decode(t, &list)
	if len(list.Data) != 1 {
		t.Errorf("%d webhooks after the refusals, want the one made before", len(list.Data))
	}
	e.must(http.StatusCreated, req{Method: "POST", Path: "/v1/webhooks", Key: bootstrapKey, Body: map[string]any{"url": "https://93.184.216.34/hooks"}})
	e.must(http.StatusCreated, req{Method: "POST", Path: "/v1/webhooks", Key: bootstrapKey, Body: map[string]any{"url": "https://hooks.example.com/folio"}})
	e.srv = allowing

	// Delivery without the opt-in: the dial is refused, the attempt says why.
	e.book(trade("ssrf-1", "b", "10"))
	d := &events.Dispatcher{Webhooks: e.srv.Webhooks(), Render: e.srv.EventBody, Send: webhook.EventSender(false), Server: "strict",
		Backoff: time.Second, MaxBackoff: 4 * time.Second}
	for range 3 {
		if _, err := d.RunOnce(t.Context()); err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(5 * time.Second)
	}
	rc.mu.Lock()
	if rc.requests != 0 {
		t.Errorf("the loopback receiver got %d requests without the opt-in", rc.requests)
	}
	rc.mu.Unlock()
	var log listJSON[deliveryJSON]
	e.must(http.StatusOK, req{Method: "GET", Path: "/v1/webhooks/" + w.ID + "/deliveries?limit=1000", Key: bootstrapKey}).Decode(t, &log)
	attempts := 0
	for _, dl := range log.Data {
		if dl.Status == "delivered" {
			t.Errorf("delivery %s delivered without the opt-in", dl.ID)
		}
		for _, a := range dl.Log {
			attempts++
			if a.OK || a.StatusCode != 0 || !strings.Contains(a.Detail, "webhook address refused") || !strings.Contains(a.Detail, "loopback") {
				t.Errorf("attempt %+v, want refused as a loopback address", a)
			}
		}
	}
	if len(log.Data) == 0 || attempts == 0 {
		t.Fatalf("no delivery attempts recorded (%d deliveries)", len(log.Data))
	}
}
