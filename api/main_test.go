package api

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/folioledger/folio/keys"
	"github.com/folioledger/folio/ledger"
	"github.com/folioledger/folio/schema"
	"github.com/folioledger/folio/schema/schematest"
)

func TestMain(m *testing.M) { os.Exit(schematest.Main(m)) }

// bootstrapKey is the tests' FOLIO_ADMIN_KEY.
const bootstrapKey = "test-bootstrap-admin-key-0123456789"

// env is one test's server on a fresh database, through the real router.
type env struct {
	t     *testing.T
	db    *schematest.DB
	app   *schema.DB
	srv   *Server
	clock *clock
	logs  *syncBuffer
}

// clock is the injected time of the ledger and the server.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// syncBuffer collects log output written by concurrent requests.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func newEnv(t *testing.T) *env {
	t.Helper()
	db := schematest.New(t, schema.Migrate)
	app, err := schema.Open(context.Background(), db.URL, schema.OpenOptions{Role: schema.AppRole})
	if err != nil {
		t.Fatalf("open app pool: %v", err)
	}
	t.Cleanup(app.Close)
	c := &clock{t: time.Date(2026, 1, 10, 12, 0, 0, 0, time.UTC)}
	l := ledger.New(app)
	l.Now = c.Now
	logs := &syncBuffer{}
	srv := New(Config{
		DB:       app,
		Ledger:   l,
		AdminKey: bootstrapKey,
		Logger:   slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo})),
		Registry: prometheus.NewRegistry(),
		Now:      c.Now,
		// The webhook tests' receivers are on loopback.
		WebhookAllowPrivate: true,
	})
	return &env{t: t, db: db, app: app, srv: srv, clock: c, logs: logs}
}

// response is a recorded answer.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into a generic value.
func (r *response) JSON(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("response body is not a JSON object: %v\n%s", err, r.Body)
	}
	return m
}

// Decode decodes the body into v.
func (r *response) Decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decode response: %v\n%s", err, r.Body)
	}
}

// req is a request to send: Body is marshalled to JSON unless it is a
// string or []byte (sent as is).
type req struct {
	Method, Path, Key string
	Body              any
	Header            map[string]string
}

// do serves one request through the real router.
func (e *env) do(q req) *response {
	e.t.Helper()
	var body io.Reader
	switch b := q.Body.(type) {
	case nil:
	case string:
		body = strings.NewReader(b)
	case []byte:
		body = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			e.t.Fatalf("marshal request: %v", err)
		}
		body = bytes.NewReader(raw)
	}
	r := httptest.NewRequest(q.Method, q.Path, body)
	if q.Body != nil {
		r.Header.Set("Content-Type", "application/json")
	}
	if q.Key != "" {
		r.Header.Set("Authorization", "Bearer "+q.Key)
	}
	for k, v := range q.Header {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	e.srv.Handler().ServeHTTP(w, r)
	return &response{Status: w.Code, Header: w.Header(), Body: w.Body.Bytes()}
}

// must sends a request and fails the test unless the status is want.
func (e *env) must(want int, q req) *response {
	e.t.Helper()
	res := e.do(q)
	if res.Status != want {
		e.t.Fatalf("%s %s = %d, want %d\n%s", q.Method, q.Path, res.Status, want, res.Body)
	}
	return res
}

// key creates an API key directly and returns its secret.
func (e *env) key(role, holder string) string {
	e.t.Helper()
	_, secret, err := keys.Create(context.Background(), e.app, role, holder, "test", "test")
	if err != nil {
		e.t.Fatalf("keys.Create(%s, %s): %v", role, holder, err)
	}
	return secret
}

// currencies creates USD (2 places) and USDT (6) through the API.
func (e *env) currencies() {
	e.t.Helper()
	e.must(http.StatusCreated, req{Method: "PUT", Path: "/v1/currencies/USD", Key: bootstrapKey, Body: map[string]any{"precision": 2}})
	e.must(http.StatusCreated, req{Method: "PUT", Path: "/v1/currencies/USDT", Key: bootstrapKey, Body: map[string]any{"precision": 6}})
}

// posting builds a posting of a request body.
func posting(account, side, amount string) map[string]any {
	return map[string]any{"account": account, "side": side, "amount": amount}
}

// entryBody builds a manual entry body with postings.
func entryBody(key string, postings ...map[string]any) map[string]any {
	b := map[string]any{"postings": postings}
	if key != "" {
		b["idempotency_key"] = key
	}
	return b
}

// post writes an entry through the API and returns the response body.
func (e *env) post(body map[string]any) map[string]any {
	e.t.Helper()
	return e.must(http.StatusCreated, req{Method: "POST", Path: "/v1/entries", Key: bootstrapKey, Body: body}).JSON(e.t)
}

// snapshot summarizes everything a rejected request must leave unchanged:
// the journal (entries, postings, head, every balance figure) and the
// configuration (audit log, keys, currencies, chart), read as superuser.
func (e *env) snapshot() string {
	e.t.Helper()
	var out string
	err := e.db.Admin.QueryRow(context.Background(), `SELECT concat_ws(' | ',
		(SELECT count(*) FROM entries)::text, (SELECT count(*) FROM postings)::text,
		(SELECT string_agg(seq::text || ':' || encode(hash, 'hex'), ',' ORDER BY shard) FROM journal_shards),
		(SELECT coalesce(string_agg(account || '=' || debits::text || '/' || credits::text || '/' || pending_debits::text || '/' ||
			pending_credits::text || '/' || balance::text, ',' ORDER BY account), '') FROM balances_current),
		(SELECT count(*) FROM audit_log)::text, (SELECT count(*) FROM api_keys WHERE revoked_at IS NULL)::text,
		(SELECT coalesce(string_agg(id || ':' || precision::text || ':' || enabled::text, ',' ORDER BY id), '') FROM currencies),
		(SELECT coalesce(string_agg(code || ':' || name || ':' || type || ':' || normal_side || ':' || balance_rule, ',' ORDER BY code), '') FROM account_codes))`).Scan(&out)
	if err != nil {
		e.t.Fatalf("snapshot: %v", err)
	}
	return out
}
