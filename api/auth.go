package api

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/folioledger/folio"
	"github.com/folioledger/folio/accounts"
	"github.com/folioledger/folio/keys"
)

// access is what a route requires of the caller. Every route declares one
// (see Server.route); the router refuses a /v1 request whose route has none.
type access int

const (
	// accessPublic: no key (health, readiness, metrics, the OpenAPI file).
	accessPublic access = iota + 1
	// accessAdmin: admin keys only.
	accessAdmin
	// accessRead: admin and auditor keys (read-only journal, reports, audit).
	accessRead
	// accessReadOwn: as accessRead, plus affiliate keys for accounts of
	// their own holder (the route's {account} parameter).
	accessReadOwn
	// accessPost: admin and poster keys (the exchange's feed: users,
	// lifecycle events, trades and their reversals).
	accessPost
	// accessReadOwnID: as accessRead, plus affiliate keys whose holder is
	// the route's {id} parameter (a user or affiliate id).
	accessReadOwnID
	// accessReadProof: as accessRead, plus any affiliate key; the handler
	// gives an affiliate only what is public (checkpoints, their key,
	// consistency proofs) or its own (inclusion proofs of entries that
	// post to its holder's accounts).
	accessReadProof
	// accessReadScoped: as accessRead, plus affiliate keys with a holder,
	// whose answer the handler scopes to that holder (the event feed).
	accessReadScoped
	// accessOwnID: admin keys, and affiliate keys whose holder is the
	// route's {id}: an affiliate managing its own codes and referees.
	accessOwnID
	// accessReferrer: admin keys, and affiliate keys of the direct
	// referrer of the route's {id} user. The handler checks the referrer
	// (the service reads the tree in the transaction that writes); any
	// other affiliate key is forbidden there.
	accessReferrer
)

func (a access) String() string {
	switch a {
	case accessPublic:
		return "public"
	case accessAdmin:
		return "admin"
	case accessRead:
		return "auditor"
	case accessReadOwn:
		return "auditor, affiliate (own holder)"
	case accessPost:
		return "poster"
	case accessReadOwnID:
		return "auditor, affiliate (own id)"
	case accessReadProof:
		return "auditor, affiliate (own entries)"
	case accessReadScoped:
		return "auditor, affiliate (own data)"
	case accessOwnID:
		return "admin, affiliate (own id)"
	case accessReferrer:
		return "admin, affiliate (direct referrer)"
	}
	return "undeclared"
}

// roles lists the roles an access level admits (affiliate: own holder only).
func (a access) roles() []string {
	switch a {
	case accessAdmin:
		return []string{keys.RoleAdmin}
	case accessRead:
		return []string{keys.RoleAdmin, keys.RoleAuditor}
	case accessReadOwn, accessReadOwnID, accessReadProof, accessReadScoped:
		return []string{keys.RoleAdmin, keys.RoleAuditor, keys.RoleAffiliate}
	case accessPost:
		return []string{keys.RoleAdmin, keys.RolePoster}
	case accessOwnID, accessReferrer:
		return []string{keys.RoleAdmin, keys.RoleAffiliate}
	}
	return nil
}

// principal is the authenticated caller.
type principal struct {
	ID     string // key id, or "bootstrap" for FOLIO_ADMIN_KEY
	Role   string
	Holder string // affiliate keys only
	// PersonID is the person the key counts as for four-eyes: its
	// api_keys.person_id (the root of its minting lineage), or "bootstrap".
	PersonID string
	// Person is the key's person label ("" when none was given).
	Person string
}

// actorBootstrap is the audit actor of FOLIO_ADMIN_KEY.
const actorBootstrap = "bootstrap"

type principalKey struct{}

// principalFrom returns the caller authenticated by the guard.
func principalFrom(ctx context.Context) principal {
	p, _ := ctx.Value(principalKey{}).(principal)
	return p
}

