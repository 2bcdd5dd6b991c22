package api

import (
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"
	"gopkg.in/yaml.v3"

	"github.com/folioledger/folio"
	"github.com/folioledger/folio/keys"
)

// walkRoutes returns chi's route table (method, pattern), sorted.
func walkRoutes(t *testing.T, s *Server) []routeKey {
	t.Helper()
	routes, ok := s.Handler().(chi.Routes)
	if !ok {
		t.Fatalf("Handler() is a %T, not a chi router", s.Handler())
	}
	var out []routeKey
	err := chi.Walk(routes, func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		out = append(out, routeKey{method, route})
		return nil
	})
	if err != nil {
		t.Fatalf("chi.Walk: %v", err)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].pattern != out[j].pattern {
			return out[i].pattern < out[j].pattern
		}
		return out[i].method < out[j].method
	})
	return out
}

// fillPath replaces a pattern's parameters: {account} by an account of
// holder, {id} by holder itself on routes scoped by it, any other by a
// well-formed UUID that names nothing.
func fillPath(pattern string, a access, holder string) string {
	p := strings.ReplaceAll(pattern, "{account}", "208:USDT:"+holder)
	if a == accessReadOwnID || a == accessOwnID {
		p = strings.ReplaceAll(p, "{id}", holder)
	}
	for strings.Contains(p, "{") {
		i, j := strings.Index(p, "{"), strings.Index(p, "}")
		p = p[:i] + "00000000-0000-4000-8000-000000000000" + p[j+1:]
	}
	return p
}

