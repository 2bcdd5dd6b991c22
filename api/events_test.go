package api

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/folioledger/folio"
	"github.com/folioledger/folio/keys"
	"github.com/folioledger/folio/ledger"
	"github.com/folioledger/folio/schema"
)

// readAllEvents pages through GET /v1/events with key (query q added) and
// returns the events, failing on a repeated id.
func readAllEvents(t *testing.T, e *env, key, q string, limit int) []feedEventJSON {
	t.Helper()
	var out []feedEventJSON
	seen := map[string]bool{}
	after := ""
	for page := 0; ; page++ {
		if page > 500 {
			t.Fatal("the feed did not end")
		}
		path := "/v1/events?limit=" + strconv.Itoa(limit) + q
		if after != "" {
			path += "&after=" + url.QueryEscape(after)
		}
		var p feedJSON
		e.must(http.StatusOK, req{Method: "GET", Path: path, Key: key}).Decode(t, &p)
		for _, ev := range p.Events {
			if seen[ev.ID] {
				t.Fatalf("event %s read twice", ev.ID)
			}
			seen[ev.ID] = true
			out = append(out, ev)
		}
		if p.NextCursor == "" && after != "" {
			t.Fatal("next_cursor is empty")
		}
		after = p.NextCursor
		if len(p.Events) == 0 && !p.More {
			return out
		}
	}
}

// jsonText is v as JSON text, for comparing decoded values.
func jsonText(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestEventsFeed: the admin's feed holds every entry, accrual, payout
// state change and configuration change once; an entry's data is the
// entry as GET /v1/entries/{id} shows it.
func TestEventsFeed(t *testing.T) {
	f := newPayoutFixture(t)
	me := maskingTree(f)
	all := readAllEvents(t, f.env, bootstrapKey, "", 5)
	types := map[string]int{}
	for _, ev := range all {
		types[ev.Type]++
		if ev.Cursor == "" || ev.At == "" {
			t.Errorf("event %s has no cursor or time", ev.ID)
		}
	}
	for _, want := range []string{"entry.posted", "accrual.created", "payout.draft", "payout.approved", "payout.executed", "config.program.put", "config.code.create"} {
		if types[want] == 0 {
			t.Errorf("the feed has no %s event; types %v", want, types)
		}
	}
	// An entry event's data is the entry's recorded content.
	for _, ev := range all {
		if ev.Type != "entry.posted" {
			continue
		}
		id := strings.TrimPrefix(ev.ID, "entry:")
		var got, want map[string]any
		res := f.call(http.StatusOK, req{Method: "GET", Path: "/v1/entries/" + id})
		res.Decode(t, &want)
		b, _ := json.Marshal(ev.Data)
		(&response{Body: b}).Decode(t, &got)
		for k, v := range got {
			if jsonText(want[k]) != jsonText(v) {
				t.Errorf("entry event %s: %s = %v, GET /v1/entries shows %v", id, k, v, want[k])
			}
		}
		break
	}
	// Types filter: only payout events.
	for _, ev := range readAllEvents(t, f.env, bootstrapKey, "&types=payout", 100) {
		if !strings.HasPrefix(ev.Type, "payout.") {
			t.Errorf("types=payout read %s", ev.Type)
		}
	}

	// The affiliate's key: its own accruals and payouts, masked.
	key := f.newKey(keys.RoleAffiliate, me).secret
	own := readAllEvents(t, f.env, key, "", 3)
	kinds := map[string]int{}
	for _, ev := range own {
		kinds[strings.SplitN(ev.Type, ".", 2)[0]]++
		b, _ := json.Marshal(ev.Data)
		data := string(b)
		switch {
		case ev.Type == "accrual.created":
			if !strings.Contains(data, `"beneficiary":"`+me+`"`) {
				t.Errorf("%s sees an accrual of another: %s", me, data)
			}
		case strings.HasPrefix(ev.Type, "payout."):
			if strings.Contains(data, `"actor"`) || !strings.Contains(data, `"lines":[{`) {
				t.Errorf("%s's payout event shows the actor or no line: %s", me, data)
			}
		default:
			t.Errorf("%s sees a %s event", me, ev.Type)
		}
	}
	if kinds["accrual"] == 0 || kinds["payout"] == 0 {
		t.Errorf("%s's feed: %v, want accruals and payouts", me, kinds)
	}
	others := otherIDs(t, f.env, me)
	for _, ev := range own {
		b, _ := json.Marshal(ev)
		for _, id := range leaked(&response{Status: http.StatusOK, Header: http.Header{"Content-Type": {"application/json"}}, Body: b}, others) {
			t.Errorf("%s's event %s shows %s", me, ev.ID, id)
		}
	}
	// A poster key is refused.
	for _, k := range []string{f.newKey(keys.RolePoster, "").secret} {
		if res := f.do(req{Method: "GET", Path: "/v1/events", Key: k}); res.Status != http.StatusForbidden {
			t.Errorf("GET /v1/events with %s = %d, want 403", k[:8], res.Status)
		}
	}
}

// TestEventsHostileInput: bad cursors, limits and types are 400
// invalid_request naming the parameter.
func TestEventsHostileInput(t *testing.T) {
	e := newEnv(t)
	e.currencies()
	for _, q := range []string{
		"after=garbage", "after=" + strings.Repeat("A", 5000), "after=djIsYT0x", "after=%00", "after=djEsYT0xLHM5OTk9MQ", "after=djEsYT05OTk", "after=djEsYT0wLHMwPTk5OQ", "after=djEsYT0wLHM1PTA",
		"limit=0", "limit=100000", "limit=-1", "limit=x", "types=unknown", "types=entry.reversed", "types=payout,", "types=config..x",
		"cursor=x", "after=a&after=b",
	} {
		res := e.do(req{Method: "GET", Path: "/v1/events?" + q, Key: bootstrapKey})
		if res.Status != http.StatusBadRequest || problemCode(t, res) != folio.EINVALID {
			t.Errorf("GET /v1/events?%s = %d %s, want 400 invalid_request", q, res.Status, res.Body)
		}
	}
	if !slices.Contains(accessReadScoped.roles(), keys.RoleAffiliate) {
		t.Error("the feed does not admit affiliate keys")
	}
}

// TestEventsOutage: with the database unreachable, the feed, the stream
// and the webhook routes are 503 with Retry-After.
func TestEventsOutage(t *testing.T) {
	pool, err := pgxpool.New(t.Context(), freePortURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	db := &schema.DB{Pool: pool, MaxRetries: 1}
	srv := New(Config{DB: db, Ledger: ledger.New(db), AdminKey: bootstrapKey, Registry: prometheus.NewRegistry()})
	for _, q := range []req{
		{Method: "GET", Path: "/v1/events"},
		{Method: "GET", Path: "/v1/events/stream?after=now"},
		{Method: "GET", Path: "/v1/webhooks"},
		{Method: "POST", Path: "/v1/webhooks", Body: `{"url": "https://example.com/"}`},
	} {
		r := httptest.NewRequest(q.Method, q.Path, strings.NewReader(fmt.Sprint(q.Body)))
		r.Header.Set("Authorization", "Bearer "+bootstrapKey)
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		srv.Handler().ServeHTTP(w, r)
		if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" {
			t.Errorf("%s %s with the database unreachable = %d %s, want 503 with Retry-After", q.Method, q.Path, w.Code, w.Body)
		}
	}
}

// freePortURL is a PostgreSQL URL of a port nothing listens on.
func freePortURL(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "postgres://folio@" + addr + "/folio?connect_timeout=2"
}
