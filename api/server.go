package api

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"golang.org/x/mod/sumdb/note"

	"github.com/folioledger/folio"
	"github.com/folioledger/folio/affiliate"
	"github.com/folioledger/folio/events"
	"github.com/folioledger/folio/ingest"
	"github.com/folioledger/folio/ledger"
	"github.com/folioledger/folio/payouts"
	"github.com/folioledger/folio/payouts/webhook"
	"github.com/folioledger/folio/periods"
	"github.com/folioledger/folio/schema"
	"github.com/folioledger/folio/seal"
)

// Config wires a Server. DB and Ledger are required; the rest have defaults.
type Config struct {
	DB           *schema.DB           // app-role pool
	Ledger       *ledger.Ledger       // the journal, on the same database
	AdminKey     string               // FOLIO_ADMIN_KEY, accepted as an admin key; "" = none
	Logger       *slog.Logger         // JSON handler; nil = discard
	Registry     *prometheus.Registry // nil = a new one (with Go and process collectors)
	MaxBodyBytes int64                // request body limit; 0 = 1 MiB
	Now          func() time.Time     // clock for configuration changes; nil = time.Now
	// Affiliate is the affiliate engine (users, trades, reports);
	// nil = affiliate.NewService(DB, Ledger) reading the clock Now.
	Affiliate *affiliate.Service
	// Payouts builds, reviews and executes payout batches; nil =
	// payouts.NewService(Affiliate), reading the affiliate engine's clock.
	Payouts *payouts.Service
	// Ingester, when set, is group commit: POST /v1/trades, /v1/entries and
	// /v1/entries/batch go through it, coalesced with concurrent requests
	// into shared transactions (its Run must be running); a full queue
	// answers 503 with Retry-After. nil = each request its own transaction.
	Ingester *ingest.Ingester
	// Seals seals the journal and answers for its Merkle log and signed
	// checkpoints; nil = a service on DB signing with a key generated for
	// this server alone (tests: its checkpoints verify only with
	// Server.Seals().VerifierKey).
	Seals *seal.Service
	// Stream tunes GET /v1/events/stream (zero: the defaults).
	Stream StreamConfig
	// WebhookAllowPrivate lets POST /v1/webhooks name internal receivers
	// (loopback, private, link-local addresses; `folio serve
	// --webhook-allow-private`); see events.RefusedAddress.
	WebhookAllowPrivate bool
}

// Server is the HTTP API: the router, its middleware and handlers. It holds
// no mutable state besides its metrics; every request reads the database.
type Server struct {
	db           *schema.DB
	ledger       *ledger.Ledger
	affiliate    *affiliate.Service
	payouts      *payouts.Service
	periods      *periods.Service
	ingester     *ingest.Ingester
	seals        *seal.Service
	log          *slog.Logger
	registry     *prometheus.Registry
	metrics      *metrics
	maxBody      int64
	now          func() time.Time
	adminKeyHash []byte // SHA-256 of the bootstrap admin key; nil = none

	// Events out (events.go, events_stream.go, webhooks.go).
	feed     *events.Feed
	webhooks *events.Webhooks
	stream   StreamConfig
	// streamsStopped is closed by StopStreams (server shutdown).
	streamsStopped chan struct{}
	stopStreams    sync.Once
	streamMetrics  *streamMetrics

	router chi.Router
	routes []routeInfo         // in registration order
	access map[routeKey]access // the same, by (method, pattern)
}

// routeKey identifies a route by method and chi pattern.
type routeKey struct{ method, pattern string }

// routeInfo is one declared route.
type routeInfo struct {
	Method  string
	Pattern string
	Access  access
	Params  []string // the query parameters it takes, sorted
}

// handler is the signature of every endpoint: an error is written as a
// problem by the route wrapper. It is not an http.Handler, so an endpoint
// can only be mounted through Server.route, which declares its access and
// its query parameters.
type handler func(w http.ResponseWriter, r *http.Request) error

