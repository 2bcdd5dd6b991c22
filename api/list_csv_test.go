package api

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/folioledger/folio/keys"
)

// TestListsAnswerCSV: every list answers text/csv to ?format=csv and to
// Accept: text/csv, with a header row and one row per JSON item (one per
// posting for entries) whose cells are the item's fields by column name;
// the next page is in a Link header; an affiliate key's CSV is masked like
// its JSON.
func TestListsAnswerCSV(t *testing.T) {
	f := newPayoutFixture(t)
	me := maskingTree(f)
	affiliateKey := f.newKey(keys.RoleAffiliate, me).secret
	for _, tc := range []struct {
		key, path string
		nested    string // a nested object ("milestones") or list ("postings") of each item
		paged     bool   // the fixture has more than limit=2 items
	}{
		{f.auditor.secret, "/v1/affiliates/" + me + "/accruals", "", true},
		{affiliateKey, "/v1/affiliates/" + me + "/accruals", "", true},
		{f.auditor.secret, "/v1/affiliates/" + me + "/codes", "", false},
		{affiliateKey, "/v1/affiliates/" + me + "/codes", "", false},
		{f.auditor.secret, "/v1/affiliates/" + me + "/referees", "milestones", false},
		{affiliateKey, "/v1/affiliates/" + me + "/referees", "milestones", false},
		{affiliateKey, "/v1/affiliates/" + me + "/referrals", "", false},
		{f.auditor.secret, "/v1/entries", "postings", true},
		{f.auditor.secret, "/v1/audit/log", "", true},
		{f.auditor.secret, "/v1/payouts/batches", "lines", false},
		{f.auditor.secret, "/v1/affiliates/" + me + "/referrals?level=all&order=commission", "", false},
		{f.auditor.secret, "/v1/chart", "", false},
		{f.auditor.secret, "/v1/currencies", "", false},
		{f.auditor.secret, "/v1/programs", "", false},
		{f.admin1.secret, "/v1/keys", "", false},
	} {
		t.Run(strings.ReplaceAll(tc.path, "/", "_")+"_"+tc.key[:8], func(t *testing.T) {
			path := tc.path
			if tc.paged {
				path += "?limit=2"
			}
			sep := "?"
			if strings.Contains(path, "?") {
				sep = "&"
			}
			var page struct {
				Data       []map[string]json.RawMessage `json:"data"`
				NextCursor string                       `json:"next_cursor"`
			}
			if err := json.Unmarshal(f.must(http.StatusOK, req{Method: "GET", Path: path, Key: tc.key}).Body, &page); err != nil {
				t.Fatal(err)
			}
			if len(page.Data) == 0 {
				t.Fatalf("GET %s: no items: the fixture no longer exercises it", path)
			}
			if tc.paged && page.NextCursor == "" {
				t.Fatalf("GET %s: no next_cursor: the fixture no longer pages", path)
			}
			for _, q := range []req{
				{Method: "GET", Path: path + sep + "format=csv", Key: tc.key},
				{Method: "GET", Path: path, Key: tc.key, Header: map[string]string{"Accept": "text/csv"}},
			} {
				res := f.must(http.StatusOK, q)
				if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") {
					t.Fatalf("GET %s (Accept %q): Content-Type = %q\n%s", q.Path, q.Header["Accept"], ct, res.Body)
				}
				rows, err := csv.NewReader(bytes.NewReader(res.Body)).ReadAll()
				if err != nil || len(rows) == 0 {
					t.Fatalf("GET %s: parse CSV: %v\n%s", q.Path, err, res.Body)
				}
				want := [][]string{}
				for _, item := range page.Data {
					want = append(want, csvWant(t, rows[0], item, tc.nested)...)
				}
				if tc.nested == "lines" {
					// Batches: check the batch's own columns and the lines' ids only.
					if len(rows)-1 != len(want) {
						t.Fatalf("GET %s: %d rows, want %d\n%s", q.Path, len(rows)-1, len(want), res.Body)
					}
					continue
				}
				if got, w := rows[1:], want; !equalRows(got, w) {
					t.Errorf("GET %s: rows\n%q\nwant (from the JSON)\n%q", q.Path, got, w)
				}
				link := res.Header.Get("Link")
				if tc.paged != (link != "") {
					t.Errorf("GET %s: Link = %q, want one iff the JSON has next_cursor", q.Path, link)
				}
				if link != "" && !strings.Contains(link, "cursor="+url.QueryEscape(page.NextCursor)) {
					t.Errorf("GET %s: Link = %q, want cursor %s", q.Path, link, page.NextCursor)
				}
			}
		})
	}
}

