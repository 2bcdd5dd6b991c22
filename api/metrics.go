package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/folioledger/folio/affiliate"
	"github.com/folioledger/folio/ingest"
	"github.com/folioledger/folio/ledger"
	"github.com/folioledger/folio/schema"
)

// metrics are the server's Prometheus collectors, registered on its own
// registry (never the global one).
type metrics struct {
	handler         http.Handler
	requests        *prometheus.CounterVec
	duration        *prometheus.HistogramVec
	entriesWritten  prometheus.Counter
	postingsWritten prometheus.Counter
}

func newMetrics(reg *prometheus.Registry, db *schema.DB, svc *affiliate.Service, ing *ingest.Ingester) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "folio_http_requests_total",
			Help: "HTTP requests by route pattern, method and status code.",
		}, []string{"route", "method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "folio_http_request_duration_seconds",
			Help:    "HTTP request latency by route pattern and method.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route", "method"}),
		entriesWritten: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "folio_ledger_entries_written_total",
			Help: "Journal entries written by the server (replays excluded).",
		}),
		postingsWritten: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "folio_ledger_postings_written_total",
			Help: "Postings of the journal entries written by the server (replays excluded).",
		}),
	}
	reg.MustRegister(m.requests, m.duration, m.entriesWritten, m.postingsWritten)
	reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "folio_journal_batches_total",
		Help: "Journal batches (ApplyTx calls that wrote or locked) since the server started.",
	}, func() float64 { b, _ := ledger.WriterStats(); return float64(b) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "folio_journal_multi_shard_batches_total",
			Help: "Journal batches that locked more than one shard.",
		}, func() float64 { _, m := ledger.WriterStats(); return float64(m) }))
	if svc != nil {
		folded := func(source string, count func() int64) prometheus.Collector {
			return prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name:        "folio_stats_folded_accruals_total",
				Help:        "Accruals folded into the statistics rollups by this server, by source: memory (handed over by the trade writer) or database (read back).",
				ConstLabels: prometheus.Labels{"source": source},
			}, func() float64 { return float64(count()) })
		}
		reg.MustRegister(folded("memory", func() int64 { return svc.FoldCounts().Memory }),
			folded("database", func() int64 { return svc.FoldCounts().Database }))
	}
	if ing != nil {
		prepared := func(when string, count func(ingest.OverlapCounts) int64) prometheus.Collector {
			return prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name:        "folio_ingest_trade_groups_total",
				Help:        "Group transactions of the shard writers with --overlap, by where their trades were prepared: ahead (in a snapshot while the previous group was written), again (prepared ahead, then again in the write transaction: a group committed since changed what the snapshot read, a retry, or the snapshot failed) or in_tx (in the write transaction: nothing to overlap with, or overlapping would have split the group).",
				ConstLabels: prometheus.Labels{"prepared": when},
			}, func() float64 { return float64(count(ing.Overlap())) })
		}
		reg.MustRegister(prepared("ahead", func(c ingest.OverlapCounts) int64 { return c.Ahead }),
			prepared("again", func(c ingest.OverlapCounts) int64 { return c.Again }),
			prepared("in_tx", func(c ingest.OverlapCounts) int64 { return c.InTx }))
	}
	if db != nil && db.Pool != nil {
		reg.MustRegister(poolCollector{db.Pool}, prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "folio_tx_retries_total",
			Help: "Whole-transaction retries (serialization failures, deadlocks, a writer's unique violations) since the server started.",
		}, func() float64 { return float64(db.Retries()) }))
	}
	m.handler = promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})
	return m
}

func (m *metrics) observeRequest(route, method string, status int, elapsed time.Duration) {
	m.requests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
	m.duration.WithLabelValues(route, method).Observe(elapsed.Seconds())
}

// written counts entries and postings newly written (not replayed).
func (m *metrics) written(entries, postings int) {
	m.entriesWritten.Add(float64(entries))
	m.postingsWritten.Add(float64(postings))
}

// poolCollector exports pgxpool statistics at scrape time.
type poolCollector struct{ pool *pgxpool.Pool }

var (
	poolAcquired = prometheus.NewDesc("folio_db_pool_acquired_conns", "Connections currently acquired from the pool.", nil, nil)
	poolIdle     = prometheus.NewDesc("folio_db_pool_idle_conns", "Idle connections in the pool.", nil, nil)
	poolTotal    = prometheus.NewDesc("folio_db_pool_total_conns", "Connections in the pool (acquired, idle and being opened).", nil, nil)
	poolMax      = prometheus.NewDesc("folio_db_pool_max_conns", "The pool's maximum size.", nil, nil)
	poolAcquires = prometheus.NewDesc("folio_db_pool_acquire_count_total", "Successful connection acquisitions.", nil, nil)
	poolAcqTime  = prometheus.NewDesc("folio_db_pool_acquire_duration_seconds_total", "Total time spent acquiring connections.", nil, nil)
	poolEmpty    = prometheus.NewDesc("folio_db_pool_empty_acquire_count_total", "Acquisitions that had to wait for a connection.", nil, nil)
	poolCanceled = prometheus.NewDesc("folio_db_pool_canceled_acquire_count_total", "Acquisitions canceled by their context.", nil, nil)
)

func (c poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{poolAcquired, poolIdle, poolTotal, poolMax, poolAcquires, poolAcqTime, poolEmpty, poolCanceled} {
		ch <- d
	}
}

func (c poolCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.pool.Stat()
	ch <- prometheus.MustNewConstMetric(poolAcquired, prometheus.GaugeValue, float64(st.AcquiredConns()))
	ch <- prometheus.MustNewConstMetric(poolIdle, prometheus.GaugeValue, float64(st.IdleConns()))
	ch <- prometheus.MustNewConstMetric(poolTotal, prometheus.GaugeValue, float64(st.TotalConns()))
	ch <- prometheus.MustNewConstMetric(poolMax, prometheus.GaugeValue, float64(st.MaxConns()))
	ch <- prometheus.MustNewConstMetric(poolAcquires, prometheus.CounterValue, float64(st.AcquireCount()))
	ch <- prometheus.MustNewConstMetric(poolAcqTime, prometheus.CounterValue, st.AcquireDuration().Seconds())
	ch <- prometheus.MustNewConstMetric(poolEmpty, prometheus.CounterValue, float64(st.EmptyAcquireCount()))
	ch <- prometheus.MustNewConstMetric(poolCanceled, prometheus.CounterValue, float64(st.CanceledAcquireCount()))
}