// TestEveryRouteRequiresAuth walks chi's route table and proves that every
// /v1 route has an access declaration and refuses a missing, malformed,
// unknown or revoked key (401), every role it does not admit (403), and an
// affiliate key of another holder on holder-scoped routes (403); and that
// the roles it admits get past authorization.
func TestEveryRouteRequiresAuth(t *testing.T) {
	e := newEnv(t)
	e.currencies()
	revoked := e.key(keys.RoleAuditor, "")
	list, err := keys.List(t.Context(), e.app)
	if err != nil || len(list) != 1 {
		t.Fatalf("keys.List = %v, %v", list, err)
	}
	if err := keys.Revoke(t.Context(), e.app, list[0].ID, "test"); err != nil {
		t.Fatalf("keys.Revoke: %v", err)
	}
	keyOf := map[string]string{
		keys.RoleAdmin:     e.key(keys.RoleAdmin, ""),
		keys.RoleAuditor:   e.key(keys.RoleAuditor, ""),
		keys.RolePoster:    e.key(keys.RolePoster, ""),
		keys.RoleAffiliate: e.key(keys.RoleAffiliate, "alice"),
	}
	routes := walkRoutes(t, e.srv)
	walked := map[routeKey]bool{}
	v1 := 0
	for _, rk := range routes {
		walked[rk] = true
		a, declared := e.srv.access[rk]
		if !declared {
			t.Errorf("%s %s has no access declaration: mount it with Server.route", rk.method, rk.pattern)
			continue
		}
		path := fillPath(rk.pattern, a, "alice")
		if !strings.HasPrefix(rk.pattern, "/v1/") {
			if a != accessPublic {
				t.Errorf("%s %s is outside /v1 but declared %v", rk.method, rk.pattern, a)
			}
			if res := e.do(req{Method: rk.method, Path: path}); res.Status == http.StatusUnauthorized || res.Status == http.StatusForbidden {
				t.Errorf("public %s %s without a key = %d", rk.method, rk.pattern, res.Status)
			}
			continue
		}
		v1++
		if a == accessPublic {
			t.Errorf("%s %s is a /v1 route declared public", rk.method, rk.pattern)
			continue
		}
		for name, q := range map[string]req{
			"no key":         {},
			"not bearer":     {Header: map[string]string{"Authorization": "Basic " + bootstrapKey}},
			"empty bearer":   {Header: map[string]string{"Authorization": "Bearer "}},
			"unknown key":    {Key: "folio_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"},
			"not a key":      {Key: "hunter2"},
			"revoked key":    {Key: revoked},
			"admin key typo": {Key: bootstrapKey + "x"},
		} {
			q.Method, q.Path = rk.method, path
			res := e.do(q)
			if res.Status != http.StatusUnauthorized || problemCode(t, res) != folio.EUNAUTHORIZED {
				t.Errorf("%s %s with %s = %d %s, want 401 unauthorized", rk.method, rk.pattern, name, res.Status, res.Body)
			}
			if !strings.HasPrefix(res.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("%s %s with %s: WWW-Authenticate = %q", rk.method, rk.pattern, name, res.Header.Get("WWW-Authenticate"))
			}
		}
		for _, role := range []string{keys.RoleAdmin, keys.RoleAuditor, keys.RolePoster, keys.RoleAffiliate} {
			res := e.do(req{Method: rk.method, Path: path, Key: keyOf[role]})
			admitted := slices.Contains(a.roles(), role)
			switch {
			case !admitted && (res.Status != http.StatusForbidden || problemCode(t, res) != folio.EFORBIDDEN):
				t.Errorf("%s %s with a %s key = %d %s, want 403 forbidden", rk.method, rk.pattern, role, res.Status, res.Body)
			case admitted && a == accessReferrer && role == keys.RoleAffiliate:
				// Past the guard, the handler admits the direct referrer of
				// {id} only (TestAffiliateSelfService): the filled id names
				// no referee of alice's, so 403 here is the handler's.
				if res.Status == http.StatusUnauthorized {
					t.Errorf("%s %s with an affiliate key = %d %s, want it past the guard", rk.method, rk.pattern, res.Status, res.Body)
				}
			case admitted && (res.Status == http.StatusUnauthorized || res.Status == http.StatusForbidden):
				t.Errorf("%s %s with a %s key = %d %s, want it admitted", rk.method, rk.pattern, role, res.Status, res.Body)
			}
		}
		if a == accessReadOwn {
			for _, other := range []string{"208:USDT:bob", "605:USDT", "208:USDT:alicex", "208:USDT", "nonsense"} {
				p := strings.ReplaceAll(rk.pattern, "{account}", other)
				res := e.do(req{Method: rk.method, Path: p, Key: keyOf[keys.RoleAffiliate]})
				if res.Status != http.StatusForbidden {
					t.Errorf("%s %s with alice's affiliate key = %d %s, want 403", rk.method, p, res.Status, res.Body)
				}
			}
			// Percent-encoded colons name the same account.
			p := strings.ReplaceAll(rk.pattern, "{account}", "208%3AUSDT%3Aalice")
			if res := e.do(req{Method: rk.method, Path: p, Key: keyOf[keys.RoleAffiliate]}); res.Status != http.StatusOK {
				t.Errorf("%s %s with alice's affiliate key = %d %s, want 200", rk.method, p, res.Status, res.Body)
			}
		}
		if a == accessReadOwnID || a == accessOwnID {
			// Routes scoped by {id}: another holder's id, or one that only
			// looks like alice's, is refused before the handler runs.
			for _, other := range []string{"bob", "alicex", "Alice", "alic", "%61lice-", "00000000-0000-4000-8000-000000000000"} {
				p := strings.ReplaceAll(rk.pattern, "{id}", other)
				res := e.do(req{Method: rk.method, Path: p, Key: keyOf[keys.RoleAffiliate]})
				if res.Status != http.StatusForbidden || problemCode(t, res) != folio.EFORBIDDEN {
					t.Errorf("%s %s with alice's affiliate key = %d %s, want 403 forbidden", rk.method, p, res.Status, res.Body)
				}
			}
			// A percent-encoded id names the same holder.
			p := strings.ReplaceAll(rk.pattern, "{id}", "%61lice")
			if res := e.do(req{Method: rk.method, Path: p, Key: keyOf[keys.RoleAffiliate]}); res.Status == http.StatusForbidden || res.Status == http.StatusUnauthorized {
				t.Errorf("%s %s with alice's affiliate key = %d %s, want it admitted", rk.method, p, res.Status, res.Body)
			}
		}
	}
	declared := 0
	for _, ri := range e.srv.routes {
		if strings.HasPrefix(ri.Pattern, "/v1/") {
			declared++
		}
	}
	if v1 == 0 || v1 != declared {
		t.Errorf("walked %d /v1 routes, %d declared", v1, declared)
	}
	for _, ri := range e.srv.routes {
		if !walked[routeKey{ri.Method, ri.Pattern}] {
			t.Errorf("declared route %s %s is not in chi's table", ri.Method, ri.Pattern)
		}
	}
}