// New returns a server for cfg, with its router built.
func New(cfg Config) *Server {
	s := &Server{
		db:       cfg.DB,
		ledger:   cfg.Ledger,
		log:      cfg.Logger,
		registry: cfg.Registry,
		maxBody:  cfg.MaxBodyBytes,
		now:      cfg.Now,
		access:   map[routeKey]access{},
	}
	if s.log == nil {
		s.log = slog.New(slog.NewJSONHandler(io.Discard, nil))
	}
	if s.registry == nil {
		s.registry = prometheus.NewRegistry()
		s.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	if s.maxBody <= 0 {
		s.maxBody = defaultMaxBody
	}
	if s.now == nil {
		s.now = time.Now
	}
	// The journal routes write through cfg.Ledger: the engine's kinds are
	// reserved on it whichever ledger the affiliate service was built on.
	if s.ledger != nil {
		affiliate.ReserveKinds(s.ledger)
	}
	s.affiliate = cfg.Affiliate
	if s.affiliate == nil {
		s.affiliate = affiliate.NewService(cfg.DB, cfg.Ledger)
		s.affiliate.Now = s.now
	}
	s.payouts = cfg.Payouts
	if s.payouts == nil {
		s.payouts = payouts.NewService(s.affiliate)
		s.payouts.Deliver = webhook.Post
	}
	s.periods = periods.New(cfg.DB, s.now)
	s.ingester = cfg.Ingester
	s.seals = cfg.Seals
	if s.seals == nil {
		s.seals = ephemeralSeals(cfg.DB)
	}
	s.feed = &events.Feed{DB: cfg.DB}
	s.streamsStopped = make(chan struct{})
	s.webhooks = &events.Webhooks{DB: cfg.DB, Feed: s.feed, Now: s.now, AllowPrivate: cfg.WebhookAllowPrivate}
	s.stream = cfg.Stream
	s.stream.defaults()
	s.periods.Seals = s.seals
	if cfg.AdminKey != "" {
		sum := sha256.Sum256([]byte(cfg.AdminKey))
		s.adminKeyHash = sum[:]
	}
	s.metrics = newMetrics(s.registry, s.db, s.affiliate, s.ingester)
	s.streamMetrics = newStreamMetrics(s.registry)
	s.router = s.buildRouter()
	return s
}

// Seals returns the server's sealing service.
func (s *Server) Seals() *seal.Service { return s.seals }

// ephemeralSeals is a sealing service with a key generated for this
// process (Config.Seals nil).
func ephemeralSeals(db *schema.DB) *seal.Service {
	skey, _, err := note.GenerateKey(rand.Reader, seal.KeyName)
	if err == nil {
		var svc *seal.Service
		if svc, err = seal.New(db, skey); err == nil {
			return svc
		}
	}
	panic("api: generate a checkpoint key: " + err.Error())
}

// Handler returns the chi router with its middleware.
func (s *Server) Handler() http.Handler { return s.router }

// clock returns the current time for configuration changes, in UTC at
// microsecond precision (what the database stores).
func (s *Server) clock() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

func (s *Server) buildRouter() chi.Router {
	r := chi.NewRouter()
	r.Use(s.observe)
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		s.fail(w, r, folio.Errorf(folio.ENOTFOUND, "no route for %s %s", r.Method, truncate(r.URL.Path, 200)))
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		var allow []string
		for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
			if s.router.Match(chi.NewRouteContext(), m, r.URL.Path) {
				allow = append(allow, m)
			}
		}
		w.Header().Set("Allow", strings.Join(allow, ", "))
		s.fail(w, r, folio.Errorf(codeMethodNotAllowed, "%s is not allowed here; use %s", r.Method, strings.Join(allow, " or ")))
	})

	s.route(r, http.MethodGet, "/healthz", accessPublic, s.getHealthz)
	s.route(r, http.MethodGet, "/readyz", accessPublic, s.getReadyz)
	s.route(r, http.MethodGet, "/metrics", accessPublic, s.getMetrics)
	s.route(r, http.MethodGet, "/openapi.yaml", accessPublic, s.getOpenAPI)

	r.Group(func(r chi.Router) {
		r.Use(s.guard)
		s.route(r, http.MethodGet, "/v1/chart", accessRead, s.getChart, "format")
		s.route(r, http.MethodPost, "/v1/chart", accessAdmin, s.postChart)
		s.route(r, http.MethodGet, "/v1/currencies", accessRead, s.getCurrencies, "format")
		s.route(r, http.MethodPut, "/v1/currencies/{id}", accessAdmin, s.putCurrency)

		s.route(r, http.MethodPost, "/v1/entries", accessAdmin, s.postEntry)
		s.route(r, http.MethodPost, "/v1/entries/batch", accessAdmin, s.postEntryBatch)
		s.route(r, http.MethodGet, "/v1/entries", accessRead, s.listEntries, "account", "batch_id", "cursor", "format", "from", "from_seq", "kind", "limit", "to", "to_seq")
		s.route(r, http.MethodGet, "/v1/entries/{id}", accessRead, s.getEntry)
		s.route(r, http.MethodPost, "/v1/entries/{id}/reverse", accessAdmin, s.reverseEntry)
		s.route(r, http.MethodPost, "/v1/entries/{id}/post", accessAdmin, s.postPending)
		s.route(r, http.MethodPost, "/v1/entries/{id}/void", accessAdmin, s.voidPending)

		s.route(r, http.MethodGet, "/v1/accounts/{account}/balance", accessReadOwn, s.getBalance, "as_of", "as_of_effective", "as_of_seq")
		s.route(r, http.MethodGet, "/v1/accounts/{account}/statement", accessReadOwn, s.getStatement, "basis", "format", "from", "to")

		s.route(r, http.MethodGet, "/v1/reports/trial-balance", accessRead, s.getTrialBalance, "as_of", "as_of_seq", "basis", "currency", "format")
		s.route(r, http.MethodGet, "/v1/reports/reconciliation", accessRead, s.getReconciliation, "basis", "format", "from", "to")
		s.route(r, http.MethodGet, "/v1/reports/tax", accessRead, s.getTaxReport, "format", "over_threshold", "year")

		s.route(r, http.MethodGet, "/v1/audit/verify", accessRead, s.getVerify)
		s.route(r, http.MethodGet, "/v1/audit/log", accessRead, s.getAuditLog, "action", "cursor", "format", "limit", "object")
		s.route(r, http.MethodGet, "/v1/audit/seals", accessRead, s.getSeals, "cursor", "format", "limit")
		s.route(r, http.MethodPost, "/v1/audit/seals", accessAdmin, s.postSeal)
		s.route(r, http.MethodGet, "/v1/audit/checkpoint", accessReadProof, s.getCheckpoint, "size")
		s.route(r, http.MethodGet, "/v1/audit/checkpoint-key", accessReadProof, s.getCheckpointKey)
		s.route(r, http.MethodGet, "/v1/audit/proofs/inclusion", accessReadProof, s.getInclusionProof, "entry", "size")
		s.route(r, http.MethodGet, "/v1/audit/proofs/consistency", accessReadProof, s.getConsistencyProof, "from", "to")
		s.route(r, http.MethodGet, "/v1/ingest/dead-letters", accessRead, s.getDeadLetters, "cursor", "format", "limit")
		s.route(r, http.MethodGet, "/v1/audit/proofs/balance", accessReadProof, s.getBalanceProof, "account", "period")

		s.route(r, http.MethodPost, "/v1/keys", accessAdmin, s.postKey)
		s.route(r, http.MethodGet, "/v1/keys", accessAdmin, s.getKeys, "format")
		s.route(r, http.MethodDelete, "/v1/keys/{id}", accessAdmin, s.deleteKey)

		s.route(r, http.MethodPost, "/v1/users", accessPost, s.postUser)
		s.route(r, http.MethodGet, "/v1/users/{id}", accessReadOwnID, s.getUser)
		s.route(r, http.MethodPost, "/v1/users/{id}/events", accessPost, s.postEvent)
		s.route(r, http.MethodGet, "/v1/users/{id}/chain", accessReadOwnID, s.getChain)
		s.route(r, http.MethodPut, "/v1/users/{id}/program", accessAdmin, s.putUserProgram)
		s.route(r, http.MethodPut, "/v1/users/{id}/rate", accessReferrer, s.putUserRate)
		s.route(r, http.MethodPut, "/v1/users/{id}/kickback-rate", accessAdmin, s.putUserKickbackRate)
		s.route(r, http.MethodPut, "/v1/users/{id}/revenue-share", accessAdmin, s.putUserRevenueShare)
		s.route(r, http.MethodPut, "/v1/users/{id}/referrer", accessAdmin, s.putUserReferrer)
		s.route(r, http.MethodPut, "/v1/users/{id}/tax-id", accessAdmin, s.putUserTaxID)
		s.route(r, http.MethodPost, "/v1/affiliates/{id}/codes", accessOwnID, s.postCode)
		s.route(r, http.MethodPatch, "/v1/affiliates/{id}/codes/{code}", accessOwnID, s.patchCode)
		s.route(r, http.MethodPut, "/v1/affiliates/{id}/referrals/{referee}/note", accessOwnID, s.putReferralNote)
		s.route(r, http.MethodGet, "/v1/affiliates/{id}/codes", accessReadOwnID, s.getCodes, "format")
		s.route(r, http.MethodGet, "/v1/affiliates/{id}/referees", accessReadOwnID, s.getReferees, "cursor", "format", "limit")
		s.route(r, http.MethodGet, "/v1/affiliates/{id}/accruals", accessReadOwnID, s.getAccruals, "currency", "cursor", "format", "from", "limit", "source", "to", "trade_id")
		s.route(r, http.MethodPut, "/v1/programs/{id}", accessAdmin, s.putProgram)
		s.route(r, http.MethodGet, "/v1/programs", accessRead, s.getPrograms, "format")
		s.route(r, http.MethodDelete, "/v1/programs/{id}", accessAdmin, s.deleteProgram)
		s.route(r, http.MethodGet, "/v1/programs/{id}/versions", accessRead, s.getProgramVersions)
		s.route(r, http.MethodPut, "/v1/users/{id}/vip-level", accessAdmin, s.putUserVIPLevel)
		s.route(r, http.MethodGet, "/v1/users/{id}/vip-levels", accessRead, s.getUserVIPLevels, "format")
		s.route(r, http.MethodPost, "/v1/trades", accessPost, s.postTrades)
		s.route(r, http.MethodGet, "/v1/trades/{id}", accessRead, s.getTrade)
		s.route(r, http.MethodPost, "/v1/trades/{id}/reverse", accessPost, s.reverseTrade)
		s.route(r, http.MethodPut, "/v1/rates/{base}/{quote}", accessAdmin, s.putFXRate)
		s.route(r, http.MethodPut, "/v1/fee-schedule", accessAdmin, s.putFeeRate)

		s.route(r, http.MethodPost, "/v1/payouts/batches", accessAdmin, s.postPayoutBatch)
		s.route(r, http.MethodGet, "/v1/payouts/batches", accessRead, s.listPayoutBatches, "cursor", "format", "limit")
		s.route(r, http.MethodGet, "/v1/payouts/batches/{id}", accessRead, s.getPayoutBatch, "format")
		s.route(r, http.MethodPost, "/v1/payouts/batches/{id}/approve", accessAdmin, s.approvePayoutBatch)
		s.route(r, http.MethodPost, "/v1/payouts/batches/{id}/reject-lines", accessAdmin, s.rejectPayoutLines)
		s.route(r, http.MethodPost, "/v1/payouts/batches/{id}/clear-lines", accessAdmin, s.clearPayoutLines)
		s.route(r, http.MethodPost, "/v1/payouts/batches/{id}/reject", accessAdmin, s.rejectPayoutBatch)
		s.route(r, http.MethodPost, "/v1/payouts/batches/{id}/execute", accessAdmin, s.executePayoutBatch)
		s.route(r, http.MethodGet, "/v1/payouts/fraud-rules", accessRead, s.getFraudRules)
		s.route(r, http.MethodPut, "/v1/payouts/fraud-rules", accessAdmin, s.putFraudRules)

		s.route(r, http.MethodGet, "/v1/periods", accessRead, s.getPeriods, "format")
		s.route(r, http.MethodGet, "/v1/periods/{period}", accessRead, s.getPeriod)
		s.route(r, http.MethodPost, "/v1/periods/{period}/close", accessAdmin, s.closePeriod)
		s.route(r, http.MethodPost, "/v1/periods/{period}/close/confirm", accessAdmin, s.confirmClosePeriod)
		s.route(r, http.MethodPost, "/v1/periods/{period}/reopen", accessAdmin, s.reopenPeriod)
		s.route(r, http.MethodPost, "/v1/periods/{period}/reopen/confirm", accessAdmin, s.confirmReopenPeriod)
		s.route(r, http.MethodGet, "/v1/periods/{period}/reconciliation", accessRead, s.getPeriodReconciliation)
		s.route(r, http.MethodGet, "/v1/periods/{period}/adjustments", accessRead, s.getPeriodAdjustments)

		s.route(r, http.MethodGet, "/v1/affiliates/{id}/stats", accessReadOwnID, s.getAffiliateStats, "format", "from", "group_by", "interval", "to")
		s.route(r, http.MethodGet, "/v1/affiliates/{id}/referrals", accessReadOwnID, s.getAffiliateReferrals,
			"code", "country", "cursor", "format", "level", "limit", "milestone", "milestone_from", "milestone_to", "order", "product", "q", "registered_from", "registered_to",
			"vip_level")
		s.route(r, http.MethodGet, "/v1/affiliates/{id}/referrals/top", accessReadOwnID, s.getTopReferrals, "format", "from", "limit", "to")

		s.route(r, http.MethodGet, "/v1/events", accessReadScoped, s.getEvents, "after", "limit", "types")
		s.route(r, http.MethodGet, "/v1/events/stream", accessReadScoped, s.getEventStream, "after", "types")
		s.route(r, http.MethodPost, "/v1/webhooks", accessAdmin, s.postWebhook)
		s.route(r, http.MethodGet, "/v1/webhooks", accessAdmin, s.getWebhooks, "format")
		s.route(r, http.MethodDelete, "/v1/webhooks/{id}", accessAdmin, s.deleteWebhook)
		s.route(r, http.MethodGet, "/v1/webhooks/{id}/deliveries", accessAdmin, s.getWebhookDeliveries, "cursor", "limit")
		s.route(r, http.MethodPost, "/v1/webhooks/{id}/deliveries/{delivery}/redeliver", accessAdmin, s.redeliverWebhook)
	})
	return r
}

