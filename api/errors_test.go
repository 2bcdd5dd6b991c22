package api

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/folioledger/folio"
)

// TestUnavailableProblem: a connection-level database failure reaching the
// HTTP layer by any path (here a plain pool read, untranslated) is 503
// unavailable with Retry-After, never 500, and its text is not shown; a
// per-item one is unavailable too, not internal.
func TestUnavailableProblem(t *testing.T) {
	for _, err := range []error{
		fmt.Errorf("read balance: %w", &pgconn.PgError{Code: "57P01", Message: "terminating connection due to administrator command"}),
		fmt.Errorf("read balance: %w", &pgconn.PgError{Code: "08006", Message: "secret"}),
		fmt.Errorf("read balance: %w", io.ErrUnexpectedEOF),
	} {
		s := &Server{log: slog.New(slog.NewTextHandler(io.Discard, nil))}
		w := httptest.NewRecorder()
		s.fail(w, httptest.NewRequest("GET", "/v1/accounts/x/balance", nil), err)
		if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" {
			t.Errorf("fail(%v) = %d, Retry-After %q; want 503 with Retry-After", err, w.Code, w.Header().Get("Retry-After"))
		}
		if body := w.Body.String(); !strings.Contains(body, `"code":"unavailable"`) || strings.Contains(body, "secret") {
			t.Errorf("fail(%v) body = %s", err, body)
		}
		if it := newItemError(err); it.Code != folio.EUNAVAILABLE {
			t.Errorf("newItemError(%v) = %+v, want code %q", err, it, folio.EUNAVAILABLE)
		}
	}
	if p := newProblem(httptest.NewRequest("GET", "/", nil), errors.New("boom")); p.Status != http.StatusInternalServerError {
		t.Errorf("newProblem(boom).Status = %d, want 500", p.Status)
	}
}
