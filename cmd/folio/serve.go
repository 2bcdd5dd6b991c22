package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/folioledger/folio/affiliate"
	"github.com/folioledger/folio/api"
	"github.com/folioledger/folio/console"
	"github.com/folioledger/folio/events"
	"github.com/folioledger/folio/ingest"
	"github.com/folioledger/folio/ledger"
	"github.com/folioledger/folio/payouts"
	"github.com/folioledger/folio/payouts/webhook"
	"github.com/folioledger/folio/seal"
)

// Intervals of serve's background jobs.
const (
	expiryInterval   = 10 * time.Second        // void expired pending entries
	scheduleInterval = affiliate.RealtimeEvery // build the batches of scheduled payout programs; realtime ones at every tick
	outboxInterval   = 5 * time.Second         // deliver executed payout batches to the webhook
	webhookInterval  = time.Second             // copy the event feed into webhook outboxes and deliver them
)

// reportTimeout is how long a response may take to write (reports and
// verify over a large journal); folio bench waits as long for its checks.
const reportTimeout = 5 * time.Minute

// runServe serves the HTTP API until ctx is done (SIGINT/SIGTERM), then
// stops accepting connections, drains in-flight requests for up to
// cfg.ShutdownTimeout, closes the pool and stops the private PostgreSQL.
func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) (err error) {
	var ingestURLs urlList
	cfg, rest, err := parseArgs(command{name: "serve", groups: flagsDB | flagsServe | flagsCheckpoint | flagsLog | flagsWriters, flags: func(fs *flag.FlagSet) {
		fs.Var(&ingestURLs, "ingest", "consume trades from a message bus: kafka://b1:9092,b2:9092/topic?group=G&dlq=T or amqp://user:pass@host:5672/vhost?queue=Q&dlq=Q2&prefetch=N (repeatable)")
	}}, args, stderr)
	if err != nil {
		return err
	}
	sources, err := parseSources(ingestURLs)
	if err != nil {
		return &exitError{code: exitFailure, err: fmt.Errorf("serve: %w", err)}
	}
	if len(rest) > 0 {
		return &exitError{code: exitFailure, err: fmt.Errorf("serve: unexpected arguments %q", rest)}
	}
	log := newLogger(stderr, cfg.LogLevel)
	tuneGC(log)

	db, err := openDatabase(ctx, cfg, log, openOptions{Create: true, Migrate: cfg.Migrate, Exclusive: true})
	if err != nil {
		return err
	}
	defer func() {
		embedded := db.Embedded != nil
		if cerr := db.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("close database: %w", cerr))
			return
		}
		if embedded {
			log.Info("stopped, and the private PostgreSQL with it")
		} else {
			log.Info("stopped")
		}
	}()

	registry := prometheus.NewRegistry()
	registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	l := ledger.New(db.App)
	svc := affiliate.NewService(db.App, l)
	pay := payouts.NewService(svc)
	pay.Deliver = webhook.Post
	pay.Webhook = cfg.PayoutWebhook
	if cfg.PayoutWebhookSecret != "" {
		pay.WebhookSecrets = map[string]string{cfg.PayoutWebhook: cfg.PayoutWebhookSecret}
	}
	// Group commit: one writer coalesces concurrent trade and entry
	// requests into shared transactions (docs/CONTRACT.md §8).
	shards, err := journalShards(ctx, db.App, cfg.JournalShards, log)
	if err != nil {
		return err
	}
	ingester := ingest.New(db.App, svc, l, ingest.Options{Shards: shards, Overlap: cfg.Overlap})
	// Checkpoints are signed with the operator's key (seal/doc.go).
	skey, err := seal.LoadKey(cfg.checkpointKeyPath())
	if err != nil {
		return err
	}
	seals, err := seal.New(db.App, skey)
	if err != nil {
		return err
	}
	server := api.New(api.Config{
		DB:        db.App,
		Ledger:    l,
		AdminKey:  cfg.AdminKey,
		Logger:    log,
		Registry:  registry,
		Now:       time.Now,
		Affiliate: svc,
		Payouts:   pay,
		Ingester:  ingester,
		Seals:     seals,

		WebhookAllowPrivate: cfg.WebhookAllowPrivate,
	})
	ui, err := console.New(console.Config{API: server.Handler(), Identify: identify(server), Logger: log})
	if err != nil {
		return err
	}
	handler := ui.Mount(server.Handler()) // the console at /, the API at /v1

	var key, keySource string
	if cfg.AdminKey != "" {
		keySource = "the one given by --admin-key / FOLIO_ADMIN_KEY"
	}
	if cfg.Demo {
		if err := seedDemo(ctx, db.App, l, log); err != nil {
			return err
		}
		if key, keySource, err = demoAdminKey(ctx, cfg, db.App, handler); err != nil {
			return err
		}
	}

	if cfg.Pprof != "" {
		stop, err := servePprof(cfg.Pprof, log)
		if err != nil {
			return err
		}
		defer stop()
	}

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	hs := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute,
		// Reports and verify on a large journal take a while. The event
		// stream (GET /v1/events/stream) lifts this deadline and sets one
		// per write instead (http.ResponseController).
		WriteTimeout:   reportTimeout,
		IdleTimeout:    2 * time.Minute,
		MaxHeaderBytes: 64 << 10,
		ErrorLog:       slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	// Shutdown waits for in-flight requests: event streams end at once
	// (clients reconnect elsewhere with Last-Event-ID).
	hs.RegisterOnShutdown(server.StopStreams)
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()

	// The background context outlives the HTTP drain below: requests still
	// waiting on the ingester get their answers before it stops.
	bg, stopBackground := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	if e := db.Embedded; e != nil && e.pg != nil {
		// The private cluster is this process's to keep up: if it dies,
		// it is restarted, and requests meanwhile get 503 (docs/CONTRACT.md §9).
		wg.Go(func() { e.pg.Supervise(bg, log) })
	}
	wg.Go(func() { ingester.Run(bg) })
	// Trades from message buses (--ingest) go through the same writer.
	runSources(bg, &wg, newBooker(db.App, ingester, registry), sources, log)
	wg.Go(func() { server.RunExpiry(bg, expiryInterval) })
	wg.Go(func() { runPayoutSchedules(bg, pay, scheduleInterval, log) })
	// Statistics rollups are folded off the writer (affiliate/fold.go);
	// safe with several serve processes on one database.
	wg.Go(func() {
		svc.RunFolder(bg, time.Second, func(format string, args ...any) { log.Error(fmt.Sprintf(format, args...)) })
	})
	// Seals of the journal's shards; safe with several serve processes on
	// one database (seal.Service.Seal).
	if cfg.SealInterval > 0 {
		wg.Go(func() {
			seals.Run(bg, cfg.SealInterval, func(format string, args ...any) { log.Error(fmt.Sprintf(format, args...)) })
		})
	}
	// Always running: messages queued while a webhook was set keep its URL.
	wg.Go(func() {
		pay.RunOutbox(bg, outboxInterval, func(format string, args ...any) { log.Error(fmt.Sprintf(format, args...)) })
	})
	// Webhooks: copy the event feed into each subscription's outbox and
	// deliver it; safe with several serve processes on one database.
	host, _ := os.Hostname()
	dispatcher := &events.Dispatcher{Webhooks: server.Webhooks(), Render: server.EventBody, Send: webhook.EventSender(cfg.WebhookAllowPrivate),
		Server: fmt.Sprintf("%s:%d", host, os.Getpid())}
	wg.Go(func() {
		dispatcher.Run(bg, webhookInterval, func(format string, args ...any) { log.Error(fmt.Sprintf(format, args...)) })
	})
	defer func() {
		stopBackground()
		wg.Wait()
	}()

	url := "http://" + dialable(ln.Addr().String())
	log.Info("serving", "addr", ln.Addr().String(), "demo", cfg.Demo)
	printReady(stdout, readyInfo{URL: url, DB: db, Key: key, KeySource: keySource})

	select {
	case <-ctx.Done():
		log.Info("shutting down: draining in-flight requests (a second signal stops at once)", "timeout", cfg.ShutdownTimeout.String())
	case err := <-served:
		return fmt.Errorf("http server: %w", err)
	}
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		log.Warn("requests still running after the shutdown timeout; closing their connections", "err", err)
		hs.Close()
	}
	<-served
	return nil
}

