package api

import (
	"context"
	"net/http"

	"github.com/folioledger/folio"
	"github.com/folioledger/folio/keys"
)

// Identify authenticates key as every request does (FOLIO_ADMIN_KEY, or a
// stored key that is not revoked) and returns what is known of it: id,
// role, holder, note and the person it counts as, never the secret. The
// bootstrap key is keys.Key{ID: "bootstrap", Role: "admin", Note:
// "FOLIO_ADMIN_KEY", PersonID: "bootstrap"}. It is how the web console
// learns who signed in. Errors: unauthorized.
func (s *Server) Identify(ctx context.Context, key string) (keys.Key, error) {
	r, err := http.NewRequestWithContext(ctx, http.MethodGet, "/", nil)
	if err != nil {
		return keys.Key{}, err
	}
	r.Header.Set("Authorization", "Bearer "+key)
	p, err := s.authenticate(r)
	if err != nil {
		return keys.Key{}, err
	}
	if p.ID == actorBootstrap {
		return keys.Key{ID: actorBootstrap, Role: keys.RoleAdmin, Note: "FOLIO_ADMIN_KEY", PersonID: actorBootstrap}, nil
	}
	k, err := keys.Get(ctx, s.db.Pool, p.ID)
	if folio.ErrorCode(err) == folio.ENOTFOUND {
		return keys.Key{}, folio.Errorf(folio.EUNAUTHORIZED, "the API key is not valid")
	}
	return k, err
}
