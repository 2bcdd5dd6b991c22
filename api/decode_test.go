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
	for code, st := range problemStatus {
		if problemTitles[code] == "" || st < 400 {
			t.Errorf("code %s: status %d, title %q", code, st, problemTitles[code])
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
