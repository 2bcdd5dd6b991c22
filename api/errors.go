package api

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/folioledger/folio"
	"github.com/folioledger/folio/schema"
)

// Codes the HTTP layer adds to folio's vocabulary for transport-level
// refusals that no domain function can produce.
const (
	codeMethodNotAllowed = "method_not_allowed"
	codeUnsupportedMedia = "unsupported_media_type"
)

// problemKind is what the HTTP layer answers for an error code: the status
// and the short human summary (RFC 9457 title).
type problemKind struct {
	Status int
	Title  string
}

// problems is the one table mapping error codes to HTTP statuses and
// titles. A code missing from it is treated as internal.
var problems = map[string]problemKind{
	folio.EINVALID:       {http.StatusBadRequest, "Invalid request"},
	folio.EAMOUNT:        {http.StatusBadRequest, "Invalid amount"},
	folio.EUNBALANCED:    {http.StatusBadRequest, "Unbalanced entry"},
	folio.EACCOUNT:       {http.StatusBadRequest, "Unknown account"},
	folio.ECURRENCY:      {http.StatusBadRequest, "Unknown currency"},
	folio.ESELFREFERRAL:  {http.StatusBadRequest, "Self-referral"},
	folio.EUNAUTHORIZED:  {http.StatusUnauthorized, "Unauthorized"},
	folio.EFORBIDDEN:     {http.StatusForbidden, "Forbidden"},
	folio.ENOTFOUND:      {http.StatusNotFound, "Not found"},
	codeMethodNotAllowed: {http.StatusMethodNotAllowed, "Method not allowed"},
	folio.EIDEMPOTENCY:   {http.StatusConflict, "Idempotency conflict"},
	folio.EREVERSED:      {http.StatusConflict, "Already reversed"},
	folio.ECYCLE:         {http.StatusConflict, "Cycle"},
	folio.ECONFLICT:      {http.StatusConflict, "Conflict"},
	folio.ETOOLARGE:      {http.StatusRequestEntityTooLarge, "Payload too large"},
	codeUnsupportedMedia: {http.StatusUnsupportedMediaType, "Unsupported media type"},
	folio.EINSUFFICIENT:  {http.StatusUnprocessableEntity, "Insufficient balance"},
	folio.EINTERNAL:      {http.StatusInternalServerError, "Internal error"},
	folio.EUNAVAILABLE:   {http.StatusServiceUnavailable, "Service unavailable"},
}

// problemTypeBase prefixes the code to form a problem's type URI.
const problemTypeBase = "urn:folio:problem:"

// problem is an RFC 9457 problem document with folio's code. Results is set
// only by rejected atomic batches.
type problem struct {
	Type     string       `json:"type"`
	Title    string       `json:"title"`
	Status   int          `json:"status"`
	Detail   string       `json:"detail"`
	Code     string       `json:"code"`
	Instance string       `json:"instance,omitempty"`
	Fields   []string     `json:"fields,omitempty"`
	Results  []itemResult `json:"results,omitempty"`
}

// statusOf returns the HTTP status of an error code.
func statusOf(code string) int {
	if k, ok := problems[code]; ok {
		return k.Status
	}
	return http.StatusInternalServerError
}

// newProblem describes err for a client. Internal errors get a generic
// detail; their text is only logged. A connection-level database failure
// from any path (the runner already translates its own; plain pool reads
// do not) is 503 unavailable, never 500: the request may be resent as is.
func newProblem(r *http.Request, err error) problem {
	err = schema.Translate(err)
	code := folio.ErrorCode(err)
	k, ok := problems[code]
	if !ok {
		code, k = folio.EINTERNAL, problems[folio.EINTERNAL]
	}
	p := problem{
		Type:     problemTypeBase + code,
		Title:    k.Title,
		Status:   k.Status,
		Code:     code,
		Detail:   "internal error",
		Instance: r.URL.Path,
	}
	var fe *folio.Error
	if code != folio.EINTERNAL && errors.As(err, &fe) {
		p.Detail = fe.Message
		p.Fields = fe.Fields
	}
	return p
}

// fail writes err as a problem and logs it when it is internal, or a
// database outage (at warning level).
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	p := newProblem(r, err)
	switch {
	case p.Code == folio.EINTERNAL:
		s.log.LogAttrs(r.Context(), slog.LevelError, "internal error",
			slog.String("request_id", requestIDFrom(r.Context())),
			slog.String("route", routePattern(r)),
			slog.String("error", err.Error()))
	case schema.IsUnavailable(err):
		s.log.LogAttrs(r.Context(), slog.LevelWarn, "database unavailable",
			slog.String("request_id", requestIDFrom(r.Context())),
			slog.String("route", routePattern(r)),
			slog.String("error", err.Error()))
	}
	s.writeProblem(w, p)
}

func (s *Server) writeProblem(w http.ResponseWriter, p problem) {
	if p.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="folio"`)
	}
	if p.Status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	writeBody(w, "application/problem+json", p.Status, p)
}

// itemError is a per-item error in a batch result.
type itemError struct {
	Code   string   `json:"code"`
	Detail string   `json:"detail"`
	Fields []string `json:"fields,omitempty"`
}

// newItemError describes a per-item error (internal ones generically; a
// connection-level failure as unavailable, which a client retries rather
// than drops).
func newItemError(err error) *itemError {
	err = schema.Translate(err)
	code := folio.ErrorCode(err)
	if _, ok := problems[code]; !ok || code == folio.EINTERNAL {
		return &itemError{Code: folio.EINTERNAL, Detail: "internal error"}
	}
	var fe *folio.Error
	errors.As(err, &fe)
	return &itemError{Code: code, Detail: fe.Message, Fields: fe.Fields}
}
