package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/cockroachdb/apd/v3"
	"github.com/jackc/pgx/v5"

	"github.com/folioledger/folio"
	"github.com/folioledger/folio/accounts"
	"github.com/folioledger/folio/affiliate"
	"github.com/folioledger/folio/keys"
	"github.com/folioledger/folio/ledger"
	"github.com/folioledger/folio/schema"
)

// demoActor names the demo seeding in the configuration audit log.
const demoActor = "demo"

// adminKeyFile holds the demo admin key's secret in the data dir.
const adminKeyFile = "admin.key"

// demoCurrencies are the currencies of the demo data.
func demoCurrencies() []accounts.Currency {
	return []accounts.Currency{
		{ID: "USD", Precision: 2, Enabled: true},
		{ID: "USDT", Precision: 6, Enabled: true},
		{ID: "BTC", Precision: 8, Enabled: true},
		{ID: "TOKEN", Precision: 0, Enabled: true},
	}
}

// demoEntries are a few manual entries of an exchange's day. Their fixed
// idempotency keys make seeding them again a replay that writes nothing.
// alice ends with 750 USDT posted on 201 and 100 USDT pending withdrawal.
func demoEntries() []ledger.NewEntry {
	entry := func(key, description string, pending bool, postings ...ledger.NewPosting) ledger.NewEntry {
		return ledger.NewEntry{IdempotencyKey: key, Kind: ledger.KindManual, Description: description, Pending: pending, Postings: postings}
	}
	dr := func(account, amount string) ledger.NewPosting {
		return ledger.NewPosting{Account: account, Side: accounts.Debit, Amount: amount}
	}
	cr := func(account, amount string) ledger.NewPosting {
		return ledger.NewPosting{Account: account, Side: accounts.Credit, Amount: amount}
	}
	return []ledger.NewEntry{
		entry("demo:deposit:alice:usdt", "alice deposits 1000 USDT into the hot wallet", false,
			dr("110:USDT", "1000"), cr("201:USDT:alice", "1000")),
		entry("demo:transfer:alice:trading", "alice moves 250 USDT to her trading account", false,
			dr("201:USDT:alice", "250"), cr("202:USDT:alice", "250")),
		entry("demo:fee:alice:1", "trading fee on alice's first trade", false,
			dr("202:USDT:alice", "1.25"), cr("605:USDT", "1.25")),
		entry("demo:deposit:bob:btc", "bob deposits 0.5 BTC", false,
			dr("110:BTC", "0.5"), cr("201:BTC:bob", "0.5")),
		entry("demo:withdrawal:alice:1", "alice withdraws 100 USDT (pending until the chain confirms)", true,
			dr("201:USDT:alice", "100"), cr("230:USDT:alice", "100")),
		entry("demo:deposit:dave:trading", "dave deposits 500 USDT into his trading account", false,
			dr("110:USDT", "500"), cr("202:USDT:dave", "500")),
		entry("demo:deposit:carol:trading", "carol deposits 100 USDT into her trading account", false,
			dr("110:USDT", "100"), cr("202:USDT:carol", "100")),
	}
}

// demoSignup is when the demo's affiliate users registered.
var demoSignup = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// demoTree is the demo's referral chain alice → bob → carol → dave: each
// user registers with the code of the one before and owns the code given.
var demoTree = []struct{ user, code string }{{"alice", "ALCE22"}, {"bob", "BBBB22"}, {"carol", "CARL22"}, {"dave", ""}}

// demoTrades are the demo's trades: three by dave, one by carol carrying
// only its volume (priced from the fee schedule's default row: taker 0.2%).
// With the broker program (25/10/5%) dave's first trade pays carol 25,
// bob 10, alice 5 and leaves the platform 60 on 605.
func demoTrades() []affiliate.NewTrade {
	at := func(h int) time.Time { return time.Date(2026, 1, 2, h, 0, 0, 0, time.UTC) }
	usdt := func(amount string) *affiliate.Money { return &affiliate.Money{Amount: amount, Currency: "USDT"} }
	return []affiliate.NewTrade{
		{ID: "demo-t1", UserID: "dave", Market: "BTCUSDT", Liquidity: "taker", Fee: usdt("100"), ExecutedAt: at(9)},
		{ID: "demo-t2", UserID: "dave", Market: "ETHUSDT", Liquidity: "maker", Fee: usdt("12.5"), ExecutedAt: at(10)},
		{ID: "demo-t3", UserID: "dave", Market: "BTCUSDT", Liquidity: "taker", Fee: usdt("7.3"), ExecutedAt: at(11)},
		{ID: "demo-t4", UserID: "carol", Market: "BTCUSDT", Liquidity: "taker", Volume: usdt("5000"), ExecutedAt: at(12)},
	}
}

