package accounts_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/folioledger/folio"
	"github.com/folioledger/folio/accounts"
	"github.com/folioledger/folio/audit"
	"github.com/folioledger/folio/ledger"
	"github.com/folioledger/folio/schema"
	"github.com/folioledger/folio/schema/schematest"
)

func TestMain(m *testing.M) { os.Exit(schematest.Main(m)) }

// store is one test's fresh database: db for superuser inspection and
// tampering, app connected as the server's restricted role for every write
// under test.
type store struct {
	db  *schematest.DB
	app *schema.DB
}

func newStore(t *testing.T) *store {
	t.Helper()
	db := schematest.New(t, schema.Migrate)
	app, err := schema.Open(context.Background(), db.URL, schema.OpenOptions{Role: schema.AppRole})
	if err != nil {
		t.Fatalf("open app pool: %v", err)
	}
	t.Cleanup(app.Close)
	return &store{db: db, app: app}
}

var t0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

func (s *store) putCurrency(c accounts.Currency, actor string, now time.Time) (created bool, err error) {
	ctx := context.Background()
	err = s.app.Tx(ctx, func(tx pgx.Tx) error {
		created, err = accounts.PutCurrency(ctx, tx, c, actor, now, ledger.InUse)
		return err
	})
	return created, err
}

func (s *store) putCode(c accounts.Code, actor string, now time.Time) (created bool, err error) {
	ctx := context.Background()
	err = s.app.Tx(ctx, func(tx pgx.Tx) error {
		created, err = accounts.PutCode(ctx, tx, c, actor, now, ledger.InUse)
		return err
	})
	return created, err
}

func (s *store) chart(t *testing.T) *accounts.Chart {
	t.Helper()
	c, err := accounts.LoadChart(context.Background(), s.app.Pool)
	if err != nil {
		t.Fatalf("LoadChart: %v", err)
	}
	return c
}

func (s *store) audit(t *testing.T, f audit.Filter) []audit.Record {
	t.Helper()
	recs, err := audit.List(context.Background(), s.app.Pool, f)
	if err != nil {
		t.Fatalf("ListAudit(%+v): %v", f, err)
	}
	return recs
}

// markUsed gives account code a balance row in currency, as the first
// posting to it would.
func (s *store) markUsed(t *testing.T, code, currency, holder string) {
	t.Helper()
	key := accounts.Key{Code: code, Currency: currency, Holder: holder}
	if _, err := s.db.Admin.Exec(context.Background(),
		`INSERT INTO balances (account, code, currency, holder) VALUES ($1, $2, $3, $4)`, key.String(), code, currency, holder); err != nil {
		t.Fatalf("insert balances row %s: %v", key, err)
	}
}

// decodeJSON decodes an audit before/after value; nil for SQL NULL.
func decodeJSON(t *testing.T, b json.RawMessage) map[string]any {
	t.Helper()
	if len(b) == 0 {
		return nil
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("decode audit JSON %s: %v", b, err)
	}
	return m
}

func currencyMap(c accounts.Currency) map[string]any {
	return map[string]any{"id": c.ID, "precision": float64(c.Precision), "enabled": c.Enabled}
}

func codeMap(c accounts.Code) map[string]any {
	return map[string]any{"code": c.Code, "name": c.Name, "type": string(c.Type), "normal_side": string(c.Normal),
		"per_holder": c.PerHolder, "balance_rule": string(c.Rule), "builtin": c.Builtin}
}

func TestLoadChartAfterMigrationIsBuiltin(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	chart := s.chart(t)
	got, want := chart.Codes(), accounts.Builtin()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("LoadChart codes after migration:\n got %+v\nwant %+v", got, want)
	}
	if cur := chart.Currencies(); len(cur) != 0 {
		t.Errorf("LoadChart currencies after migration = %+v, want none", cur)
	}
}