// csvWant is the rows one JSON item should have as CSV under header: each
// cell is the field of that name (strings unquoted, numbers and booleans
// as written, null empty, objects as their compact JSON); nested names an
// object whose fields are columns too, or a list with one row per element.
func csvWant(t *testing.T, header []string, item map[string]json.RawMessage, nested string) [][]string {
	t.Helper()
	var parts []map[string]json.RawMessage
	if raw, ok := item[nested]; ok {
		if err := json.Unmarshal(raw, &parts); err != nil {
			var obj map[string]json.RawMessage
			if err := json.Unmarshal(raw, &obj); err != nil {
				t.Fatalf("%s: %v", nested, err)
			}
			parts = []map[string]json.RawMessage{obj}
		}
	} else {
		parts = []map[string]json.RawMessage{{}}
	}
	var rows [][]string
	for _, part := range parts {
		row := make([]string, len(header))
		for i, col := range header {
			raw, ok := part[col]
			if !ok {
				raw, ok = item[col]
			}
			if !ok {
				if nested == "lines" {
					continue
				}
				// Fields the JSON omits for affiliate keys (country, signup_ip…).
				raw = json.RawMessage("null")
			}
			row[i] = jsonCellText(t, raw)
		}
		rows = append(rows, row)
	}
	return rows
}

func jsonCellText(t *testing.T, raw json.RawMessage) string {
	t.Helper()
	var s string
	switch {
	case string(raw) == "null":
		return ""
	case json.Unmarshal(raw, &s) == nil:
		return s
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

func equalRows(a, b [][]string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if strings.Join(a[i], "\x00") != strings.Join(b[i], "\x00") {
			return false
		}
	}
	return true
}

// TestEveryListAnswersCSV walks the route table: every GET route that
// answers a list ({"data": [...]}) when called as an admin — {id} filled
// with an affiliate of the fixture, {account} with one of its accounts —
// takes format and answers text/csv to ?format=csv and to Accept:
// text/csv, with a header row and a row per item at least. A new list
// route without CSV fails here without touching this test.
func TestEveryListAnswersCSV(t *testing.T) {
	f := newPayoutFixture(t)
	me := maskingTree(f)
	lists := 0
	for _, rt := range f.srv.routes {
		if rt.Method != http.MethodGet || !strings.HasPrefix(rt.Pattern, "/v1/") {
			continue
		}
		path := strings.ReplaceAll(strings.ReplaceAll(rt.Pattern, "{id}", me), "{account}", "208:USDT:"+me)
		if strings.Contains(path, "{") || strings.HasPrefix(rt.Pattern, "/v1/payouts/batches/") || strings.HasPrefix(rt.Pattern, "/v1/entries/") {
			continue // single items
		}
		res := f.do(req{Method: "GET", Path: path, Key: f.admin1.secret})
		var page struct {
			Data *[]json.RawMessage `json:"data"`
		}
		if res.Status != http.StatusOK || json.Unmarshal(res.Body, &page) != nil || page.Data == nil {
			continue
		}
		lists++
		if !slices.Contains(rt.Params, "format") {
			t.Errorf("GET %s answers a list but takes no format: add CSV", rt.Pattern)
			continue
		}
		for _, q := range []req{
			{Method: "GET", Path: path + "?format=csv", Key: f.admin1.secret},
			{Method: "GET", Path: path, Key: f.admin1.secret, Header: map[string]string{"Accept": "text/csv"}},
		} {
			res := f.must(http.StatusOK, q)
			if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") {
				t.Errorf("GET %s (Accept %q): Content-Type = %q", q.Path, q.Header["Accept"], ct)
				continue
			}
			rows, err := csv.NewReader(bytes.NewReader(res.Body)).ReadAll()
			if err != nil || len(rows) == 0 || len(rows)-1 < min(len(*page.Data), 1) {
				t.Errorf("GET %s: %d CSV rows for %d items (%v)\n%s", q.Path, len(rows), len(*page.Data), err, res.Body)
			}
		}
	}
	if lists < 12 {
		t.Errorf("only %d list routes found: the walk no longer reaches them", lists)
	}
}
