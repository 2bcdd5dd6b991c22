package console

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/folioledger/folio"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Identity is who a signed-in API key is, as the API knows it.
type Identity struct {
	KeyID  string // the key's id, "bootstrap" for FOLIO_ADMIN_KEY
	Role   string // admin, auditor, poster or affiliate
	Holder string // affiliate keys: the user id whose data the key reads
	Note   string
	Person string // the person's label ("" when the key has none)
	// PersonID is the person the key counts as for four-eyes: keys minted
	// by a key count as their minter's person.
	PersonID string
}

// Label is the one place that names the signed-in person on every page:
// the key's person when it has one, else its note, else its id.
func (i Identity) Label() string {
	switch {
	case i.Person != "":
		return i.Person
	case i.Holder != "":
		return i.Holder
	case i.Note != "":
		return i.Note
	}
	return "key " + i.KeyID
}

// Config is what a Console needs.
type Config struct {
	// API is the API's handler (api.Server.Handler()); every figure the
	// console shows is its answer to a request made in process with the
	// session's key.
	API http.Handler
	// Identify authenticates a key and says who it is (api.Server.Identify).
	Identify func(ctx context.Context, key string) (Identity, error)
	// SessionTTL bounds a session's life (default 12 hours).
	SessionTTL time.Duration
	Logger     *slog.Logger
	Now        func() time.Time
}

// Console is the web console's handler and its sessions.
type Console struct {
	api      http.Handler
	identify func(ctx context.Context, key string) (Identity, error)
	ttl      time.Duration
	log      *slog.Logger
	now      func() time.Time
	pages    map[string]*template.Template
	router   chi.Router

	mu       sync.Mutex
	sessions map[string]*session
}

// session is a signed-in browser: the key stays here, in memory, never
// in the cookie, which carries only the random session id.
type session struct {
	id      string
	key     string
	who     Identity
	csrf    string
	expires time.Time
}

// cookieName is the session cookie.
const cookieName = "folio_session"

// New returns a console over cfg.API.
func New(cfg Config) (*Console, error) {
	c := &Console{api: cfg.API, identify: cfg.Identify, ttl: cfg.SessionTTL, log: cfg.Logger, now: cfg.Now, sessions: map[string]*session{}}
	if c.api == nil || c.identify == nil {
		return nil, errors.New("console: Config.API and Config.Identify are required")
	}
	if c.ttl <= 0 {
		c.ttl = 12 * time.Hour
	}
	if c.log == nil {
		c.log = slog.New(slog.NewJSONHandler(io.Discard, nil))
	}
	if c.now == nil {
		c.now = time.Now
	}
	var err error
	if c.pages, err = parsePages(); err != nil {
		return nil, err
	}
	c.router = c.routes()
	return c, nil
}

// prefixes are the first path segments the console owns; every other path
// (/v1/..., /healthz, /metrics, /openapi.yaml) is the API's.
var prefixes = []string{"static", "signin", "signout", "journal", "verify", "accounts", "trial-balance",
	"reconciliation", "payouts", "affiliates", "programs"}

// Mount returns a handler serving the console at / and its pages, and api
// for everything else.
func (c *Console) Mount(api http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c.owns(r.URL.Path) {
			c.router.ServeHTTP(w, r)
			return
		}
		api.ServeHTTP(w, r)
	})
}

func (c *Console) owns(path string) bool {
	if path == "/" {
		return true
	}
	first, _, _ := strings.Cut(strings.TrimPrefix(path, "/"), "/")
	first = strings.TrimSuffix(first, ".csv")
	for _, p := range prefixes {
		if first == p {
			return true
		}
	}
	return false
}

func (c *Console) routes() chi.Router {
	r := chi.NewRouter()
	r.Use(c.secureHeaders)
	static, _ := fs.Sub(staticFS, "static")
	r.Handle("/static/*", http.StripPrefix("/static/", http.FileServerFS(static)))
	r.Get("/signin", c.signinPage)
	r.Post("/signin", c.signin)
	r.Group(func(r chi.Router) {
		r.Use(c.requireSession)
		r.Post("/signout", c.signout)
		r.Get("/", c.home)
		r.Get("/journal", c.journal)
		r.Get("/journal/{id}", c.entry)
		r.Get("/verify", c.verify)
		r.Get("/accounts", c.chart)
		r.Get("/accounts/{account}", c.statement)
		r.Get("/accounts/{account}/statement.csv", c.statementCSV)
		r.Get("/trial-balance", c.trialBalance)
		r.Get("/trial-balance.csv", c.csv("/v1/reports/trial-balance", "as_of", "as_of_seq", "currency"))
		r.Get("/reconciliation", c.reconciliation)
		r.Get("/reconciliation.csv", c.csv("/v1/reports/reconciliation", "from", "to"))
		r.Get("/payouts", c.payouts)
		r.Get("/payouts.csv", c.csv("/v1/payouts/batches", "cursor", "limit"))
		r.Post("/payouts", c.buildPayout)
		r.Get("/payouts/{id}", c.payout)
		r.Get("/payouts/{id}/execute", c.confirmExecute)
		r.Post("/payouts/{id}/{action}", c.decidePayout)
		r.Get("/affiliates", c.affiliates)
		r.Get("/affiliates/{id}", c.affiliate)
		r.Get("/affiliates/{id}/dashboard", c.dashboard)
		r.Get("/programs", c.programs)
		r.Get("/programs/{id}", c.program)
		r.Post("/programs/{id}", c.putProgram)
	})
	return r
}