func TestPutCurrency(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	steps := []struct {
		name        string
		used        bool // give BTC a balance row before this step
		put         accounts.Currency
		wantCreated bool
		wantCode    string            // error code; "" for success
		wantAudit   bool              // a new audit record is expected
		want        accounts.Currency // BTC as stored after the step
	}{
		{name: "create", put: accounts.Currency{ID: "BTC", Precision: 8, Enabled: true}, wantCreated: true, wantAudit: true,
			want: accounts.Currency{ID: "BTC", Precision: 8, Enabled: true}},
		{name: "same again is a no-op", put: accounts.Currency{ID: "BTC", Precision: 8, Enabled: true},
			want: accounts.Currency{ID: "BTC", Precision: 8, Enabled: true}},
		{name: "disable", put: accounts.Currency{ID: "BTC", Precision: 8, Enabled: false}, wantAudit: true,
			want: accounts.Currency{ID: "BTC", Precision: 8, Enabled: false}},
		{name: "precision change before any posting", put: accounts.Currency{ID: "BTC", Precision: 6, Enabled: true}, wantAudit: true,
			want: accounts.Currency{ID: "BTC", Precision: 6, Enabled: true}},
		{name: "precision change once used", used: true, put: accounts.Currency{ID: "BTC", Precision: 8, Enabled: true}, wantCode: folio.ECONFLICT,
			want: accounts.Currency{ID: "BTC", Precision: 6, Enabled: true}},
		{name: "enable flag still changes once used", put: accounts.Currency{ID: "BTC", Precision: 6, Enabled: false}, wantAudit: true,
			want: accounts.Currency{ID: "BTC", Precision: 6, Enabled: false}},
		{name: "invalid id", put: accounts.Currency{ID: "btc", Precision: 6}, wantCode: folio.EINVALID,
			want: accounts.Currency{ID: "BTC", Precision: 6, Enabled: false}},
		{name: "invalid precision", put: accounts.Currency{ID: "BTC", Precision: 19}, wantCode: folio.EINVALID,
			want: accounts.Currency{ID: "BTC", Precision: 6, Enabled: false}},
	}
	var prev *accounts.Currency
	nAudit := 0
	for i, st := range steps {
		now := t0.Add(time.Duration(i) * time.Minute)
		if st.used {
			s.markUsed(t, "605", "BTC", "")
		}
		created, err := s.putCurrency(st.put, "alice", now)
		if got := folio.ErrorCode(err); got != st.wantCode {
			t.Fatalf("%s: PutCurrency(%+v) error = %v (code %q), want code %q", st.name, st.put, err, got, st.wantCode)
		}
		if created != st.wantCreated {
			t.Errorf("%s: PutCurrency created = %v, want %v", st.name, created, st.wantCreated)
		}
		if got, ok := s.chart(t).Currency("BTC"); !ok || got != st.want {
			t.Errorf("%s: stored BTC = %+v (found %v), want %+v", st.name, got, ok, st.want)
		}
		if st.put.ID != "BTC" {
			if _, ok := s.chart(t).Currency(st.put.ID); ok {
				t.Errorf("%s: currency %q was stored", st.name, st.put.ID)
			}
		}

		recs := s.audit(t, audit.Filter{})
		if !st.wantAudit {
			if len(recs) != nAudit {
				t.Errorf("%s: audit log has %d records, want %d (unchanged)", st.name, len(recs), nAudit)
			}
			continue
		}
		nAudit++
		if len(recs) != nAudit {
			t.Fatalf("%s: audit log has %d records, want %d", st.name, len(recs), nAudit)
		}
		r := recs[len(recs)-1]
		if r.Actor != "alice" || r.Action != "currency.put" || r.Object != "currency:BTC" || !r.At.Equal(now) {
			t.Errorf("%s: audit record = %s %s %s at %v, want alice currency.put currency:BTC at %v", st.name, r.Actor, r.Action, r.Object, r.At, now)
		}
		var wantBefore map[string]any
		if prev != nil {
			wantBefore = currencyMap(*prev)
		}
		if got := decodeJSON(t, r.Before); !reflect.DeepEqual(got, wantBefore) {
			t.Errorf("%s: audit before = %v, want %v", st.name, got, wantBefore)
		}
		if got, want := decodeJSON(t, r.After), currencyMap(st.want); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: audit after = %v, want %v", st.name, got, want)
		}
		stored := st.want
		prev = &stored
	}
}