// route mounts h at (method, pattern) and records the route's access and
// query parameters (params, sorted; none when omitted) in the table that
// the guard enforces and the tests walk. Before h runs, a query string
// that does not parse, a parameter not in params and a parameter given
// more than once are invalid_request naming it: a filter the route does
// not know would otherwise be silently ignored.
func (s *Server) route(r chi.Router, method, pattern string, a access, h handler, params ...string) {
	k := routeKey{method, pattern}
	if _, dup := s.access[k]; dup {
		panic(fmt.Sprintf("api: route %s %s declared twice", method, pattern))
	}
	if !slices.IsSorted(params) || len(slices.Compact(slices.Clone(params))) != len(params) {
		panic(fmt.Sprintf("api: route %s %s: query parameters %v are not sorted and distinct", method, pattern, params))
	}
	s.access[k] = a
	s.routes = append(s.routes, routeInfo{Method: method, Pattern: pattern, Access: a, Params: params})
	r.Method(method, pattern, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := checkParams(r); err != nil {
			s.fail(w, r, err)
			return
		}
		if err := checkQuery(r.URL.RawQuery, params); err != nil {
			s.fail(w, r, err)
			return
		}
		if err := h(w, r); err != nil {
			s.fail(w, r, err)
		}
	}))
}

// checkQuery refuses a query string that does not parse, a parameter not
// in params and a parameter given more than once (which value would count
// is ambiguous), naming the first such parameter in name order.
func checkQuery(raw string, params []string) error {
	q, err := url.ParseQuery(raw)
	if err != nil {
		return folio.Errorf(folio.EINVALID, "the query string does not parse: use name=value pairs joined by &, percent-encoded")
	}
	for _, name := range slices.Sorted(maps.Keys(q)) {
		if !slices.Contains(params, name) {
			takes := "none"
			if len(params) > 0 {
				takes = strings.Join(params, ", ")
			}
			return &folio.Error{Code: folio.EINVALID, Fields: []string{name},
				Message: fmt.Sprintf("unknown query parameter %s; this route takes: %s", truncate(name, 64), takes)}
		}
		if n := len(q[name]); n > 1 {
			return &folio.Error{Code: folio.EINVALID, Fields: []string{name},
				Message: fmt.Sprintf("query parameter %s is given %d times; give it once", name, n)}
		}
	}
	return nil
}

