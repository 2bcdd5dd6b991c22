package api

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/folioledger/folio"
)

// decodeEntry runs decodeJSON on body as a POST /v1/entries request body.
func decodeEntry(body, contentType string, limit int64) (entryRequest, error) {
	s := &Server{maxBody: limit}
	r := httptest.NewRequest(http.MethodPost, "/v1/entries", strings.NewReader(body))
	r.Header.Set("Content-Type", contentType)
	var q entryRequest
	err := s.decodeJSON(httptest.NewRecorder(), r, &q, false)
	return q, err
}

func TestDecodeJSON(t *testing.T) {
	for _, c := range []struct {
		body, contentType string
		code              string
		fields            string // expected Fields, comma-joined
		detail            string // substring of the message
	}{
		{`{"idempotency_key":"k","postings":[{"account":"110:USD","side":"debit","amount":"1"}]}`, "application/json", "", "", ""},
		{` {"kind":"manual"} `, "application/json; charset=utf-8", "", "", ""},
		{`{"kind":"manual"}`, "application/merge-patch+json", "", "", ""},
		{`{"postings":[{"amount":12.5}]}`, "application/json", folio.EAMOUNT, "postings.amount", "JSON string"},
		{`{"description":5}`, "application/json", folio.EINVALID, "description", "description must be a string, not number"},
		{`{"pending":"true"}`, "application/json", folio.EINVALID, "pending", "true or false"},
		{`{"postings":"x"}`, "application/json", folio.EINVALID, "postings", "an array"},
		{`{"nope":1}`, "application/json", folio.EINVALID, "", `unknown field "nope"`},
		{`{"kind":"manual"}x`, "application/json", folio.EINVALID, "", "after the JSON object"},
		{`{"kind":"manual"}{}`, "application/json", folio.EINVALID, "", "after the JSON object"},
		{`{"kind":`, "application/json", folio.EINVALID, "", "ends in the middle"},
		{`{"kind" "x"}`, "application/json", folio.EINVALID, "", "malformed JSON at byte"},
		{`"text"`, "application/json", folio.EINVALID, "", "must be a JSON object"},
		{``, "application/json", folio.EINVALID, "", "empty"},
		{`{}`, "text/plain", codeUnsupportedMedia, "", "application/json"},
		{`{}`, "", codeUnsupportedMedia, "", "application/json"},
		{`{"description":"` + strings.Repeat("x", 200) + `"}`, "application/json", folio.ETOOLARGE, "", "larger than 128 bytes"},
	} {
		_, err := decodeEntry(c.body, c.contentType, 128)
		if c.code == "" {
			if err != nil {
				t.Errorf("decode %q = %v, want success", truncate(c.body, 40), err)
			}
			continue
		}
		var fe *folio.Error
		if !errors.As(err, &fe) || fe.Code != c.code || strings.Join(fe.Fields, ",") != c.fields || !strings.Contains(fe.Message, c.detail) {
			t.Errorf("decode %q = %#v, want %s %q containing %q", truncate(c.body, 40), err, c.code, c.fields, c.detail)
		}
	}
}