// secureHeaders forbids framing and outside resources: the console needs
// nothing but its own origin.
func (c *Console) secureHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; frame-ancestors 'none'; form-action 'self'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

type sessionKey struct{}

func sessionFrom(r *http.Request) *session {
	s, _ := r.Context().Value(sessionKey{}).(*session)
	return s
}

// requireSession sends a browser without a live session to the sign-in
// page (GET) or refuses it (403, any other method), and checks the CSRF
// token of every request that is not a GET.
func (c *Console) requireSession(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := c.lookup(r)
		if s == nil {
			if r.Method == http.MethodGet {
				http.Redirect(w, r, "/signin?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			c.refuse(w, r, http.StatusForbidden, "You are not signed in (or your session has ended). Sign in again.")
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			if !sameOrigin(r) || subtle.ConstantTimeCompare([]byte(r.PostFormValue("csrf")), []byte(s.csrf)) != 1 {
				c.refuse(w, r, http.StatusForbidden, "This form is stale or did not come from this console (CSRF check failed). Reload the page and try again.")
				return
			}
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), sessionKey{}, s)))
	})
}

// sameOrigin refuses a request whose Origin header names another origin
// (browsers send it on every POST).
func sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	u, err := url.Parse(o)
	return err == nil && u.Host == r.Host
}

func (c *Console) lookup(r *http.Request) *session {
	ck, err := r.Cookie(cookieName)
	if err != nil || ck.Value == "" {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.sessions[ck.Value]
	if s != nil && c.now().After(s.expires) {
		delete(c.sessions, s.id)
		return nil
	}
	return s
}

func randomToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// signinPage: GET /signin.
func (c *Console) signinPage(w http.ResponseWriter, r *http.Request) {
	if c.lookup(r) != nil {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	c.render(w, r, http.StatusOK, "signin", "Sign in", map[string]any{"Next": safeNext(r.URL.Query().Get("next"))})
}

// safeNext keeps a post-sign-in destination only when it is a path of
// this origin.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		return "/"
	}
	return next
}

// signin: POST /signin exchanges an API key for a session.
func (c *Console) signin(w http.ResponseWriter, r *http.Request) {
	if !sameOrigin(r) {
		c.refuse(w, r, http.StatusForbidden, "The sign-in form did not come from this console.")
		return
	}
	key := strings.TrimSpace(r.PostFormValue("key"))
	next := safeNext(r.PostFormValue("next"))
	who, err := c.identify(r.Context(), key)
	if key == "" || err != nil {
		msg := "That API key is not valid (unknown or revoked)."
		if key == "" {
			msg = "Enter an API key."
		} else if !isUnauthorized(err) {
			c.log.Error("console sign-in", "err", err)
			msg = "The key could not be checked; try again."
		}
		c.render(w, r, http.StatusUnauthorized, "signin", "Sign in", map[string]any{"Next": next, "Error": msg})
		return
	}
	s := &session{id: randomToken(), key: key, who: who, csrf: randomToken(), expires: c.now().Add(c.ttl)}
	c.mu.Lock()
	for id, old := range c.sessions {
		if c.now().After(old.expires) {
			delete(c.sessions, id)
		}
	}
	c.sessions[s.id] = s
	c.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: s.id, Path: "/", HttpOnly: true, Secure: r.TLS != nil,
		SameSite: http.SameSiteStrictMode, MaxAge: int(c.ttl / time.Second)})
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// isUnauthorized reports whether err is the API's unauthorized error.
func isUnauthorized(err error) bool { return folio.ErrorCode(err) == folio.EUNAUTHORIZED }

// signout: POST /signout ends the session.
func (c *Console) signout(w http.ResponseWriter, r *http.Request) {
	s := sessionFrom(r)
	c.mu.Lock()
	delete(c.sessions, s.id)
	c.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: "/", HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode, MaxAge: -1})
	http.Redirect(w, r, "/signin", http.StatusSeeOther)
}