// identify tells the console who a key is, as the API authenticates it.
func identify(server *api.Server) func(context.Context, string) (console.Identity, error) {
	return func(ctx context.Context, key string) (console.Identity, error) {
		k, err := server.Identify(ctx, key)
		return console.Identity{KeyID: k.ID, Role: k.Role, Holder: k.Holder, Note: k.Note, Person: k.Person, PersonID: k.PersonID}, err
	}
}

// runPayoutSchedules builds the batches of programs whose payout schedule
// is due (payouts.Service.RunSchedules) now and then every interval
// until ctx is done. Each run is claimed in the database under this
// process's name, so several servers build each batch once. Errors are
// logged and retried at the next tick.
func runPayoutSchedules(ctx context.Context, pay *payouts.Service, every time.Duration, log *slog.Logger) {
	host, _ := os.Hostname()
	name := fmt.Sprintf("%s:%d", host, os.Getpid())
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		built, err := pay.RunSchedules(ctx, name)
		if len(built) > 0 {
			log.Info("built scheduled payout batches", "batches", built)
		}
		if err != nil && ctx.Err() == nil {
			log.Error("payout scheduler", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// dialable turns a listen address into one a client can dial: an
// unspecified host (":8080", "0.0.0.0:8080", "[::]:8080") becomes
// 127.0.0.1.
func dialable(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

// readyInfo is what serve tells its user once it listens.
type readyInfo struct {
	URL       string
	DB        *database
	Key       string // the demo admin key; "" without --demo
	KeySource string // where the admin key comes from; "" when there is none
}

// printReady prints where the server is, where its data lives, how to stop
// it and, with --demo, a curl session that works as pasted.
func printReady(w io.Writer, r readyInfo) {
	var b strings.Builder
	fmt.Fprintf(&b, "\nFolio is serving %s\n\n", r.URL)
	fmt.Fprintf(&b, "  console    %s/  (sign in with an API key)\n", r.URL)
	if e := r.DB.Embedded; e != nil {
		fmt.Fprintf(&b, "  data       %s  (PostgreSQL log: postgres.log there)\n", e.DataDir)
		fmt.Fprintf(&b, "  database   %s  (psql works while Folio runs)\n", r.DB.URL)
	} else {
		fmt.Fprintf(&b, "  database   the one at --database-url\n")
	}
	if r.KeySource != "" {
		fmt.Fprintf(&b, "  admin key  %s\n", r.KeySource)
	} else {
		fmt.Fprintf(&b, "  keys       folio keys create --role admin%s\n", dbFlags(r.DB))
	}
	if r.DB.Embedded != nil {
		fmt.Fprintf(&b, "  stop       Ctrl-C: drains requests, then stops PostgreSQL; the data stays for the next start\n")
	} else {
		fmt.Fprintf(&b, "  stop       Ctrl-C: drains requests\n")
	}
	if r.Key != "" {
		auth := `-H "Authorization: Bearer $KEY"`
		fmt.Fprintf(&b, "\nTry it (paste into a shell):\n\n")
		fmt.Fprintf(&b, "  KEY=%s\n", shellQuote(r.Key))
		fmt.Fprintf(&b, "  curl -s %s %s/v1/accounts/201:USDT:alice/balance\n", auth, r.URL)
		fmt.Fprintf(&b, "  curl -s %s %s/v1/reports/trial-balance\n", auth, r.URL)
		fmt.Fprintf(&b, "  curl -s %s %s/v1/audit/verify\n", auth, r.URL)
		fmt.Fprintf(&b, "  curl -s %s -H 'Idempotency-Key: try-1' -H 'Content-Type: application/json' \\\n", auth)
		fmt.Fprintf(&b, "    -d '{\"kind\":\"manual\",\"description\":\"alice deposits 5 USDT\",\"postings\":[{\"account\":\"110:USDT\",\"side\":\"debit\",\"amount\":\"5\"},{\"account\":\"201:USDT:alice\",\"side\":\"credit\",\"amount\":\"5\"}]}' \\\n")
		fmt.Fprintf(&b, "    %s/v1/entries\n", r.URL)
		fmt.Fprintf(&b, "\nThe affiliate demo (alice → bob → carol → dave, broker program 25/10/5):\n\n")
		fmt.Fprintf(&b, "  curl -s %s %s/v1/trades/demo-t1                     # how dave's 100 USDT fee was split\n", auth, r.URL)
		fmt.Fprintf(&b, "  curl -s %s %s/v1/accounts/208:USDT:carol/balance    # carol's accrued commissions\n", auth, r.URL)
		fmt.Fprintf(&b, "  curl -s %s \"%s/v1/affiliates/carol/accruals?limit=5\"\n", auth, r.URL)
	}
	b.WriteString("\n")
	io.WriteString(w, b.String())
}

// dbFlags returns the flags that point another folio command at the same
// database.
func dbFlags(db *database) string {
	if db.Embedded != nil {
		return " --data-dir " + shellQuote(db.Embedded.DataDir)
	}
	return " --database-url URL"
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:=+@%", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// servePprof serves net/http/pprof on its own listener (never on the API's
// handler, so the profiling endpoints are not reachable through it).
func servePprof(addr string, log *slog.Logger) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("pprof listen: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	log.Info("pprof", "addr", ln.Addr().String())
	return func() { _ = hs.Close() }, nil
}
