package ingest_test

import (
	"os"
	"testing"
	"time"

	"github.com/folioledger/folio/affiliate"
	"github.com/folioledger/folio/affiliate/affiliatetest"
	"github.com/folioledger/folio/ledger"
	"github.com/folioledger/folio/schema/schematest"
)

func TestMain(m *testing.M) { os.Exit(schematest.Main(m)) }

// fixture is one test's affiliate engine on a fresh database
// (affiliatetest.New), reading the clock now.
type fixture struct {
	env    *affiliatetest.Env
	db     *schematest.DB
	svc    *affiliate.Service
	ledger *ledger.Ledger
	now    time.Time
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	f := &fixture{now: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)}
	f.env = affiliatetest.New(t, func() time.Time { return f.now })
	f.db, f.svc, f.ledger = f.env.DB, f.env.Svc, f.env.Ledger

	return f
}

func (f *fixture) balance(t testing.TB, account string) string { return f.env.Balance(t, account) }

// user registers a user joining with code (may be "").
func (f *fixture) user(t testing.TB, id, code string) { f.env.User(t, id, code) }

// code gives owner a referral code.
func (f *fixture) code(t testing.TB, owner, code string) { f.env.Code(t, owner, code) }

func (f *fixture) verify(t testing.TB) { f.env.Verify(t) }

// trade is a taker trade of user paying fee USDT.
func trade(id, user, fee string) affiliate.NewTrade { return affiliatetest.Trade(id, user, fee) }

// brokerTree builds A → B → C → D with the broker program (25/10/5).
func brokerTree(t *testing.T, f *fixture) { f.env.BrokerTree(t) }
