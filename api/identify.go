package api

import (
	"context"
	"errors"
	"net/http"

	"github.com/jackc/pgx/v5"

	"github.com/folioledger/folio"
)

// Identify authenticates key as every request does (FOLIO_ADMIN_KEY, or a
// stored key that is not revoked) and returns what is known of it: id,
// role, holder, note and the person it counts as, never the secret. The
// bootstrap key is KeyInfo{ID: "bootstrap", Role: "admin", Note:
// "FOLIO_ADMIN_KEY", PersonID: "bootstrap"}. It is
// how the web console learns who signed in. Errors: unauthorized.
func (s *Server) Identify(ctx context.Context, key string) (KeyInfo, error) {
	r, err := http.NewRequestWithContext(ctx, http.MethodGet, "/", nil)
	if err != nil {
		return KeyInfo{}, err
	}
	r.Header.Set("Authorization", "Bearer "+key)
	p, err := s.authenticate(r)
	if err != nil {
		return KeyInfo{}, err
	}
	if p.ID == actorBootstrap {
		return KeyInfo{ID: actorBootstrap, Role: RoleAdmin, Note: "FOLIO_ADMIN_KEY", PersonID: actorBootstrap}, nil
	}
	k := KeyInfo{ID: p.ID}
	err = s.db.Pool.QueryRow(ctx, `SELECT role, holder, note, person, person_id::text, created_at FROM api_keys WHERE id = $1`, p.ID).
		Scan(&k.Role, &k.Holder, &k.Note, &k.Person, &k.PersonID, &k.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return KeyInfo{}, folio.Errorf(folio.EUNAUTHORIZED, "the API key is not valid")
	}
	k.CreatedAt = k.CreatedAt.UTC()
	return k, err
}
