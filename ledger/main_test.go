package ledger_test

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/folioledger/folio/accounts"
	"github.com/folioledger/folio/ledger"
	"github.com/folioledger/folio/schema"
	"github.com/folioledger/folio/schema/schematest"
	"github.com/jackc/pgx/v5"
)

func TestMain(m *testing.M) { os.Exit(schematest.Main(m)) }

// env is one test's ledger on a fresh database, connected as the app role,
// with currencies USD (2), USDT (6), BTC (8) and JPY (0).
type env struct {
	db     *schematest.DB
	app    *schema.DB
	ledger *ledger.Ledger
	clock  *clock
}

type clock struct{ t time.Time }

func (c *clock) Now() time.Time          { return c.t }
func (c *clock) Advance(d time.Duration) { c.t = c.t.Add(d) }

func newEnv(t testing.TB) *env {
	t.Helper()
	ctx := context.Background()
	db := schematest.New(t, schema.Migrate)
	app, err := schema.Open(ctx, db.URL, schema.OpenOptions{Role: schema.AppRole})
	if err != nil {
		t.Fatalf("open app pool: %v", err)
	}
	t.Cleanup(app.Close)
	// FOLIO_TEST_DB_MODE=cockroach runs the journal writers on the
	// CockroachDB path; FOLIO_TEST_JOURNAL_SHARDS=N gives the journal N
	// shards (`make test` runs the concurrency tests so, besides the
	// default of one shard in PostgreSQL mode).
	app.Mode = os.Getenv("FOLIO_TEST_DB_MODE")
	if n, _ := strconv.Atoi(os.Getenv("FOLIO_TEST_JOURNAL_SHARDS")); n > 1 {
		if err := ledger.SetShards(ctx, app, n); err != nil {
			t.Fatalf("set journal shards: %v", err)
		}
	}
	c := &clock{t: time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)}
	l := ledger.New(app)
	l.Now = c.Now
	for _, cur := range []accounts.Currency{{ID: "USD", Precision: 2, Enabled: true}, {ID: "USDT", Precision: 6, Enabled: true},
		{ID: "BTC", Precision: 8, Enabled: true}, {ID: "JPY", Precision: 0, Enabled: true}} {
		err := app.Tx(ctx, func(tx pgx.Tx) error {
			_, err := accounts.PutCurrency(ctx, tx, cur, "test", c.t, ledger.InUse)
			return err
		})
		if err != nil {
			t.Fatalf("put currency %s: %v", cur.ID, err)
		}
	}
	return &env{db: db, app: app, ledger: l, clock: c}
}

// entry builds a manual entry from (account, side, amount) triples.
func entry(key string, postings ...string) ledger.NewEntry {
	e := ledger.NewEntry{IdempotencyKey: key, Kind: "manual"}
	for i := 0; i+2 < len(postings); i += 3 {
		e.Postings = append(e.Postings, ledger.NewPosting{Account: postings[i], Side: accounts.Side(postings[i+1]), Amount: postings[i+2]})
	}
	return e
}

// post writes one entry and fails the test on any error.
func (e *env) post(t testing.TB, ne ledger.NewEntry) *ledger.Entry {
	t.Helper()
	res, err := e.ledger.Post(context.Background(), []ledger.NewEntry{ne}, ledger.Options{})
	if err != nil {
		t.Fatalf("Post(%s) error: %v", ne.IdempotencyKey, err)
	}
	if res[0].Err != nil {
		t.Fatalf("Post(%s) item error: %v", ne.IdempotencyKey, res[0].Err)
	}
	return res[0].Entry
}

// balance returns the current balance text of an account.
func (e *env) balance(t testing.TB, account string) string {
	t.Helper()
	b, err := e.ledger.GetBalance(context.Background(), account, ledger.AsOf{})
	if err != nil {
		t.Fatalf("GetBalance(%s): %v", account, err)
	}
	return ledger.Format(&b.Balance)
}

// verify fails the test unless the books verify clean.
func (e *env) verify(t testing.TB) {
	t.Helper()
	rep, err := e.ledger.Verify(context.Background())
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if !rep.OK {
		t.Fatalf("Verify found problems: %+v", rep.Problems)
	}
}