// FuzzDecodeEntry checks that decoding never panics and that every refusal
// is a client error with a stable code, never an internal one.
func FuzzDecodeEntry(f *testing.F) {
	for _, s := range []string{
		`{"idempotency_key":"k","postings":[{"account":"110:USD","side":"debit","amount":"1"}]}`,
		`{"postings":[{"amount":1e400}]}`, `{"metadata":{"a":[1,2,{"b":null}]}}`, `[]`, `null`, `{"kind":"\ud800"}`,
		`{"effective_at":"2026-01-01T00:00:00Z","expires_at":17}`, "{\"description\":\"\x00\"}", `{"pending":true}}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		q, err := decodeEntry(body, "application/json", 4096)
		if err != nil {
			code := folio.ErrorCode(err)
			if st := statusOf(code); st < 400 || st >= 500 {
				t.Fatalf("decode %q = %v: status %d", body, err, st)
			}
			return
		}
		if _, err := q.toDomain("header-key"); err != nil && folio.ErrorCode(err) == folio.EINTERNAL {
			t.Fatalf("toDomain of %q = internal error %v", body, err)
		}
	})
}

// TestProblemTable checks that every code has a status and a title, and
// that an unknown error is internal with a generic detail.
func TestProblemTable(t *testing.T) {
	for code, k := range problems {
		if k.Title == "" || k.Status < 400 {
			t.Errorf("code %s: status %d, title %q", code, k.Status, k.Title)
		}
	}
	r := httptest.NewRequest("GET", "/v1/x", nil)
	p := newProblem(r, errors.New("pq: password authentication failed for user secret"))
	if p.Code != folio.EINTERNAL || p.Status != 500 || strings.Contains(p.Detail, "secret") {
		t.Fatalf("internal problem = %+v", p)
	}
	if p := newProblem(r, folio.Errorf("made_up", "x")); p.Code != folio.EINTERNAL || p.Detail != "internal error" {
		t.Fatalf("unknown code problem = %+v", p)
	}
}

// TestDecodeJSONRefusesAmbiguousBytes: what encoding/json would take
// silently — a repeated key (the last wins), invalid UTF-8 and unpaired
// surrogates (both become U+FFFD), NUL (which PostgreSQL cannot store) —
// is invalid_request naming the field, at every depth.
func TestDecodeJSONRefusesAmbiguousBytes(t *testing.T) {
	for _, c := range []struct {
		name, body string
		fields     string // expected Fields, comma-joined
		detail     string // substring of the message
	}{
		{"duplicate top-level key", `{"description":"a","description":"b"}`, "description", `description appears twice in the same object (key "description")`},
		{"duplicate key in an array element", `{"postings":[{"amount":"1"},{"amount":"1","amount":"2"}]}`, "postings[1].amount", "appears twice"},
		{"duplicate key in metadata", `{"metadata":{"ref":"a","ref":"b"}}`, "metadata.ref", "appears twice"},
		{"duplicate key deep in metadata", `{"metadata":{"a":[{"b":{"c":1,"c":1}}]}}`, "metadata.a[0].b.c", "appears twice"},
		{"duplicate key after a nested object", `{"metadata":{"x":{"y":1}},"kind":"a","metadata":{}}`, "metadata", "appears twice"},
		{"escaped NUL", `{"description":"a\u0000b"}`, "description", "NUL"},
		{"escaped NUL in metadata", `{"metadata":{"note":["ok","\u0000"]}}`, "metadata.note[1]", "NUL"},
		{"escaped NUL in a key", `{"metadata":{"a\u0000":1}}`, "metadata.a\x00", "NUL"},
		{"raw NUL byte", "{\"description\":\"a\x00b\"}", "description", "raw control byte 0x00"},
		{"raw line feed in metadata", "{\"metadata\":{\"a\":[\"x\ny\"]}}", "metadata.a[0]", "raw control byte 0x0A"},
		{"raw NUL in a key", "{\"metadata\":{\"ab\x00c\":1}}", "metadata.ab…", "raw control byte 0x00"},
		{"invalid UTF-8", "{\"description\":\"caf\xe9\"}", "description", "not valid UTF-8"},
		{"invalid UTF-8 in metadata", "{\"metadata\":{\"who\":\"\xff\xfe\"}}", "metadata.who", "not valid UTF-8"},
		{"invalid UTF-8 in a key", "{\"metadata\":{\"k\xc3\":1}}", "metadata.k\uFFFD", "not valid UTF-8"},
		{"UTF-8 encoded surrogate", "{\"description\":\"\xed\xa0\x80\"}", "description", "not valid UTF-8"},
		{"unpaired high surrogate escape", `{"description":"x\ud800y"}`, "description", "surrogate"},
		{"unpaired low surrogate escape", `{"postings":[{"account":"\udc00"}]}`, "postings[0].account", "surrogate"},
		{"high surrogate at the end", `{"description":"\uD83D"}`, "description", "surrogate"},
	} {
		_, err := decodeEntry(c.body, "application/json", 4096)
		var fe *folio.Error
		if !errors.As(err, &fe) || fe.Code != folio.EINVALID || strings.Join(fe.Fields, ",") != c.fields || !strings.Contains(fe.Message, c.detail) {
			t.Errorf("%s: decode %q = %#v, want %s %q containing %q", c.name, c.body, err, folio.EINVALID, c.fields, c.detail)
		}
	}
	// What stays accepted: the same key in different objects, escaped
	// text, a surrogate pair, U+FFFD sent as such, tab and newline.
	for _, body := range []string{
		`{"metadata":{"a":{"id":1},"b":{"id":2},"c":[{"id":1},{"id":2}]},"description":"x"}`,
		`{"description":"tab\there, line\nthere, \\u0000 as text, \"quoted\", \\\\"}`,
		`{"description":"pair \ud83d\ude00 and \uD83D\uDE00"}`,
		`{"description":"\ufffd and ` + "\uFFFD" + ` sent as such, é, 東京"}`,
	} {
		if _, err := decodeEntry(body, "application/json", 4096); err != nil {
			t.Errorf("decode %q = %v, want success", body, err)
		}
	}
}
