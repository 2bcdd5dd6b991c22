package api

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/folioledger/folio"
	"github.com/folioledger/folio/keys"
	"github.com/folioledger/folio/stream"
)

// TestDecodeTradeMessage: a bus message is one trade, an array of trades
// or {"trades": [...]}, each trade as POST /v1/trades takes it; a trade
// that does not decode is an item with its error, a message that is none
// of these an error.
func TestDecodeTradeMessage(t *testing.T) {
	const tr = `{"id":"m-1","user_id":"carol","market":"BTCUSDT","liquidity":"taker","fee":{"amount":"1","currency":"USDT"}}`
	good := []struct {
		name string
		msg  string
		ids  []string
		bad  []string // the code of each item's error, "" for none
	}{
		{"one trade", tr, []string{"m-1"}, []string{""}},
		{"an array", "[" + tr + "," + strings.Replace(tr, "m-1", "m-2", 1) + "]", []string{"m-1", "m-2"}, []string{"", ""}},
		{"trades object", `{"trades":[` + tr + `]}`, []string{"m-1"}, []string{""}},
		{"unknown field in a trade", `[` + tr + `,{"id":"m-3","bogus":1}]`, []string{"m-1", "m-3"}, []string{"", folio.EINVALID}},
		{"amount as a number", `[{"id":"m-4","fee":{"amount":1,"currency":"USDT"}}]`, []string{"m-4"}, []string{folio.EAMOUNT}},
		{"not an object in the array", `[5]`, []string{""}, []string{folio.EINVALID}},
		{"trades beside other keys is one (bad) trade", `{"trades":[],"id":"m-5"}`, []string{"m-5"}, []string{folio.EINVALID}},
	}
	for _, c := range good {
		items, err := DecodeTradeMessage([]byte(c.msg))
		if err != nil || len(items) != len(c.ids) {
			t.Errorf("%s: DecodeTradeMessage = %d items, %v; want %d items", c.name, len(items), err, len(c.ids))
			continue
		}
		for i, it := range items {
			if it.ID != c.ids[i] || folio.ErrorCode(it.Err) != c.bad[i] {
				t.Errorf("%s: item %d = id %q, err %v; want id %q, code %q", c.name, i, it.ID, it.Err, c.ids[i], c.bad[i])
			}
		}
	}
	many := "[" + strings.Repeat(tr+",", 1000) + tr + "]"
	for _, c := range []struct{ name, msg string }{
		{"empty", "  "}, {"not JSON", `{"id":`}, {"a number", "5"}, {"a string", `"x"`}, {"empty array", "[]"},
		{"trades not an array", `{"trades":5}`}, {"empty trades", `{"trades":[]}`}, {"too many", many},
		{"duplicate key", `{"id":"a","id":"b"}`}, {"invalid UTF-8", "{\"id\":\"\xff\"}"}, {"trailing data", tr + " x"},
	} {
		if _, err := DecodeTradeMessage([]byte(c.msg)); folio.ErrorCode(err) != folio.EINVALID {
			t.Errorf("%s: DecodeTradeMessage error = %v, want %s", c.name, err, folio.EINVALID)
		}
	}
}