// seedDemo writes the demo data once: currencies, entries, then the
// affiliate demo (seedAffiliateDemo). Running it again changes nothing.
func seedDemo(ctx context.Context, db *schema.DB, l *ledger.Ledger, log *slog.Logger) error {
	now := time.Now()
	err := db.Tx(ctx, func(tx pgx.Tx) error {
		chart, err := accounts.LoadChart(ctx, tx)
		if err != nil {
			return err
		}
		for _, c := range demoCurrencies() {
			if _, exists := chart.Currency(c.ID); exists {
				continue // an operator's later change stays
			}
			if _, err := accounts.PutCurrency(ctx, tx, c, demoActor, now, ledger.InUse); err != nil {
				return fmt.Errorf("currency %s: %w", c.ID, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("demo currencies: %w", err)
	}

	entries := demoEntries()
	results, err := l.Post(ctx, entries, ledger.Options{})
	if err != nil {
		return fmt.Errorf("demo entries: %w", err)
	}
	created := 0
	for i, r := range results {
		switch {
		case r.Err == nil && !r.Replayed:
			created++
		case r.Err == nil:
		case folio.ErrorCode(r.Err) == folio.EIDEMPOTENCY:
			// Written by an older demo; keep the books as they are.
			log.Warn("demo entry exists with other content; left as is", "idempotency_key", entries[i].IdempotencyKey, "err", r.Err)
		default:
			return fmt.Errorf("demo entry %s: %w", entries[i].IdempotencyKey, r.Err)
		}
	}
	log.Info("demo data ready", "entries_created", created, "entries", len(results))
	if err := seedAffiliateDemo(ctx, affiliate.NewService(db, l), log); err != nil {
		return fmt.Errorf("affiliate demo: %w", err)
	}
	return nil
}

// seedAffiliateDemo writes the affiliate demo: the fee schedule's default
// row (maker 0.1%, taker 0.2%), a USDT→USD rate of 1 (source "demo", so
// accruals convert into the reporting currency) and the default broker
// program (levels 25/10/5%) when the program does not exist yet (an
// operator's later change stays), the tree
// alice → bob → carol → dave (registration is idempotent; codes are
// created when missing) and the demo trades (booked once: a second seed
// answers "exists"). Data that an earlier seed or an operator left with
// other content is kept, with a warning.
func seedAffiliateDemo(ctx context.Context, svc *affiliate.Service, log *slog.Logger) error {
	progs, err := svc.ListPrograms(ctx)
	if err != nil {
		return err
	}
	if !slices.ContainsFunc(progs, func(p affiliate.StoredProgram) bool { return p.ID == "broker" }) {
		// The fee row and the FX rate first: a seed interrupted before the
		// program writes them again.
		fees := affiliate.FeeRate{Maker: *apd.New(1, -3), Taker: *apd.New(2, -3)}
		if err := svc.PutFeeRate(ctx, fees, demoActor); err != nil {
			return fmt.Errorf("fee schedule: %w", err)
		}
		if err := svc.PutRate(ctx, "USDT", "USD", demoActor, *apd.New(1, 0), demoSignup, demoActor); err != nil {
			return fmt.Errorf("fx rate: %w", err)
		}
		spec := affiliate.ProgramSpec{Kind: affiliate.KindLevels, Levels: []string{"0.25", "0.10", "0.05"}, Default: true}
		if _, err := svc.PutProgram(ctx, "broker", spec, demoActor); err != nil {
			return fmt.Errorf("program broker: %w", err)
		}
	}
	joinWith := ""
	for _, n := range demoTree {
		_, _, err := svc.CreateUser(ctx, affiliate.NewUser{ID: n.user, ReferralCode: joinWith, RegisteredAt: demoSignup})
		switch {
		case folio.ErrorCode(err) == folio.ECONFLICT:
			log.Warn("demo user exists with other data; left as is", "user", n.user)
		case err != nil:
			return fmt.Errorf("user %s: %w", n.user, err)
		}
		if n.code != "" {
			codes, err := svc.ListCodes(ctx, n.user)
			if err != nil {
				return err
			}
			if !slices.ContainsFunc(codes, func(c affiliate.Code) bool { return c.Code == n.code }) {
				_, err := svc.CreateCode(ctx, n.user, affiliate.NewCode{Code: n.code, Note: "demo"}, demoActor)
				switch {
				case folio.ErrorCode(err) == folio.ECONFLICT:
					log.Warn("demo code is taken; left as is", "code", n.code)
				case err != nil:
					return fmt.Errorf("code %s: %w", n.code, err)
				}
			}
		}
		joinWith = n.code
	}
	results, err := svc.PostTrades(ctx, demoTrades())
	if err != nil {
		return fmt.Errorf("trades: %w", err)
	}
	created := 0
	for _, r := range results {
		switch r.Status {
		case affiliate.TradeCreated:
			created++
		case affiliate.TradeRejected:
			log.Warn("demo trade refused; left as is", "trade", r.ID, "err", r.Err)
		}
	}
	log.Info("affiliate demo ready", "trades_created", created, "trades", len(results))
	return nil
}

// demoAdminKey returns the admin key the demo prints, and a note on where
// it comes from: the configured admin key if any; else the key stored in
// dataDir/admin.key while the server still accepts it as an admin key;
// else a new admin key, created with keys.Create and stored there (mode
// 0600).
func demoAdminKey(ctx context.Context, cfg Config, db *schema.DB, h http.Handler) (key, source string, err error) {
	if cfg.AdminKey != "" {
		return cfg.AdminKey, "the one given by --admin-key / FOLIO_ADMIN_KEY", nil
	}
	dir, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return "", "", err
	}
	path := filepath.Join(dir, adminKeyFile)
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return "", "", err
	default:
		stored := strings.TrimSpace(string(b))
		ok, err := acceptedAsAdmin(h, stored)
		if err != nil {
			return "", "", err
		}
		if ok {
			return stored, "stored in " + path, nil
		}
	}
	_, secret, err := keys.Create(ctx, db, "admin", "", "demo admin key, stored in "+path, demoActor)
	if err != nil {
		return "", "", fmt.Errorf("create the demo admin key: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", "", err
	}
	if err := os.WriteFile(path, []byte(secret+"\n"), 0o600); err != nil {
		return "", "", err
	}
	if err := os.Chmod(path, 0o600); err != nil { // WriteFile keeps an existing file's mode
		return "", "", err
	}
	return secret, "created and stored in " + path, nil
}

// acceptedAsAdmin asks the API itself, in process, whether key is a live
// admin key: GET /v1/keys answers 200 only to admins, 401 to unknown or
// revoked keys and 403 to other roles.
func acceptedAsAdmin(h http.Handler, key string) (bool, error) {
	if key == "" {
		return false, nil
	}
	req, err := http.NewRequest(http.MethodGet, "/v1/keys", nil)
	if err != nil {
		return false, err
	}
	req.RemoteAddr = "127.0.0.1:0"
	req.Header.Set("Authorization", "Bearer "+key)
	rec := &recorder{header: http.Header{}, code: http.StatusOK}
	h.ServeHTTP(rec, req)
	switch rec.code {
	case http.StatusOK:
		return true, nil
	case http.StatusUnauthorized, http.StatusForbidden:
		return false, nil
	}
	return false, fmt.Errorf("check the stored demo admin key: GET /v1/keys answered %d: %s", rec.code, strings.TrimSpace(rec.body.String()))
}

// recorder is the http.ResponseWriter of an in-process request.
type recorder struct {
	header      http.Header
	code        int
	wroteHeader bool
	body        bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(code int) {
	if !r.wroteHeader {
		r.code, r.wroteHeader = code, true
	}
}

func (r *recorder) Write(b []byte) (int, error) {
	r.WriteHeader(http.StatusOK)
	if r.body.Len() < 4<<10 {
		r.body.Write(b[:min(len(b), 4<<10)])
	}
	return len(b), nil
}

// runDemo seeds the demo data (currencies, journal entries, the broker
// program on alice → bob → carol → dave and a few trades) into a database
// without serving it; seeding again writes nothing. `folio serve --demo`
// does the same at start.
func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, rest, err := parseArgs(command{name: "demo", groups: flagsDB | flagsLog}, args, stderr)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return &exitError{code: exitFailure, err: fmt.Errorf("demo: unexpected arguments %q", rest)}
	}
	log := newLogger(stderr, cfg.LogLevel)
	db, err := openDatabase(ctx, cfg, log, openOptions{Create: true, Migrate: true})
	if err != nil {
		return err
	}
	defer closeDatabase(db, log)
	if err := seedDemo(ctx, db.App, ledger.New(db.App), log); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "demo data seeded; serve it with: folio serve%s\n", dbFlags(db))
	return nil
}
