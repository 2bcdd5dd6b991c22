package api

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/folioledger/folio"
)

// defaultMaxBody is the request body limit when Config.MaxBodyBytes is 0.
const defaultMaxBody = 1 << 20

// amountText is a decimal amount as sent by clients: a JSON string. Having a
// type of its own lets the decoder tell "amount given as a number" apart from
// other type errors and answer invalid_amount.
type amountText string

var amountType = reflect.TypeOf(amountText(""))

// decodeJSON reads a JSON object from the request body into dst. It requires
// Content-Type application/json, reads at most the server's body limit
// (payload_too_large beyond it), rejects unknown fields naming them, type
// mismatches naming the field, and anything after the object. With
// allowEmpty an empty body leaves dst unchanged.
func (s *Server) decodeJSON(w http.ResponseWriter, r *http.Request, dst any, allowEmpty bool) error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.maxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return folio.Errorf(folio.ETOOLARGE, "the request body is larger than %d bytes", tooBig.Limit)
		}
		return folio.Errorf(folio.EINVALID, "the request body could not be read")
	}
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		if allowEmpty {
			return nil
		}
		return folio.Errorf(folio.EINVALID, "the request body is empty; send a JSON object")
	}
	if ct := r.Header.Get("Content-Type"); !isJSON(ct) {
		return folio.Errorf(codeUnsupportedMedia, "Content-Type must be application/json, not %q", truncate(ct, 64))
	}
	if trimmed[0] != '{' {
		return folio.Errorf(folio.EINVALID, "the request body must be a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return decodeError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return folio.Errorf(folio.EINVALID, "unexpected data after the JSON object")
	}
	return nil
}

func isJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && (mt == "application/json" || strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json"))
}

// decodeError turns an encoding/json error into an invalid_request (or
// invalid_amount) error that names the field and says what was expected.
func decodeError(err error) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return folio.Errorf(folio.EINVALID, "malformed JSON at byte %d: %s", syntax.Offset, strings.TrimPrefix(syntax.Error(), "json: "))
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return folio.Errorf(folio.EINVALID, "malformed JSON: the body ends in the middle of a value")
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			return folio.Errorf(folio.EINVALID, "the request body must be a JSON object")
		}
		if typ.Type == amountType {
			return &folio.Error{Code: folio.EAMOUNT, Fields: []string{field},
				Message: fmt.Sprintf("%s must be a JSON string holding a decimal, such as \"12.50\", not a %s", field, typ.Value)}
		}
		return &folio.Error{Code: folio.EINVALID, Fields: []string{field},
			Message: fmt.Sprintf("%s must be %s, not %s", field, describeType(typ.Type), typ.Value)}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.TrimPrefix(err.Error(), "json: unknown field ")
		return folio.Errorf(folio.EINVALID, "unknown field %s", truncate(name, 80))
	}
	return folio.Errorf(folio.EINVALID, "malformed JSON")
}

func describeType(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Struct, reflect.Map:
		return "an object"
	}
	return "a " + t.Kind().String()
}

// truncate shortens s for messages.
func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// parseTime parses an RFC 3339 time, or a date (YYYY-MM-DD, midnight UTC),
// naming the field in the error.
func parseTime(field, s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	return time.Time{}, &folio.Error{Code: folio.EINVALID, Fields: []string{field},
		Message: fmt.Sprintf("%s %q is not an RFC 3339 time such as 2026-01-02T15:04:05Z (or a date such as 2026-01-02)", field, truncate(s, 64))}
}

// optionalTime parses a time field that may be empty.
func optionalTime(field, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	return parseTime(field, s)
}

// Pagination limits (SPEC §5).
const (
	defaultLimit = 100
	maxLimit     = 1000
)

// parseLimit reads ?limit=.
func parseLimit(q url.Values) (int, error) {
	s := q.Get("limit")
	if s == "" {
		return defaultLimit, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > maxLimit {
		return 0, &folio.Error{Code: folio.EINVALID, Fields: []string{"limit"},
			Message: fmt.Sprintf("limit %q must be an integer from 1 to %d", truncate(s, 32), maxLimit)}
	}
	return n, nil
}

// Cursors are opaque to clients: base64url of a tagged position, so that a
// cursor of one list is refused by another.
func encodeCursor(tag, pos string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(tag + ":" + pos))
}

// decodeCursor returns the position of a cursor made by encodeCursor with
// the same tag, or invalid_request "bad cursor".
func decodeCursor(tag, cursor string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(cursor)
	pos, ok := strings.CutPrefix(string(b), tag+":")
	if err != nil || !ok || pos == "" {
		return "", &folio.Error{Code: folio.EINVALID, Fields: []string{"cursor"}, Message: "bad cursor: pass back a next_cursor value unchanged"}
	}
	return pos, nil
}

// wantCSV reports whether the client asked for CSV (?format=csv or an
// Accept header preferring text/csv); ?format= other than json/csv is an
// error.
func wantCSV(r *http.Request) (bool, error) {
	switch f := r.URL.Query().Get("format"); f {
	case "csv":
		return true, nil
	case "json":
		return false, nil
	case "":
	default:
		return false, &folio.Error{Code: folio.EINVALID, Fields: []string{"format"}, Message: fmt.Sprintf("format %q must be json or csv", truncate(f, 32))}
	}
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		switch mt {
		case "text/csv":
			return true, nil
		case "application/json", "*/*":
			return false, nil
		}
	}
	return false, nil
}

// writeBody writes v as JSON with the given content type and status.
func writeBody(w http.ResponseWriter, contentType string, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		http.Error(w, `{"code":"internal"}`, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// writeJSON writes v as application/json.
func writeJSON(w http.ResponseWriter, status int, v any) {
	writeBody(w, "application/json", status, v)
}
