package api

import (
	"context"
	_ "embed"
	"net/http"
	"time"

	"github.com/folioledger/folio"
	"github.com/folioledger/folio/schema"
)

//go:embed openapi.yaml
var openAPISpec []byte

// getHealthz answers 200 while the process serves HTTP (liveness), also
// while the database is down: restarting the process would not bring the
// database back (serve restarts its private cluster itself), and requests
// meanwhile get 503 with Retry-After. Whether the database answers is
// /readyz's question.
func (s *Server) getHealthz(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}

// getReadyz answers 200 when the database answers and every migration step
// is applied, else 503 unavailable (readiness). It waits at most 2 s. The
// ping goes through the pool, which pings a connection idle for over a
// second before handing it out and drops a dead one, so a database that
// went away answers 503 at once, not after the pool's dead connections.
func (s *Server) getReadyz(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.db.Pool.Ping(ctx); err != nil {
		return folio.Errorf(folio.EUNAVAILABLE, "the database does not answer")
	}
	n, err := schema.PendingSteps(ctx, s.db.Pool)
	if err != nil {
		return folio.Errorf(folio.EUNAVAILABLE, "the migration state cannot be read")
	}
	if n != 0 {
		return folio.Errorf(folio.EUNAVAILABLE, "%d migration steps are not applied; run folio migrate", n)
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	return nil
}

// getMetrics serves the Prometheus registry (unauthenticated, see doc.go).
func (s *Server) getMetrics(w http.ResponseWriter, r *http.Request) error {
	s.metrics.handler.ServeHTTP(w, r)
	return nil
}

// getOpenAPI serves the hand-written OpenAPI 3.1 description.
func (s *Server) getOpenAPI(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "application/yaml")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(openAPISpec)
	return nil
}
