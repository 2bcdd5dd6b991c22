package stream_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/folioledger/folio/affiliate/affiliatetest"
	"github.com/folioledger/folio/api"
	"github.com/folioledger/folio/ingest"
	"github.com/folioledger/folio/schema/schematest"
	"github.com/folioledger/folio/stream"
)

func TestMain(m *testing.M) { os.Exit(schematest.Main(m)) }

// fixture is a booker on a fresh database with the broker tree
// (A → B → C → D), its ingester running until the test ends.
type fixture struct {
	env     *affiliatetest.Env
	booker  *stream.Booker
	metrics *stream.Metrics
	log     *slog.Logger
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	env := affiliatetest.New(t, func() time.Time { return now })
	env.BrokerTree(t)
	ing := ingest.New(env.Svc.DB, env.Svc, env.Ledger, ingest.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { ing.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	m := stream.NewMetrics(prometheus.NewRegistry())
	return &fixture{env: env, metrics: m, log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		booker: &stream.Booker{Ingester: ing, DB: env.Svc.DB, Decode: api.DecodeTradeMessage, Metrics: m}}
}

// count returns the trades booked and the dead letters recorded.
func (f *fixture) count(t testing.TB) (trades, dead int) {
	t.Helper()
	if err := f.env.DB.Admin.QueryRow(context.Background(),
		`SELECT (SELECT count(*) FROM trades), (SELECT count(*) FROM ingest_dead_letters)`).Scan(&trades, &dead); err != nil {
		t.Fatal(err)
	}
	return trades, dead
}

// waitFor polls until trades are booked and dead letters recorded.
func (f *fixture) waitFor(t testing.TB, trades, dead int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		n, d := f.count(t)
		if n == trades && d == dead {
			return
		}
		if n > trades || d > dead || time.Now().After(deadline) {
			t.Fatalf("%d trades booked and %d dead letters, want %d and %d", n, d, trades, dead)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// tradeJSON is trade id of user D paying fee USDT, as POST /v1/trades takes it.
func tradeJSON(id, user, fee string) map[string]any {
	return map[string]any{"id": id, "user_id": user, "market": "BTCUSDT", "liquidity": "taker",
		"fee": map[string]string{"amount": fee, "currency": "USDT"}, "executed_at": "2026-02-01T00:00:00Z"}
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// poison are messages that can never be booked, with the code of their
// dead letter: not JSON, an unknown user, an invalid fee, a trade with an
// unknown field.
var poison = []struct {
	body []byte
	code string
}{
	{[]byte(`{"id": "p-1", "user_id": `), "invalid_request"},
	{mustJSON(tradeJSON("p-2", "nobody", "1")), "not_found"},
	{mustJSON(tradeJSON("p-3", "D", "-5")), "invalid_amount"},
	{[]byte(`[{"id": "p-4", "user_id": "D", "bogus": 1}]`), "invalid_request"},
}

// messages returns n trades as messages of the three forms: a single trade,
// an array of two, {"trades": [three]}, with trade ids prefix-0 on.
func messages(prefix string, n int) [][]byte {
	var out [][]byte
	for i := 0; i < n; {
		switch len(out) % 3 {
		case 0:
			out = append(out, mustJSON(tradeJSON(fmt.Sprintf("%s-%d", prefix, i), "D", "1.5")))
			i++
		case 1:
			var ts []any
			for k := 0; k < 2 && i < n; k++ {
				ts = append(ts, tradeJSON(fmt.Sprintf("%s-%d", prefix, i), "D", "2"))
				i++
			}
			out = append(out, mustJSON(ts))
		case 2:
			var ts []any
			for k := 0; k < 3 && i < n; k++ {
				ts = append(ts, tradeJSON(fmt.Sprintf("%s-%d", prefix, i), "C", "0.25"))
				i++
			}
			out = append(out, mustJSON(map[string]any{"trades": ts}))
		}
	}
	return out
}

// testCounter reads a counter's value.
func testCounter(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		panic(err)
	}
	return m.GetCounter().GetValue()
}