// TestDeadLettersRoute: GET /v1/ingest/dead-letters lists what the
// consumers could never book, pages by cursor, answers CSV, records a
// redelivered message once, refuses hostile parameters (400) and keys
// without read access (403), and writes nothing.
func TestDeadLettersRoute(t *testing.T) {
	e := newEnv(t)
	b := &stream.Booker{DB: e.app, Decode: DecodeTradeMessage}
	var msgs []stream.Message
	for i := range 3 {
		msgs = append(msgs, stream.Message{Source: stream.SourceKafka, Destination: "trades", Position: fmt.Sprintf("0/%d", i),
			Key: fmt.Sprintf("trades/0/%d", i), Body: []byte(fmt.Sprintf(`{"id":"d-%d","user_id":`, i))})
	}
	for range 2 { // the second time, as redelivered after a crash
		dead, err := b.Book(context.Background(), msgs)
		if err != nil || len(dead) != 3 {
			t.Fatalf("Book = %d dead letters, %v; want 3", len(dead), err)
		}
	}
	auditor := e.key(keys.RoleAuditor, "")
	var page struct {
		Data       []stream.DeadLetter `json:"data"`
		NextCursor string              `json:"next_cursor"`
	}
	e.must(http.StatusOK, req{Method: "GET", Path: "/v1/ingest/dead-letters?limit=2", Key: auditor}).Decode(t, &page)
	if len(page.Data) != 2 || page.NextCursor == "" {
		t.Fatalf("first page: %d dead letters, cursor %q; want 2 and a cursor", len(page.Data), page.NextCursor)
	}
	seen := map[string]bool{}
	for _, d := range page.Data {
		seen[d.Position] = true
		if d.Source != "kafka" || d.Destination != "trades" || d.Code != folio.EINVALID || !strings.Contains(d.Reason, "malformed JSON") ||
			d.Payload != fmt.Sprintf(`{"id":"d-%s","user_id":`, strings.TrimPrefix(d.Position, "0/")) || d.Truncated {
			t.Errorf("dead letter = %+v", d)
		}
	}
	var rest struct {
		Data       []stream.DeadLetter `json:"data"`
		NextCursor string              `json:"next_cursor"`
	}
	e.must(http.StatusOK, req{Method: "GET", Path: "/v1/ingest/dead-letters?limit=2&cursor=" + page.NextCursor, Key: auditor}).Decode(t, &rest)
	if len(rest.Data) != 1 || rest.NextCursor != "" || seen[rest.Data[0].Position] {
		t.Fatalf("second page: %+v, want the third dead letter and no cursor", rest)
	}
	csv := e.must(http.StatusOK, req{Method: "GET", Path: "/v1/ingest/dead-letters?format=csv", Key: auditor})
	lines := strings.Split(strings.TrimSpace(string(csv.Body)), "\r\n")
	if len(lines) != 4 || lines[0] != "id,at,source,destination,position,trade_id,code,reason,payload,truncated" {
		t.Errorf("CSV = %q, want a header and 3 rows", lines)
	}

	for _, c := range []struct {
		name   string
		path   string
		key    string
		status int
	}{
		{"bad cursor", "/v1/ingest/dead-letters?cursor=" + encodeCursor("dead", "x|y"), auditor, 400},
		{"cursor of another list", "/v1/ingest/dead-letters?cursor=" + encodeCursor("audit", "2026-01-01T00:00:00Z|00000000-0000-4000-8000-000000000000"), auditor, 400},
		{"garbage cursor", "/v1/ingest/dead-letters?cursor=%%%", auditor, 400},
		{"limit 0", "/v1/ingest/dead-letters?limit=0", auditor, 400},
		{"limit too big", "/v1/ingest/dead-letters?limit=1001", auditor, 400},
		{"limit not a number", "/v1/ingest/dead-letters?limit=x", auditor, 400},
		{"format xml", "/v1/ingest/dead-letters?format=xml", auditor, 400},
		{"unknown parameter", "/v1/ingest/dead-letters?source=kafka", auditor, 400},
		{"limit twice", "/v1/ingest/dead-letters?limit=1&limit=2", auditor, 400},
		{"NUL in a parameter", "/v1/ingest/dead-letters?cursor=%00", auditor, 400},
		{"no key", "/v1/ingest/dead-letters", "", 401},
		{"poster key", "/v1/ingest/dead-letters", e.key(keys.RolePoster, ""), 403},
		{"affiliate key", "/v1/ingest/dead-letters", e.key(keys.RoleAffiliate, "alice"), 403},
		{"POST", "/v1/ingest/dead-letters", auditor, 405},
	} {
		method := "GET"
		if c.name == "POST" {
			method = "POST"
		}
		res := e.do(req{Method: method, Path: c.path, Key: c.key})
		if res.Status != c.status || !strings.HasPrefix(res.Header.Get("Content-Type"), "application/problem+json") {
			t.Errorf("%s: %s %s = %d %s, want %d problem+json\n%s", c.name, method, c.path, res.Status, res.Header.Get("Content-Type"), c.status, res.Body)
		}
	}
	var n int
	if err := e.db.Admin.QueryRow(context.Background(), `SELECT count(*) FROM ingest_dead_letters`).Scan(&n); err != nil || n != 3 {
		t.Errorf("%d dead letters recorded, %v; want 3 (nothing written by the route)", n, err)
	}
}