// guard authenticates and authorizes every request of the routes it wraps.
// It runs after routing, so it knows the route pattern, and looks up the
// route's declared access: a route without a declaration is refused
// (default deny), whatever its handler.
func (s *Server) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, ok := s.access[routeKey{r.Method, routePattern(r)}]
		if !ok || a == accessPublic {
			s.fail(w, r, errors.New("route "+r.Method+" "+routePattern(r)+" has no access declaration"))
			return
		}
		p, err := s.authenticate(r)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if info := requestInfoFrom(r.Context()); info != nil {
			info.keyID, info.role = p.ID, p.Role
		}
		if err := authorize(r, a, p); err != nil {
			s.fail(w, r, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), principalKey{}, p)))
	})
}

// authenticate resolves the bearer token to a principal: the bootstrap admin
// key (constant-time comparison, without a database lookup) or a stored,
// unrevoked key (keys.Lookup).
func (s *Server) authenticate(r *http.Request) (principal, error) {
	h := r.Header.Get("Authorization")
	scheme, token, ok := strings.Cut(h, " ")
	token = strings.TrimSpace(token)
	if h == "" || !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return principal{}, folio.Errorf(folio.EUNAUTHORIZED, "send an API key as Authorization: Bearer <key>")
	}
	if s.adminKeyHash != nil {
		if sum := sha256.Sum256([]byte(token)); subtle.ConstantTimeCompare(sum[:], s.adminKeyHash) == 1 {
			return principal{ID: actorBootstrap, Role: keys.RoleAdmin, PersonID: actorBootstrap}, nil
		}
	}
	k, err := keys.Lookup(r.Context(), s.db.Pool, token)
	if err != nil {
		return principal{}, err
	}
	return principal{ID: k.ID, Role: k.Role, Holder: k.Holder, PersonID: k.PersonID, Person: k.Person}, nil
}

// authorize checks the principal's role against the route's access, and an
// affiliate's holder against the {account} or {id} of holder-scoped routes.
func authorize(r *http.Request, a access, p principal) error {
	allowed := false
	for _, role := range a.roles() {
		allowed = allowed || role == p.Role
	}
	if !allowed {
		return folio.Errorf(folio.EFORBIDDEN, "a %s key may not call %s %s", p.Role, r.Method, routePattern(r))
	}
	if p.Role != keys.RoleAffiliate {
		return nil
	}
	// Only the holder-scoped levels admit affiliates.
	switch a {
	case accessReadOwn:
		k, err := accounts.ParseKey(accountParam(r))
		if err != nil || p.Holder == "" || k.Holder != p.Holder {
			return folio.Errorf(folio.EFORBIDDEN, "an affiliate key may only read accounts of its own holder")
		}
		return nil
	case accessReadProof:
		if p.Holder == "" {
			return folio.Errorf(folio.EFORBIDDEN, "an affiliate key without a holder may not read proofs")
		}
		return nil
	case accessReadOwnID:
		if p.Holder == "" || pathParam(r, "id") != p.Holder {
			return folio.Errorf(folio.EFORBIDDEN, "an affiliate key may only read its own holder's data")
		}
		return nil
	case accessReadScoped:
		if p.Holder == "" {
			return folio.Errorf(folio.EFORBIDDEN, "an affiliate key without a holder may not call %s %s", r.Method, routePattern(r))
		}
		return nil
	case accessOwnID:
		if p.Holder == "" || pathParam(r, "id") != p.Holder {
			return folio.Errorf(folio.EFORBIDDEN, "an affiliate key may only manage its own holder's codes and referees")
		}
		return nil
	case accessReferrer:
		if p.Holder == "" {
			return folio.Errorf(folio.EFORBIDDEN, "this affiliate key has no holder")
		}
		return nil
	}
	return folio.Errorf(folio.EFORBIDDEN, "an affiliate key may not call %s %s", r.Method, routePattern(r))
}

// pathParam returns a route parameter, percent-decoded.
func pathParam(r *http.Request, name string) string {
	raw := chi.URLParam(r, name)
	if s, err := url.PathUnescape(raw); err == nil {
		return s
	}
	return raw
}

// accountParam returns the route's {account}, percent-decoded (clients may
// send ':' as %3A).
func accountParam(r *http.Request) string { return pathParam(r, "account") }