// routePattern returns the chi pattern of the request's route ("" before
// routing or when nothing matched).
func routePattern(r *http.Request) string {
	if rc := chi.RouteContext(r.Context()); rc != nil {
		return rc.RoutePattern()
	}
	return ""
}

// requestInfo is filled in while a request is served and read by the
// observing middleware when it ends.
type requestInfo struct {
	id    string
	keyID string
	role  string
}

type requestInfoKey struct{}

func requestInfoFrom(ctx context.Context) *requestInfo {
	info, _ := ctx.Value(requestInfoKey{}).(*requestInfo)
	return info
}

func requestIDFrom(ctx context.Context) string {
	if info := requestInfoFrom(ctx); info != nil {
		return info.id
	}
	return ""
}

var requestIDPattern = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

// newRequestID returns 16 random bytes in hex.
func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// observe is the outermost middleware: it assigns the request id (the
// client's X-Request-Id if well-formed, else a random one, echoed in the
// response), recovers panics as internal errors, and when the request ends
// records its metrics and logs one line. The line holds the route pattern,
// never the raw path (which may carry holder ids), nor headers or bodies.
func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		info := &requestInfo{id: r.Header.Get("X-Request-Id")}
		if !requestIDPattern.MatchString(info.id) {
			info.id = newRequestID()
		}
		w.Header().Set("X-Request-Id", info.id)
		r = r.WithContext(context.WithValue(r.Context(), requestInfoKey{}, info))
		ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.LogAttrs(r.Context(), slog.LevelError, "panic", slog.String("request_id", info.id),
					slog.String("route", routePattern(r)), slog.String("panic", fmt.Sprint(v)), slog.String("stack", string(debug.Stack())))
				if ww.Status() == 0 {
					s.fail(ww, r, fmt.Errorf("panic: %v", v))
				}
			}
			status := ww.Status()
			if status == 0 {
				status = http.StatusOK
			}
			route := routePattern(r)
			if route == "" {
				route = "unmatched"
			}
			elapsed := time.Since(start)
			s.metrics.observeRequest(route, r.Method, status, elapsed)
			attrs := []slog.Attr{
				slog.String("request_id", info.id),
				slog.String("method", r.Method),
				slog.String("route", route),
				slog.Int("status", status),
				slog.Float64("duration_ms", float64(elapsed.Microseconds())/1000),
				slog.Int("bytes", ww.BytesWritten()),
			}
			if info.keyID != "" {
				attrs = append(attrs, slog.String("key_id", info.keyID), slog.String("role", info.role))
			}
			s.log.LogAttrs(r.Context(), slog.LevelInfo, "request", attrs...)
		}()
		next.ServeHTTP(ww, r)
	})
}