// TestUndeclaredRouteIsRefused proves the guard denies by default: a
// handler mounted in the /v1 group without Server.route answers 500 and
// never runs.
func TestUndeclaredRouteIsRefused(t *testing.T) {
	e := newEnv(t)
	ran := false
	e.srv.router.With(e.srv.guard).Get("/v1/undeclared", func(w http.ResponseWriter, r *http.Request) { ran = true })
	res := e.do(req{Method: "GET", Path: "/v1/undeclared", Key: bootstrapKey})
	if ran || res.Status != http.StatusInternalServerError {
		t.Fatalf("undeclared route = %d (handler ran: %v), want 500 without running", res.Status, ran)
	}
}

// openAPIDoc is the part of openapi.yaml the router is checked against.
type openAPIDoc struct {
	OpenAPI string                                 `yaml:"openapi"`
	Paths   map[string]map[string]openAPIOperation `yaml:"paths"`
}

type openAPIOperation struct {
	OperationID string         `yaml:"operationId"`
	Security    *[]any         `yaml:"security"`
	Roles       []string       `yaml:"x-folio-roles"`
	Responses   map[string]any `yaml:"responses"`
}

var httpMethods = map[string]bool{"get": true, "put": true, "post": true, "delete": true, "patch": true, "head": true, "options": true, "trace": true}

// TestOpenAPIMatchesRouter asserts that openapi.yaml describes exactly the
// router's (method, path) pairs, with the roles the route table admits, and
// that the served document is the embedded one.
func TestOpenAPIMatchesRouter(t *testing.T) {
	e := newEnv(t)
	var doc openAPIDoc
	if err := yaml.Unmarshal(openAPISpec, &doc); err != nil {
		t.Fatalf("openapi.yaml: %v", err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi = %q, want 3.1.0", doc.OpenAPI)
	}
	documented := map[routeKey]openAPIOperation{}
	ids := map[string]bool{}
	for path, item := range doc.Paths {
		for method, op := range item {
			if !httpMethods[method] {
				continue
			}
			documented[routeKey{strings.ToUpper(method), path}] = op
			if op.OperationID == "" || ids[op.OperationID] {
				t.Errorf("%s %s: operationId %q missing or repeated", method, path, op.OperationID)
			}
			ids[op.OperationID] = true
			if len(op.Responses) == 0 {
				t.Errorf("%s %s documents no responses", method, path)
			}
		}
	}
	routed := map[routeKey]bool{}
	for _, rk := range walkRoutes(t, e.srv) {
		routed[rk] = true
		op, ok := documented[rk]
		if !ok {
			t.Errorf("%s %s is routed but not in openapi.yaml", rk.method, rk.pattern)
			continue
		}
		a := e.srv.access[rk]
		if a == accessPublic {
			if op.Security == nil || len(*op.Security) != 0 {
				t.Errorf("%s %s is public but openapi.yaml does not say security: []", rk.method, rk.pattern)
			}
			continue
		}
		if op.Security != nil {
			t.Errorf("%s %s overrides security in openapi.yaml; it needs the bearer key", rk.method, rk.pattern)
		}
		if !slices.Equal(op.Roles, a.roles()) {
			t.Errorf("%s %s: x-folio-roles = %v, the router admits %v", rk.method, rk.pattern, op.Roles, a.roles())
		}
	}
	for rk := range documented {
		if !routed[rk] {
			t.Errorf("%s %s is in openapi.yaml but not routed", rk.method, rk.pattern)
		}
	}
	res := e.must(http.StatusOK, req{Method: "GET", Path: "/openapi.yaml"})
	if string(res.Body) != string(openAPISpec) || !strings.HasPrefix(res.Header.Get("Content-Type"), "application/yaml") {
		t.Errorf("GET /openapi.yaml served %d bytes as %q", len(res.Body), res.Header.Get("Content-Type"))
	}
}

// problemCode checks that res is a problem document and returns its code.
func problemCode(t *testing.T, res *response) string {
	t.Helper()
	if ct := res.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("problem Content-Type = %q, want application/problem+json (status %d)", ct, res.Status)
		return ""
	}
	var p problem
	res.Decode(t, &p)
	if p.Status != res.Status || p.Type != problemTypeBase+p.Code || p.Title == "" || p.Detail == "" {
		t.Errorf("malformed problem for status %d: %s", res.Status, res.Body)
	}
	return p.Code
}