func TestPutCurrencyRollsBackWithCaller(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	boom := errors.New("caller failed later in the transaction")
	err := s.app.Tx(ctx, func(tx pgx.Tx) error {
		if _, err := accounts.PutCurrency(ctx, tx, accounts.Currency{ID: "ETH", Precision: 18, Enabled: true}, "alice", t0, ledger.InUse); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Tx = %v, want %v", err, boom)
	}
	if _, ok := s.chart(t).Currency("ETH"); ok {
		t.Errorf("currency ETH stored by a rolled-back transaction")
	}
	if recs := s.audit(t, audit.Filter{}); len(recs) != 0 {
		t.Errorf("audit log has %d records after a rollback, want 0", len(recs))
	}
}

func TestPutCode(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	// The life of operator code 700, and the built-in codes it is compared with.
	with := func(base accounts.Code, f func(*accounts.Code)) accounts.Code {
		f(&base)
		return base
	}
	fees := accounts.Code{Code: "700", Name: "Listing fees", Type: accounts.Revenue, Normal: accounts.Credit}
	renamed := with(fees, func(c *accounts.Code) { c.Name = "Listing fee revenue" })
	ruled := with(renamed, func(c *accounts.Code) { c.Rule = accounts.RuleNonNegative })
	costs := accounts.Code{Code: "700", Name: "Listing costs", Type: accounts.Expense, Normal: accounts.Debit}
	costsRenamed := with(costs, func(c *accounts.Code) { c.Name = "Exchange listing costs" })
	builtin605, _ := accounts.NewChart(accounts.Builtin(), nil).Code("605")
	builtin230, _ := accounts.NewChart(accounts.Builtin(), nil).Code("230")

	steps := []struct {
		name        string
		used        string // give this code a balance row before the step
		put         accounts.Code
		wantCreated bool
		wantCode    string        // error code; "" for success
		want        accounts.Code // the code as stored after the step; zero: not stored
		wantAudit   bool
	}{
		{name: "add", put: fees, wantCreated: true, want: fees, wantAudit: true},
		{name: "same again is a no-op", put: fees, want: fees},
		{name: "caller cannot mark a code built in", put: with(fees, func(c *accounts.Code) { c.Builtin = true }), want: fees},
		{name: "rename", put: renamed, want: renamed, wantAudit: true},
		{name: "add rule", put: ruled, want: ruled, wantAudit: true},
		{name: "change type and normal side of an unused code", put: costs, want: costs, wantAudit: true},
		{name: "change type of a used code", used: "700", put: with(costs, func(c *accounts.Code) { c.Type = accounts.Asset }),
			wantCode: folio.ECONFLICT, want: costs},
		{name: "change normal side of a used code", put: with(costs, func(c *accounts.Code) { c.Normal = accounts.Credit }),
			wantCode: folio.ECONFLICT, want: costs},
		{name: "change per-holder flag of a used code", put: with(costs, func(c *accounts.Code) { c.PerHolder = true }),
			wantCode: folio.ECONFLICT, want: costs},
		{name: "rename a used code", put: costsRenamed, want: costsRenamed, wantAudit: true},

		{name: "change type of a built-in code", put: with(builtin605, func(c *accounts.Code) { c.Type = accounts.Equity }),
			wantCode: folio.ECONFLICT, want: builtin605},
		{name: "change normal side of a built-in code", put: with(builtin605, func(c *accounts.Code) { c.Normal = accounts.Debit }),
			wantCode: folio.ECONFLICT, want: builtin605},
		{name: "change per-holder flag of a built-in code", put: with(builtin605, func(c *accounts.Code) { c.PerHolder = true }),
			wantCode: folio.ECONFLICT, want: builtin605},
		{name: "built-in flag survives a put without it",
			put:  with(builtin230, func(c *accounts.Code) { c.Builtin, c.Rule = false, accounts.RuleNone }),
			want: with(builtin230, func(c *accounts.Code) { c.Rule = accounts.RuleNone }), wantAudit: true},

		{name: "invalid code", put: with(fees, func(c *accounts.Code) { c.Code = "7" }), wantCode: folio.EINVALID},
		{name: "invalid name", put: with(costsRenamed, func(c *accounts.Code) { c.Name = " " }), wantCode: folio.EINVALID, want: costsRenamed},
		{name: "invalid type", put: with(fees, func(c *accounts.Code) { c.Code, c.Type = "701", "income" }), wantCode: folio.EINVALID},
		{name: "invalid normal side", put: with(fees, func(c *accounts.Code) { c.Code, c.Normal = "701", "left" }), wantCode: folio.EINVALID},
		{name: "invalid rule", put: with(fees, func(c *accounts.Code) { c.Code, c.Rule = "701", "positive" }), wantCode: folio.EINVALID},
	}

	before := map[string]accounts.Code{}
	for _, c := range accounts.Builtin() {
		before[c.Code] = c
	}
	nAudit := 0
	for i, st := range steps {
		now := t0.Add(time.Duration(i) * time.Minute)
		if st.used != "" {
			s.markUsed(t, st.used, "USDT", "")
		}
		created, err := s.putCode(st.put, "bob", now)
		if got := folio.ErrorCode(err); got != st.wantCode {
			t.Fatalf("%s: PutCode(%+v) error = %v (code %q), want code %q", st.name, st.put, err, got, st.wantCode)
		}
		if created != st.wantCreated {
			t.Errorf("%s: PutCode created = %v, want %v", st.name, created, st.wantCreated)
		}
		got, ok := s.chart(t).Code(st.put.Code)
		switch {
		case st.want.Code == "" && ok:
			t.Errorf("%s: code %s was stored: %+v", st.name, st.put.Code, got)
		case st.want.Code != "" && (!ok || got != st.want):
			t.Errorf("%s: stored code = %+v (found %v), want %+v", st.name, got, ok, st.want)
		}

		recs := s.audit(t, audit.Filter{Action: "chart.put"})
		if !st.wantAudit {
			if len(recs) != nAudit {
				t.Errorf("%s: audit log has %d chart records, want %d (unchanged)", st.name, len(recs), nAudit)
			}
			continue
		}
		nAudit++
		if len(recs) != nAudit {
			t.Fatalf("%s: audit log has %d chart records, want %d", st.name, len(recs), nAudit)
		}
		r := recs[len(recs)-1]
		if r.Actor != "bob" || r.Object != "code:"+st.put.Code || !r.At.Equal(now) {
			t.Errorf("%s: audit record = %s %s at %v, want bob code:%s at %v", st.name, r.Actor, r.Object, r.At, st.put.Code, now)
		}
		var wantBefore map[string]any
		if prev, ok := before[st.put.Code]; ok {
			wantBefore = codeMap(prev)
		}
		if got := decodeJSON(t, r.Before); !reflect.DeepEqual(got, wantBefore) {
			t.Errorf("%s: audit before = %v, want %v", st.name, got, wantBefore)
		}
		if got, want := decodeJSON(t, r.After), codeMap(st.want); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: audit after = %v, want %v", st.name, got, want)
		}
		before[st.put.Code] = st.want
	}
}