// RunExpiry voids expired pending entries (Ledger.ExpirePending) now and
// then every interval (default one minute) until ctx is done. Errors are
// logged and retried at the next tick.
func (s *Server) RunExpiry(ctx context.Context, every time.Duration) {
	if every <= 0 {
		every = time.Minute
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		n, err := s.ledger.ExpirePending(ctx)
		if n > 0 {
			s.metrics.entriesWritten.Add(float64(n))
			s.log.LogAttrs(ctx, slog.LevelInfo, "expired pending entries", slog.Int("count", n))
		}
		if err != nil && ctx.Err() == nil {
			s.log.LogAttrs(ctx, slog.LevelError, "expire pending entries", slog.String("error", err.Error()))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// bookTrades books trades through group commit when configured.
func (s *Server) bookTrades(ctx context.Context, trades []affiliate.NewTrade) ([]affiliate.TradeResult, error) {
	if s.ingester != nil {
		return s.ingester.SubmitTrades(ctx, trades)
	}
	return s.affiliate.PostTrades(ctx, trades)
}

// bookEntries posts entries through group commit when configured.
func (s *Server) bookEntries(ctx context.Context, entries []ledger.NewEntry, atomic bool) ([]ledger.Result, error) {
	if s.ingester != nil {
		return s.ingester.SubmitEntries(ctx, entries, atomic)
	}
	return s.ledger.Post(ctx, entries, ledger.Options{Atomic: atomic})
}
