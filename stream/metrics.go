package stream

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the consumers' Prometheus collectors; `folio serve`
// registers them on the registry its /metrics serves.
type Metrics struct {
	// Trades counts the trades booked from the buses, by source and
	// status (created, or exists for a redelivered trade).
	Trades *prometheus.CounterVec
	// DeadLetters counts the dead letters recorded, by source and topic or
	// queue.
	DeadLetters *prometheus.CounterVec
	// Lag is the consumer lag: on Kafka, per partition, the high watermark
	// less the next offset to commit, after each fetch; on RabbitMQ the
	// queue's ready messages (partition "").
	Lag *prometheus.GaugeVec
	// Pauses counts the pauses of consumption for an outage (database
	// unavailable, ingester busy).
	Pauses *prometheus.CounterVec
}

// NewMetrics returns the consumers' collectors, registered on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Trades: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "folio_ingest_trades_total",
			Help: "Trades booked from message buses, by source and status (created, exists).",
		}, []string{"source", "status"}),
		DeadLetters: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "folio_ingest_dead_letters_total",
			Help: "Messages or trades sent to the dead letters, by source and topic or queue.",
		}, []string{"source", "destination"}),
		Lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "folio_ingest_consumer_lag",
			Help: "Messages not yet consumed: per Kafka partition (high watermark less committed offset), or a RabbitMQ queue's ready messages.",
		}, []string{"source", "destination", "partition"}),
		Pauses: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "folio_ingest_pauses_total",
			Help: "Pauses of consumption while the database was unavailable or the write queue full.",
		}, []string{"source"}),
	}
	reg.MustRegister(m.Trades, m.DeadLetters, m.Lag, m.Pauses)
	return m
}
