package seal_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/mod/sumdb/note"

	"github.com/folioledger/folio/accounts"
	"github.com/folioledger/folio/ledger"
	"github.com/folioledger/folio/schema"
	"github.com/folioledger/folio/schema/schematest"
	"github.com/folioledger/folio/seal"
)

func TestMain(m *testing.M) { os.Exit(schematest.Main(m)) }

// env is one test's journal (shards journal shards) on a fresh database,
// with its sealer, connected as the app role; db.Admin is the superuser
// that tampers.
type env struct {
	db     *schematest.DB
	app    *schema.DB
	ledger *ledger.Ledger
	seals  *seal.Service
	n      int
}

func newEnv(t testing.TB, shards int) *env {
	t.Helper()
	ctx := context.Background()
	db := schematest.New(t, schema.Migrate)
	app, err := schema.Open(ctx, db.URL, schema.OpenOptions{Role: schema.AppRole})
	if err != nil {
		t.Fatalf("open app pool: %v", err)
	}
	t.Cleanup(app.Close)
	app.Mode = os.Getenv("FOLIO_TEST_DB_MODE")
	if shards > 1 {
		if err := ledger.SetShards(ctx, app, shards); err != nil {
			t.Fatalf("set journal shards: %v", err)
		}
	}
	err = app.Tx(ctx, func(tx pgx.Tx) error {
		_, err := accounts.PutCurrency(ctx, tx, accounts.Currency{ID: "USD", Precision: 2, Enabled: true}, "test", time.Now(), ledger.InUse)
		return err
	})
	if err != nil {
		t.Fatalf("put currency: %v", err)
	}
	skey, _, err := note.GenerateKey(rand.Reader, "folio-test")
	if err != nil {
		t.Fatal(err)
	}
	svc, err := seal.New(app, skey)
	if err != nil {
		t.Fatalf("seal.New: %v", err)
	}
	return &env{db: db, app: app, ledger: ledger.New(app), seals: svc}
}

// post writes count manual entries (each under a new key, so they spread
// over the shards) and returns them.
func (e *env) post(t testing.TB, count int) []*ledger.Entry {
	t.Helper()
	var out []*ledger.Entry
	for range count {
		e.n++
		ne := ledger.NewEntry{IdempotencyKey: fmt.Sprintf("k%d", e.n), Kind: "manual", Postings: []ledger.NewPosting{
			{Account: "101:USD", Side: accounts.Debit, Amount: "1.00"},
			{Account: "605:USD", Side: accounts.Credit, Amount: "1.00"},
		}}
		res, err := e.ledger.Post(context.Background(), []ledger.NewEntry{ne}, ledger.Options{})
		if err != nil || res[0].Err != nil {
			t.Fatalf("Post: %v, %v", err, res)
		}
		out = append(out, res[0].Entry)
	}
	return out
}

// seal seals and fails the test unless a seal was created.
func (e *env) seal(t testing.TB) *seal.Seal {
	t.Helper()
	s, created, err := e.seals.Seal(context.Background())
	if err != nil || !created {
		t.Fatalf("Seal = %v, created %v, %v; want a new seal", s, created, err)
	}
	return s
}

// problems runs seal.Verify.
func (e *env) problems(t testing.TB) []ledger.Problem {
	t.Helper()
	probs, err := seal.Verify(context.Background(), e.app, e.seals.Verifier, 100)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	return probs
}
