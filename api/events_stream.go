package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/folioledger/folio/events"
)

// Defaults of the event stream (Config.Stream).
const (
	defaultStreamPoll         = 500 * time.Millisecond
	defaultStreamHeartbeat    = 15 * time.Second
	defaultStreamBuffer       = 1000
	defaultStreamWriteTimeout = 10 * time.Second
)

// StreamConfig tunes GET /v1/events/stream; zero fields take the defaults.
type StreamConfig struct {
	// Poll is how often a caught-up stream reads the feed again (500 ms).
	Poll time.Duration
	// Heartbeat is the interval of the comment lines that keep idle
	// connections and proxies alive (15 s).
	Heartbeat time.Duration
	// Buffer is how many events may wait for one client (1000): a client
	// that falls further behind is disconnected, and resumes with
	// Last-Event-ID.
	Buffer int
	// WriteTimeout bounds each write to the client (10 s): a client that
	// does not read is disconnected. It replaces the server's WriteTimeout
	// for the stream, which would otherwise end every stream.
	WriteTimeout time.Duration
}

func (c *StreamConfig) defaults() {
	if c.Poll <= 0 {
		c.Poll = defaultStreamPoll
	}
	if c.Heartbeat <= 0 {
		c.Heartbeat = defaultStreamHeartbeat
	}
	if c.Buffer <= 0 {
		c.Buffer = defaultStreamBuffer
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = defaultStreamWriteTimeout
	}
}

// streamMetrics count the open event streams and the slow clients dropped.
type streamMetrics struct {
	open    prometheus.Gauge
	dropped prometheus.Counter
}

func newStreamMetrics(reg *prometheus.Registry) *streamMetrics {
	m := &streamMetrics{
		open: prometheus.NewGauge(prometheus.GaugeOpts{Name: "folio_event_streams_open", Help: "Open GET /v1/events/stream connections."}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{Name: "folio_event_streams_dropped_total",
			Help: "Event streams ended by the server because the client did not keep up (write deadline or full buffer)."}),
	}
	reg.MustRegister(m.open, m.dropped)
	return m
}

// errSlowClient ends a stream whose client fell more than the buffer behind.
var errSlowClient = errors.New("the client fell too far behind")

// getEventStream: GET /v1/events/stream — the feed as Server-Sent Events.
// Each event is sent as "id: <cursor>", "event: <type>", "data: <the event
// as GET /v1/events shows it>"; a reconnecting client sends the last id
// it processed as Last-Event-ID (which wins over ?after) and gets the
// events after it. Without either the stream starts at the feed's
// beginning, like GET /v1/events; ?after=now starts at its current end. A producer polls the feed into a bounded buffer and the handler
// writes from it: a client that does not keep up is disconnected rather
// than buffered without bound, and nothing it does reaches the journal's
// writers (the stream only reads).
func (s *Server) getEventStream(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	afterText := q.Get("after")
	if id := r.Header.Get("Last-Event-ID"); id != "" {
		afterText = id
	}
	now := afterText == "now"
	if now {
		afterText = ""
	}
	after, f, err := eventsQuery(r, q, afterText)
	if err != nil {
		return err
	}
	if now {
		if after, err = s.feed.Head(r.Context()); err != nil {
			return err
		}
	}
	cfg := s.stream
	rc := http.NewResponseController(w)
	// The server's WriteTimeout would end the stream: each write gets its
	// own deadline instead.
	if err := rc.SetWriteDeadline(time.Time{}); err != nil {
		return fmt.Errorf("event stream: clear the write deadline: %w", err)
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	s.streamMetrics.open.Inc()
	defer s.streamMetrics.open.Dec()

	ctx, cancel := context.WithCancelCause(r.Context())
	defer cancel(nil)
	buf := make(chan []byte, cfg.Buffer)
	go s.produceEvents(ctx, cancel, r, after, f, buf)

	write := func(b []byte) error {
		if err := rc.SetWriteDeadline(time.Now().Add(cfg.WriteTimeout)); err != nil {
			return err
		}
		if _, err := w.Write(b); err != nil {
			return err
		}
		return rc.Flush()
	}
	if err := write([]byte("retry: 1000\n: folio event stream\n\n")); err != nil {
		return nil
	}
	beat := time.NewTicker(cfg.Heartbeat)
	defer beat.Stop()
	for {
		var err error
		select {
		case <-s.streamsStopped:
			return nil
		case <-ctx.Done():
			// The client went away, or the server gave up on it (a write
			// past its deadline breaks the connection and cancels the
			// request), or it fell too far behind.
			level, reason := slog.LevelInfo, context.Cause(ctx).Error()
			if errors.Is(context.Cause(ctx), errSlowClient) {
				level = slog.LevelWarn
				s.streamMetrics.dropped.Inc()
			}
			s.log.LogAttrs(r.Context(), level, "event stream ended",
				slog.String("request_id", requestIDFrom(r.Context())), slog.String("reason", reason))
			return nil
		case b := <-buf:
			err = write(b)
		case <-beat.C:
			err = write([]byte(": heartbeat\n\n"))
		}
		if err != nil {
			// The client went away or stopped reading: end the stream (it
			// resumes with Last-Event-ID).
			cancel(errSlowClient)
			s.streamMetrics.dropped.Inc()
			s.log.LogAttrs(r.Context(), slog.LevelInfo, "event stream ended",
				slog.String("request_id", requestIDFrom(r.Context())), slog.String("reason", err.Error()))
			return nil
		}
	}
}

// produceEvents polls the feed from after into buf until ctx ends. When
// buf stays full for longer than the write timeout — the client reads, but
// slower than events arrive — it cancels the stream with errSlowClient. A
// failed read (an outage) is retried at the next poll: the stream stays
// open, with its heartbeats, and resumes where it was.
func (s *Server) produceEvents(ctx context.Context, cancel context.CancelCauseFunc, r *http.Request, after events.Cursor, f events.Filter, buf chan<- []byte) {
	cfg := s.stream
	t := time.NewTimer(0)
	defer t.Stop()
	var fullSince time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		room := cap(buf) - len(buf)
		if room == 0 {
			if fullSince.IsZero() {
				fullSince = time.Now()
			} else if time.Since(fullSince) > cfg.WriteTimeout {
				cancel(errSlowClient)
				return
			}
			t.Reset(cfg.Poll)
			continue
		}
		fullSince = time.Time{}
		page, err := s.feed.Read(ctx, after, f, min(room, maxLimit))
		if err != nil {
			if ctx.Err() == nil {
				s.log.LogAttrs(ctx, slog.LevelWarn, "event stream read", slog.String("error", err.Error()))
			}
			t.Reset(cfg.Poll)
			continue
		}
		out, err := s.renderEvents(r.WithContext(ctx), page.Events)
		if err != nil {
			t.Reset(cfg.Poll)
			continue
		}
		// The page fits the room, and only this goroutine sends.
		for i := range out {
			b, _ := json.Marshal(out[i])
			buf <- fmt.Appendf(nil, "id: %s\nevent: %s\ndata: %s\n\n", out[i].Cursor, out[i].Type, b)
		}
		after = page.Next
		if page.More {
			t.Reset(0)
		} else {
			t.Reset(cfg.Poll)
		}
	}
}

// StopStreams ends every open event stream (and those opened afterwards):
// http.Server.Shutdown waits for in-flight requests, and a stream would
// otherwise hold it until its timeout. Clients resume elsewhere with
// Last-Event-ID.
func (s *Server) StopStreams() { s.stopStreams.Do(func() { close(s.streamsStopped) }) }