// problem is an API error answer (RFC 9457).
type problem struct {
	Status int      `json:"status"`
	Code   string   `json:"code"`
	Title  string   `json:"title"`
	Detail string   `json:"detail"`
	Fields []string `json:"fields"`
}

func (p *problem) Error() string { return p.Detail }

// call makes one request to the API in process with the session's key and
// returns the recorded answer.
func (c *Console) call(r *http.Request, method, path string, q url.Values, body any) *httptest.ResponseRecorder {
	target := path
	if len(q) > 0 {
		target += "?" + q.Encode()
	}
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	// The API routes the request afresh: the console's chi routing state
	// stays out of its context.
	ctx := context.WithValue(r.Context(), chi.RouteCtxKey, (*chi.Context)(nil))
	req := httptest.NewRequestWithContext(ctx, method, target, rd)
	req.RemoteAddr = r.RemoteAddr
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if s := sessionFrom(r); s != nil {
		req.Header.Set("Authorization", "Bearer "+s.key)
	}
	rec := httptest.NewRecorder()
	c.api.ServeHTTP(rec, req)
	return rec
}

// do calls the API and decodes a 2xx JSON answer into a generic value whose
// numbers stay json.Number (amounts are strings already: never floats). An
// error answer is returned as *problem.
func (c *Console) do(r *http.Request, method, path string, q url.Values, body any) (map[string]any, error) {
	rec := c.call(r, method, path, q, body)
	if rec.Code >= 400 {
		p := &problem{Status: rec.Code}
		if json.Unmarshal(rec.Body.Bytes(), p) != nil || p.Detail == "" {
			p.Detail = strings.TrimSpace(rec.Body.String())
		}
		p.Status = rec.Code
		return nil, p
	}
	out := map[string]any{}
	if rec.Code == http.StatusNoContent {
		return out, nil
	}
	d := json.NewDecoder(rec.Body)
	d.UseNumber()
	if err := d.Decode(&out); err != nil {
		return nil, fmt.Errorf("decode %s %s: %w", method, path, err)
	}
	return out, nil
}

// get is do for GET.
func (c *Console) get(r *http.Request, path string, q url.Values) (map[string]any, error) {
	return c.do(r, http.MethodGet, path, q, nil)
}

// csv returns a handler that passes the API's CSV of path through, with
// the page's query parameters names (filters, cursor) kept: only those the
// API route takes, as it refuses any other.
func (c *Console) csv(path string, names ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { c.passCSV(w, r, path, names...) }
}

func (c *Console) passCSV(w http.ResponseWriter, r *http.Request, path string, names ...string) {
	q := pick(r.URL.Query(), names...)
	q.Set("format", "csv")
	rec := c.call(r, http.MethodGet, path, q, nil)
	if rec.Code >= 400 {
		c.fail(w, r, &problem{Status: rec.Code, Detail: strings.TrimSpace(rec.Body.String())})
		return
	}
	for _, h := range []string{"Content-Type", "Content-Disposition", "Link"} {
		if v := rec.Header().Get(h); v != "" {
			w.Header().Set(h, v)
		}
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
}

// pick copies the non-empty values of names from q.
func pick(q url.Values, names ...string) url.Values {
	out := url.Values{}
	for _, n := range names {
		if v := strings.TrimSpace(q.Get(n)); v != "" {
			out.Set(n, v)
		}
	}
	return out
}

// fail renders an API error: 401 ends the session (the key was revoked),
// 403 says the role may not see this, anything else shows the problem.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, err error) {
	var p *problem
	if !errors.As(err, &p) {
		c.log.Error("console", "path", r.URL.Path, "err", err)
		c.refuse(w, r, http.StatusInternalServerError, "Something went wrong; the server log has the details.")
		return
	}
	switch p.Status {
	case http.StatusUnauthorized:
		if s := sessionFrom(r); s != nil {
			c.mu.Lock()
			delete(c.sessions, s.id)
			c.mu.Unlock()
		}
		http.Redirect(w, r, "/signin", http.StatusSeeOther)
	case http.StatusForbidden:
		c.refuse(w, r, http.StatusForbidden, "Your role may not see or do this: "+p.Detail)
	default:
		c.refuse(w, r, p.Status, p.Detail)
	}
}

// refuse renders the error page.
func (c *Console) refuse(w http.ResponseWriter, r *http.Request, status int, msg string) {
	c.render(w, r, status, "error", http.StatusText(status), map[string]any{"Status": status, "Message": msg})
}
