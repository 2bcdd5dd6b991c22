package payouts_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/folioledger/folio/accounts"
	"github.com/folioledger/folio/affiliate"
	"github.com/folioledger/folio/ledger"
	"github.com/folioledger/folio/payouts"
	"github.com/folioledger/folio/payouts/webhook"
	"github.com/folioledger/folio/schema"
	"github.com/folioledger/folio/schema/schematest"
	"github.com/jackc/pgx/v5"
)

func TestMain(m *testing.M) { os.Exit(schematest.Main(m)) }

// fixture is one test's affiliate engine and payouts on a fresh database,
// both reading the clock now.
type fixture struct {
	db     *schematest.DB
	svc    *affiliate.Service
	pay    *payouts.Service
	ledger *ledger.Ledger
	now    time.Time
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	ctx := context.Background()
	db := schematest.New(t, schema.Migrate)
	app, err := schema.Open(ctx, db.URL, schema.OpenOptions{Role: schema.AppRole})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(app.Close)
	f := &fixture{db: db, now: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)}
	f.ledger = ledger.New(app)
	f.ledger.Now = func() time.Time { return f.now }
	f.svc = affiliate.NewService(app, f.ledger)
	f.svc.Now = func() time.Time { return f.now }
	f.pay = payouts.NewService(f.svc)
	f.pay.Deliver = webhook.Post
	for _, c := range []accounts.Currency{{ID: "USD", Precision: 2, Enabled: true}, {ID: "USDT", Precision: 6, Enabled: true},
		{ID: "BTC", Precision: 8, Enabled: true}, {ID: "TOKEN", Precision: 0, Enabled: true}} {
		if err := app.Tx(ctx, func(tx pgx.Tx) error {
			_, err := accounts.PutCurrency(ctx, tx, c, "test", f.now, ledger.InUse)
			return err
		}); err != nil {
			t.Fatalf("currency: %v", err)
		}
	}
	return f
}

func (f *fixture) balance(t testing.TB, account string) string {
	t.Helper()
	b, err := f.ledger.GetBalance(context.Background(), account, ledger.AsOf{})
	if err != nil {
		t.Fatalf("balance %s: %v", account, err)
	}
	return ledger.Format(&b.Balance)
}

// user registers a user joining with code (may be "").
func (f *fixture) user(t testing.TB, id, code string) {
	t.Helper()
	if _, _, err := f.svc.CreateUser(context.Background(), affiliate.NewUser{ID: id, ReferralCode: code}); err != nil {
		t.Fatalf("CreateUser(%s): %v", id, err)
	}
}

// code gives owner a referral code.
func (f *fixture) code(t testing.TB, owner, code string) {
	t.Helper()
	if _, err := f.svc.CreateCode(context.Background(), owner, affiliate.NewCode{Code: code}, "test"); err != nil {
		t.Fatalf("CreateCode(%s): %v", code, err)
	}
}

func (f *fixture) verify(t testing.TB) {
	t.Helper()
	rep, err := f.ledger.Verify(context.Background())
	if err != nil || !rep.OK {
		t.Fatalf("Verify = %+v, %v", rep, err)
	}
}

// trade is a taker trade of user paying fee USDT.
func trade(id, user, fee string) affiliate.NewTrade {
	return affiliate.NewTrade{ID: id, UserID: user, Market: "BTCUSDT", Liquidity: "taker",
		Fee: &affiliate.Money{Amount: fee, Currency: "USDT"}, ExecutedAt: time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)}
}

// brokerTree builds A → B → C → D with the broker program (25/10/5).
func brokerTree(t *testing.T, f *fixture) {
	ctx := context.Background()
	if _, err := f.svc.PutProgram(ctx, "broker", affiliate.ProgramSpec{Kind: "levels", Levels: []string{"0.25", "0.10", "0.05"}, Default: true}, "test"); err != nil {
		t.Fatal(err)
	}
	f.user(t, "A", "")
	f.code(t, "A", "AAAAAA")
	f.user(t, "B", "aaaaaa")
	f.code(t, "B", "BBBBBB")
	f.user(t, "C", "BBBBBB")
	f.code(t, "C", "CCCCCC")
	f.user(t, "D", "CCCCCC")
}
