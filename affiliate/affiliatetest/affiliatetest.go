// Package affiliatetest builds the commission engine on a fresh test
// database for the tests of affiliate and of the packages around it
// (payouts, ingest, reconcile), so that each does not copy the same
// fixture. Its callers must run their tests through schematest.Main.
package affiliatetest

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/folioledger/folio/accounts"
	"github.com/folioledger/folio/affiliate"
	"github.com/folioledger/folio/ledger"
	"github.com/folioledger/folio/schema"
	"github.com/folioledger/folio/schema/schematest"
)

// Env is one test's affiliate engine and ledger on a fresh database.
type Env struct {
	DB     *schematest.DB // the test database (Admin: a superuser pool)
	App    *schema.DB     // the app role's pool the services use
	Ledger *ledger.Ledger
	Svc    *affiliate.Service
}

// New migrates a fresh database and builds a ledger and an affiliate service
// on the app role, both reading the clock now, with the currencies USD (2
// places), USDT (6), BTC (8) and TOKEN (0).
func New(t testing.TB, now func() time.Time) *Env {
	t.Helper()
	ctx := context.Background()
	db := schematest.New(t, schema.Migrate)
	app, err := schema.Open(ctx, db.URL, schema.OpenOptions{Role: schema.AppRole})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(app.Close)
	e := &Env{DB: db, App: app, Ledger: ledger.New(app)}
	e.Ledger.Now = now
	e.Svc = affiliate.NewService(app, e.Ledger)
	e.Svc.Now = now
	for _, c := range []accounts.Currency{{ID: "USD", Precision: 2, Enabled: true}, {ID: "USDT", Precision: 6, Enabled: true},
		{ID: "BTC", Precision: 8, Enabled: true}, {ID: "TOKEN", Precision: 0, Enabled: true}} {
		if err := app.Tx(ctx, func(tx pgx.Tx) error {
			_, err := accounts.PutCurrency(ctx, tx, c, "test", now(), ledger.InUse)
			return err
		}); err != nil {
			t.Fatalf("currency: %v", err)
		}
	}
	return e
}

// Balance returns an account's current balance as text.
func (e *Env) Balance(t testing.TB, account string) string {
	t.Helper()
	b, err := e.Ledger.GetBalance(context.Background(), account, ledger.AsOf{})
	if err != nil {
		t.Fatalf("balance %s: %v", account, err)
	}
	return ledger.Format(&b.Balance)
}

// User registers a user joining with code (may be "").
func (e *Env) User(t testing.TB, id, code string) {
	t.Helper()
	if _, _, err := e.Svc.CreateUser(context.Background(), affiliate.NewUser{ID: id, ReferralCode: code}); err != nil {
		t.Fatalf("CreateUser(%s): %v", id, err)
	}
}

// Code gives owner a referral code.
func (e *Env) Code(t testing.TB, owner, code string) {
	t.Helper()
	if _, err := e.Svc.CreateCode(context.Background(), owner, affiliate.NewCode{Code: code}, "test"); err != nil {
		t.Fatalf("CreateCode(%s): %v", code, err)
	}
}

// Verify fails the test unless the ledger verifies.
func (e *Env) Verify(t testing.TB) {
	t.Helper()
	rep, err := e.Ledger.Verify(context.Background())
	if err != nil || !rep.OK {
		t.Fatalf("Verify = %+v, %v", rep, err)
	}
}

// BrokerTree builds A → B → C → D (each joining with its referrer's code)
// with the default broker program (levels 25/10/5%).
func (e *Env) BrokerTree(t testing.TB) {
	t.Helper()
	if _, err := e.Svc.PutProgram(context.Background(), "broker", affiliate.ProgramSpec{Kind: "levels", Levels: []string{"0.25", "0.10", "0.05"}, Default: true}, "test"); err != nil {
		t.Fatal(err)
	}
	e.User(t, "A", "")
	e.Code(t, "A", "AAAAAA")
	e.User(t, "B", "aaaaaa")
	e.Code(t, "B", "BBBBBB")
	e.User(t, "C", "BBBBBB")
	e.Code(t, "C", "CCCCCC")
	e.User(t, "D", "CCCCCC")
}

// Trade is a taker trade of user paying fee USDT, executed 2026-02-01.
func Trade(id, user, fee string) affiliate.NewTrade {
	return affiliate.NewTrade{ID: id, UserID: user, Market: "BTCUSDT", Liquidity: "taker",
		Fee: &affiliate.Money{Amount: fee, Currency: "USDT"}, ExecutedAt: time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)}
}
