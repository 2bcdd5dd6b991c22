package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/folioledger/folio/affiliate"
	"github.com/folioledger/folio/api"
	"github.com/folioledger/folio/ingest"
	"github.com/folioledger/folio/ledger"
	"github.com/folioledger/folio/schema"
	bus "github.com/folioledger/folio/stream"
)

// urlList is a repeatable flag of message-bus URLs (--ingest).
type urlList []string

func (l *urlList) String() string { return strings.Join(*l, " ") }

func (l *urlList) Set(s string) error {
	if _, err := bus.ParseURL(s); err != nil {
		return err
	}
	*l = append(*l, s)
	return nil
}

// parseSources parses --ingest URLs (each already checked by urlList.Set).
func parseSources(urls []string) ([]bus.Source, error) {
	var out []bus.Source
	for _, u := range urls {
		s, err := bus.ParseURL(u)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// runSources runs one consumer per source, booking through booker, until
// ctx is done; wg waits for them.
func runSources(ctx context.Context, wg *sync.WaitGroup, booker *bus.Booker, sources []bus.Source, log *slog.Logger) {
	for _, s := range sources {
		wg.Go(func() {
			var err error
			if s.Kafka != nil {
				err = booker.RunKafka(ctx, *s.Kafka, log)
			} else {
				err = booker.RunAMQP(ctx, *s.AMQP, log)
			}
			if err != nil {
				log.Error("ingest stopped", "source", s.String(), "err", err)
			}
		})
	}
}

// newBooker is the booker of `serve --ingest` and `ingest`: trades through
// ingester, decoded as POST /v1/trades decodes them, metrics on reg.
func newBooker(db *schema.DB, ingester *ingest.Ingester, reg prometheus.Registerer) *bus.Booker {
	return &bus.Booker{Ingester: ingester, DB: db, Decode: api.DecodeTradeMessage, Metrics: bus.NewMetrics(reg), Now: time.Now}
}

// runIngest consumes message buses beside the servers (folio ingest URL...):
// the consumers of `serve --ingest`, on the same database, with a group
// commit writer of their own, until SIGINT/SIGTERM.
func runIngest(ctx context.Context, args []string, stdout, stderr io.Writer) (err error) {
	var more urlList
	var metricsAddr string
	cfg, rest, err := parseArgs(command{name: "ingest", args: " URL...", groups: flagsDB | flagsLog | flagsWriters,
		flags: func(fs *flag.FlagSet) {
			fs.Var(&more, "ingest", "a message-bus URL to consume (repeatable; or give URLs as arguments)")
			fs.StringVar(&metricsAddr, "metrics-listen", "", "serve Prometheus /metrics (consumer lag, trades, dead letters) on this address, e.g. 127.0.0.1:9091; empty: off")
		}}, args, stderr)
	if err != nil {
		return err
	}
	if metricsAddr != "" {
		if err := validListen(metricsAddr); err != nil {
			return &exitError{code: exitFailure, err: fmt.Errorf("ingest: --metrics-listen: %w", err)}
		}
	}
	urls := append(rest, more...)
	if len(urls) == 0 {
		return &exitError{code: exitFailure, err: fmt.Errorf("ingest: give at least one URL: kafka://broker:9092/topic?group=G or amqp://user:pass@host:5672/vhost?queue=Q")}
	}
	sources, err := parseSources(urls)
	if err != nil {
		return &exitError{code: exitFailure, err: fmt.Errorf("ingest: %w", err)}
	}
	log := newLogger(stderr, cfg.LogLevel)
	db, err := openDatabase(ctx, cfg, log, openOptions{})
	if err != nil {
		return err
	}
	defer db.Close()
	shards, err := journalShards(ctx, db.App, 0, log)
	if err != nil {
		return err
	}
	l := ledger.New(db.App)
	svc := affiliate.NewService(db.App, l)
	ingester := ingest.New(db.App, svc, l, ingest.Options{Shards: shards, Overlap: cfg.Overlap})
	registry := prometheus.NewRegistry()
	registry.MustRegister(collectors.NewGoCollector())
	booker := newBooker(db.App, ingester, registry)

	if metricsAddr != "" {
		ln, err := net.Listen("tcp", metricsAddr)
		if err != nil {
			return fmt.Errorf("ingest: metrics listen: %w", err)
		}
		hs := &http.Server{Handler: promhttp.HandlerFor(registry, promhttp.HandlerOpts{Registry: registry}), ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = hs.Serve(ln) }()
		defer hs.Close()
		fmt.Fprintf(stdout, "folio ingest: metrics at http://%s/metrics\n", dialable(ln.Addr().String()))
	}
	bg, stop := context.WithCancel(context.WithoutCancel(ctx))
	var writer sync.WaitGroup
	writer.Go(func() { ingester.Run(bg) })
	var consumers sync.WaitGroup
	runSources(ctx, &consumers, booker, sources, log)
	for _, s := range sources {
		fmt.Fprintf(stdout, "folio ingest: consuming %s\n", s)
	}
	consumers.Wait() // until ctx is done
	stop()
	writer.Wait()
	return nil
}
