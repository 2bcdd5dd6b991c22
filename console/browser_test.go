package console_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/cockroachdb/apd/v3"
	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/folioledger/folio/accounts"
	"github.com/folioledger/folio/affiliate"
	"github.com/folioledger/folio/api"
	"github.com/folioledger/folio/console"
	"github.com/folioledger/folio/keys"
	"github.com/folioledger/folio/ledger"
	"github.com/folioledger/folio/schema"
	"github.com/folioledger/folio/schema/schematest"
)

func TestMain(m *testing.M) { os.Exit(schematest.Main(m)) }

// bootstrapKey is the test server's FOLIO_ADMIN_KEY.
const bootstrapKey = "console-test-bootstrap-key-0123456789"

// fixture is a folio server (API at /v1, console at /) on a fresh database
// seeded like `folio serve --demo`, keys of every role, and a headless
// Chromium.
type fixture struct {
	t       *testing.T
	url     string
	api     http.Handler
	keys    map[string]string // name → secret: admin, admin2, auditor, poster, affiliate (carol)
	keyIDs  map[string]string
	browser context.Context
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	db := schematest.New(t, schema.Migrate)
	app, err := schema.Open(ctx, db.URL, schema.OpenOptions{Role: schema.AppRole})
	if err != nil {
		t.Fatalf("open app pool: %v", err)
	}
	t.Cleanup(app.Close)
	l := ledger.New(app)
	svc := affiliate.NewService(app, l)
	srv := api.New(api.Config{DB: app, Ledger: l, AdminKey: bootstrapKey, Registry: prometheus.NewRegistry(), Affiliate: svc})
	seedDemo(t, app, l, svc)

	f := &fixture{t: t, api: srv.Handler(), keys: map[string]string{}, keyIDs: map[string]string{}}
	for _, k := range []struct{ name, role, holder, note string }{
		{"admin", "admin", "", "Ada (finance admin)"}, {"admin2", "admin", "", "Grace (second approver)"},
		{"auditor", "auditor", "", "Alan (auditor)"}, {"poster", "poster", "", "exchange backend"},
		{"affiliate", "affiliate", "carol", "carol's dashboard key"},
	} {
		info, secret, err := keys.Create(ctx, app, k.role, k.holder, k.note, "test")
		if err != nil {
			t.Fatalf("CreateKey(%s): %v", k.role, err)
		}
		f.keys[k.name], f.keyIDs[k.name] = secret, info.ID
	}
	ui, err := console.New(console.Config{API: srv.Handler(), Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		Identify: func(ctx context.Context, key string) (console.Identity, error) {
			k, err := srv.Identify(ctx, key)
			return console.Identity{KeyID: k.ID, Role: k.Role, Holder: k.Holder, Note: k.Note}, err
		}})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(ui.Mount(srv.Handler()))
	t.Cleanup(hs.Close)
	f.url = hs.URL
	f.browser = startBrowser(t)
	return f
}

// startBrowser starts Debian's Chromium, headless, with a fresh profile
// and nothing that reaches the network on its own. A browser that does
// not start fails the test: the console's tests never skip.
func startBrowser(t *testing.T) context.Context {
	t.Helper()
	exec := "/usr/bin/chromium"
	if p := os.Getenv("FOLIO_CHROMIUM"); p != "" {
		exec = p
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exec),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1366, 900),
	)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	browser, cancel := chromedp.NewContext(alloc)
	t.Cleanup(cancel)
	// The first action starts the browser, under the browser's own context
	// (a shorter-lived one would stop the browser with it).
	stop := time.AfterFunc(30*time.Second, cancel)
	err := chromedp.Do(browser, chromedp.Navigate("about:blank"))
	stop.Stop()
	if err != nil {
		t.Fatalf("start Chromium (%s): %v — `make test` installs it (apt-get install chromium)", exec, err)
	}
	return browser
}

// tab opens a tab in a browser context of its own (its own cookies).
func (f *fixture) tab(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := chromedp.NewContext(f.browser, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	ctx, cancelT := context.WithTimeout(ctx, 40*time.Second)
	t.Cleanup(cancelT)
	return ctx
}

// do runs browser actions and fails the test on an error.
func do(t *testing.T, ctx context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("browser: %v", err)
	}
}

// text returns the visible text of the first element matching css.
func text(t *testing.T, ctx context.Context, css string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(css)))
	if err != nil {
		t.Fatalf("text of %s: %v", css, err)
	}
	return strings.TrimSpace(s)
}

// exists reports whether an element matches css on the current page.
func exists(t *testing.T, ctx context.Context, css string) bool {
	t.Helper()
	b, err := chromedp.Run(ctx, chromedp.Evaluate[bool](fmt.Sprintf("document.querySelector(%q) !== null", css)))
	if err != nil {
		t.Fatalf("evaluate: %v", err)
	}
	return b
}

// signIn signs in with the key of name and waits for the home page.
func (f *fixture) signIn(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	do(t, ctx, chromedp.Navigate(f.url+"/signin"), chromedp.SendKeys(chromedp.CSS("#key"), f.keys[name]),
		chromedp.Click(chromedp.CSS("#signin")), chromedp.WaitVisible(chromedp.CSS("#who")))
}

// open navigates to path and waits for the page's heading.
func (f *fixture) open(t *testing.T, ctx context.Context, path string) {
	t.Helper()
	do(t, ctx, chromedp.Navigate(f.url+path), chromedp.WaitVisible(chromedp.CSS("h1")))
}

// waitURL waits until the page's URL contains part and its heading is
// shown (a form's navigation has happened).
func waitURL(t *testing.T, ctx context.Context, part string) {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		loc, err := chromedp.Run(ctx, chromedp.Location())
		if err == nil && strings.Contains(loc, part) {
			do(t, ctx, chromedp.WaitVisible(chromedp.CSS("h1")))
			return
		}
	}
	t.Fatalf("the page's URL never contained %q", part)
}

// apiGet asks the API directly with the key of name.
func (f *fixture) apiGet(t *testing.T, name, path string) map[string]any {
	t.Helper()
	return f.apiDo(t, name, http.MethodGet, path, "")
}

// apiDo sends a request with a JSON body to the API with the key of name
// and fails the test unless it answers 2xx.
func (f *fixture) apiDo(t *testing.T, name, method, path, body string) map[string]any {
	t.Helper()
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	r.Header.Set("Authorization", "Bearer "+f.keys[name])
	w := httptest.NewRecorder()
	f.api.ServeHTTP(w, r)
	if w.Code/100 != 2 {
		t.Fatalf("%s %s = %d\n%s", method, path, w.Code, w.Body)
	}
	out := map[string]any{}
	if w.Body.Len() == 0 {
		return out
	}
	d := json.NewDecoder(w.Body)
	d.UseNumber()
	if err := d.Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out
}

// screenshot writes the current page to $FOLIO_SCREENSHOTS/name.png when
// that variable is set (make screenshots).
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	dir := os.Getenv("FOLIO_SCREENSHOTS")
	if dir == "" {
		return
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestConsole drives the console in Chromium against a server on the demo
// data. One server and one browser serve every subtest (each in its own
// browser context), which keeps the run within seconds.
func TestConsole(t *testing.T) {
	f := newFixture(t)
	t.Run("SignInOut", f.testSignInOut)
	t.Run("RefusedWithoutSessionOrCSRF", f.testRefused)
	t.Run("PagesPerRole", f.testPagesPerRole)
	t.Run("FiguresEqualAPI", f.testFigures)
	t.Run("ProgramEditInvalidRate", f.testProgramInvalid)
	t.Run("PayoutFourEyes", f.testPayout)
}

// testSignInOut: a wrong key is refused on the form; a right one gives an
// HttpOnly SameSite=Strict cookie that is not the key, the home page shows
// who signed in; sign-out ends the session.
func (f *fixture) testSignInOut(t *testing.T) {
	ctx := f.tab(t)
	do(t, ctx, chromedp.Navigate(f.url+"/journal"), chromedp.WaitVisible(chromedp.CSS("#signin-form")))
	do(t, ctx, chromedp.SendKeys(chromedp.CSS("#key"), "folio_not_a_key"), chromedp.Click(chromedp.CSS("#signin")), chromedp.WaitVisible(chromedp.CSS("#error")))
	if got := text(t, ctx, "#error"); !strings.Contains(got, "not valid") {
		t.Errorf("sign-in with a wrong key says %q, want it to say the key is not valid", got)
	}
	screenshot(t, ctx, "01-signin")

	f.signIn(t, ctx, "admin")
	if got, want := text(t, ctx, "#who-role"), "admin"; got != want {
		t.Errorf("role on the home page = %q, want %q", got, want)
	}
	if got := text(t, ctx, "#identity"); !strings.Contains(got, f.keyIDs["admin"]) || !strings.Contains(got, "Ada") {
		t.Errorf("home page identity %q does not show the key id %s and its note", got, f.keyIDs["admin"])
	}
	screenshot(t, ctx, "02-home")
	var got []*network.Cookie
	do(t, ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		res, err := cdp.Call(ctx, tg, network.GetCookies, network.GetCookiesParams{URLs: []string{f.url}})
		got = res.Cookies
		return err
	}))
	if len(got) != 1 {
		t.Fatalf("cookies after sign-in: %d, want 1 (the session)", len(got))
	}
	if c := got[0]; c.Name != "folio_session" || !c.HTTPOnly || c.SameSite != network.CookieSameSiteStrict || strings.Contains(c.Value, f.keys["admin"]) {
		t.Errorf("session cookie %+v: want folio_session, HttpOnly, SameSite=Strict, not holding the key", *c)
	}
	do(t, ctx, chromedp.Click(chromedp.CSS("#signout")), chromedp.WaitVisible(chromedp.CSS("#signin-form")))
	f.open(t, ctx, "/trial-balance")
	if !exists(t, ctx, "#signin-form") {
		t.Errorf("after sign-out /trial-balance did not send the browser to the sign-in page")
	}
}

// testRefused: without a session, pages send the browser to sign in and
// writes are refused; with a session, a write with a wrong CSRF token is
// refused and changes nothing.
func (f *fixture) testRefused(t *testing.T) {
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.Get(f.url + "/payouts")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/signin") {
		t.Errorf("GET /payouts without a session = %d to %q, want 303 to /signin", res.StatusCode, res.Header.Get("Location"))
	}
	res, err = client.PostForm(f.url+"/payouts", map[string][]string{"cutoff": {""}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusForbidden {
		t.Errorf("POST /payouts without a session = %d, want 403", res.StatusCode)
	}

	// A key revoked during a session ends the session at the next page.
	created := f.apiDo(t, "admin", http.MethodPost, "/v1/keys", `{"role": "auditor", "note": "revoked soon"}`)
	jar, _ := cookiejar.New(nil)
	client.Jar = jar
	res, err = client.PostForm(f.url+"/signin", map[string][]string{"key": {str(created["key"])}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in with a new auditor key = %d, want 303", res.StatusCode)
	}
	get := func(path string) *http.Response {
		t.Helper()
		res, err := client.Get(f.url + path)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}
	if res := get("/trial-balance"); res.StatusCode != http.StatusOK {
		t.Fatalf("GET /trial-balance in the session = %d, want 200", res.StatusCode)
	}
	// The console's CSV is the API's, byte for byte.
	res, err = client.Get(f.url + "/trial-balance.csv")
	if err != nil {
		t.Fatal(err)
	}
	csvBody, _ := io.ReadAll(res.Body)
	res.Body.Close()
	r := httptest.NewRequest(http.MethodGet, "/v1/reports/trial-balance?format=csv", nil)
	r.Header.Set("Authorization", "Bearer "+str(created["key"]))
	w := httptest.NewRecorder()
	f.api.ServeHTTP(w, r)
	if res.StatusCode != http.StatusOK || string(csvBody) != w.Body.String() || !strings.HasPrefix(res.Header.Get("Content-Disposition"), "attachment") {
		t.Errorf("GET /trial-balance.csv = %d %q (%s), want the API's CSV attachment:\n%s", res.StatusCode, csvBody, res.Header.Get("Content-Disposition"), w.Body)
	}
	f.apiDo(t, "admin", http.MethodDelete, "/v1/keys/"+str(created["id"]), "")
	if res := get("/trial-balance"); res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/signin" {
		t.Errorf("after revocation GET /trial-balance = %d to %q, want 303 to /signin", res.StatusCode, res.Header.Get("Location"))
	}
	if res := get("/"); res.StatusCode != http.StatusSeeOther {
		t.Errorf("after revocation the session still opens /: %d", res.StatusCode)
	}

	// In the browser: the build form's CSRF token altered.
	ctx := f.tab(t)
	f.signIn(t, ctx, "admin")
	batches := len(listOf(f.apiGet(t, "admin", "/v1/payouts/batches")["data"]))
	f.open(t, ctx, "/payouts")
	do(t, ctx, chromedp.SetValue(chromedp.CSS("#build input[name=csrf]"), "forged"),
		chromedp.Click(chromedp.CSS("#build-batch")), chromedp.WaitVisible(chromedp.CSS("#error")))
	if got := text(t, ctx, "#error"); !strings.Contains(got, "CSRF") {
		t.Errorf("a forged CSRF token gave %q, want the CSRF refusal", got)
	}
	if n := len(listOf(f.apiGet(t, "admin", "/v1/payouts/batches")["data"])); n != batches {
		t.Errorf("payout batches after a refused build: %d, want %d", n, batches)
	}
	f.open(t, ctx, "/")
	if !exists(t, ctx, "#identity") {
		t.Errorf("the session did not survive a refused form")
	}
}

// testPagesPerRole opens every section of each role's menu and checks what
// each role may not open.
func (f *fixture) testPagesPerRole(t *testing.T) {
	// An entry id and an account for the detail pages.
	entries := listOf(f.apiGet(t, "admin", "/v1/entries?from_seq=9&limit=1")["data"]) // dave's first commission split
	entryID := str(obj(entries[0])["id"])
	staff := []struct{ path, shot string }{
		{"/journal", "03-journal"}, {"/journal/" + entryID, "04-entry"}, {"/verify", "05-verify"}, {"/accounts", "06-accounts"},
		{"/accounts/201:USDT:alice", "07-statement"}, {"/trial-balance", "08-trial-balance"}, {"/reconciliation", "09-reconciliation"},
		{"/payouts", ""}, {"/affiliates", ""}, {"/affiliates/bob", "11-affiliate"}, {"/affiliates/alice/dashboard", "12-dashboard"},
		{"/programs", ""}, {"/programs/broker", ""},
	}
	for _, role := range []string{"admin", "auditor"} {
		t.Run(role, func(t *testing.T) {
			ctx := f.tab(t)
			f.signIn(t, ctx, role)
			for _, p := range staff {
				f.open(t, ctx, p.path)
				if exists(t, ctx, "#error") {
					t.Errorf("%s %s shows an error: %s", role, p.path, text(t, ctx, "#error"))
				}
				if role == "admin" && p.shot != "" {
					screenshot(t, ctx, p.shot)
				}
			}
			f.open(t, ctx, "/payouts")
			if got, want := exists(t, ctx, "#build-batch"), role == "admin"; got != want {
				t.Errorf("%s: build form shown = %v, want %v", role, got, want)
			}
			f.open(t, ctx, "/programs/broker")
			if got, want := exists(t, ctx, "#save"), role == "admin"; got != want {
				t.Errorf("%s: program save button shown = %v, want %v", role, got, want)
			}
		})
	}
	t.Run("poster", func(t *testing.T) {
		ctx := f.tab(t)
		f.signIn(t, ctx, "poster")
		if !exists(t, ctx, "#nothing") {
			t.Errorf("poster home page does not say there is nothing to read")
		}
		f.open(t, ctx, "/journal")
		if !exists(t, ctx, "#error") || !strings.Contains(text(t, ctx, "#error"), "role may not") {
			t.Errorf("poster opened /journal without a refusal")
		}
	})
	t.Run("affiliate", func(t *testing.T) {
		ctx := f.tab(t)
		f.signIn(t, ctx, "affiliate")
		for _, p := range []string{"/affiliates/carol", "/affiliates/carol/dashboard", "/accounts/208:USDT:carol"} {
			f.open(t, ctx, p)
			if exists(t, ctx, "#error") {
				t.Errorf("affiliate %s shows an error: %s", p, text(t, ctx, "#error"))
			}
		}
		f.open(t, ctx, "/affiliates/carol")
		page := text(t, ctx, "main")
		want := str(obj(listOf(f.apiGet(t, "affiliate", "/v1/affiliates/carol/referees")["data"])[0])["id"])
		if !strings.Contains(page, want) || strings.Contains(page, "dave") || strings.Contains(page, "bob") {
			t.Errorf("affiliate page of carol: want the masked referee %q and no other user's id in clear:\n%s", want, page)
		}
		screenshot(t, ctx, "13-affiliate-own")
		f.open(t, ctx, "/affiliates/carol/dashboard")
		refs := listOf(f.apiGet(t, "affiliate", "/v1/affiliates/carol/referrals")["data"])
		if got, want := text(t, ctx, "#referrals tbody td"), str(obj(refs[0])["referee"]); got != want || strings.Contains(text(t, ctx, "main"), "dave") {
			t.Errorf("carol's dashboard shows referee %q, API (masked) %q", got, want)
		}
		for _, p := range []string{"/affiliates/alice", "/journal", "/trial-balance", "/payouts"} {
			f.open(t, ctx, p)
			if !exists(t, ctx, "#error") {
				t.Errorf("affiliate opened %s without a refusal", p)
			}
		}
	})
}

// testFigures: the trial balance, a statement, the reconciliation and a
// dashboard show exactly the API's figures.
func (f *fixture) testFigures(t *testing.T) {
	ctx := f.tab(t)
	f.signIn(t, ctx, "auditor")

	f.open(t, ctx, "/trial-balance")
	tb := f.apiGet(t, "auditor", "/v1/reports/trial-balance")
	if len(listOf(tb["currencies"])) < 2 {
		t.Fatalf("trial balance has %d currencies, want the demo's", len(listOf(tb["currencies"])))
	}
	for _, c := range listOf(tb["currencies"]) {
		cur := str(obj(c)["currency"])
		sel := fmt.Sprintf(`section[data-currency=%q] `, cur)
		if got, want := text(t, ctx, sel+".total-debits"), str(obj(c)["total_debits"]); got != want {
			t.Errorf("trial balance %s debits = %q, API %q", cur, got, want)
		}
		if got, want := text(t, ctx, sel+".total-credits"), str(obj(c)["total_credits"]); got != want {
			t.Errorf("trial balance %s credits = %q, API %q", cur, got, want)
		}
		if got := text(t, ctx, "#balanced-"+cur); got != "balanced" {
			t.Errorf("trial balance %s says %q, want balanced", cur, got)
		}
	}

	// The journal's seq range, typed into the filter form.
	f.open(t, ctx, "/journal")
	do(t, ctx, chromedp.SendKeys(chromedp.CSS("input[name=from_seq]"), "2"), chromedp.SendKeys(chromedp.CSS("input[name=to_seq]"), "4"),
		chromedp.Click(chromedp.CSS("#filters button")))
	waitURL(t, ctx, "from_seq=2")
	if loc, _ := chromedp.Run(ctx, chromedp.Location()); !strings.Contains(loc, "to_seq=4") {
		t.Errorf("the filtered journal's URL %q does not carry its filters", loc)
	}
	rows, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("#entries > tbody > tr > td:first-child")].map(td => td.innerText.trim())`))
	if err != nil || fmt.Sprint(rows) != "[2 3 4]" {
		t.Errorf("journal seq 2..4 shows seqs %v (%v), want [2 3 4]", rows, err)
	}
	// An entry's page: its hashes are the API's.
	e := obj(listOf(f.apiGet(t, "auditor", "/v1/entries?from_seq=9&to_seq=9")["data"])[0])
	f.open(t, ctx, "/journal/"+str(e["id"]))
	if got := text(t, ctx, "#hash"); got != str(e["hash"]) {
		t.Errorf("entry hash = %q, API %q", got, e["hash"])
	}
	if got := text(t, ctx, "#prev-hash"); got != str(e["prev_hash"]) {
		t.Errorf("entry previous hash = %q, API %q", got, e["prev_hash"])
	}
	f.open(t, ctx, "/verify")
	v := f.apiGet(t, "auditor", "/v1/audit/verify")
	if got := text(t, ctx, "#entries-checked"); got != str(v["entries_checked"]) || !strings.Contains(text(t, ctx, "#result"), "verifies") {
		t.Errorf("verify page: %q entries checked, result %q; API %v", got, text(t, ctx, "#result"), v)
	}

	f.open(t, ctx, "/accounts/201:USDT:alice?from=2026-01-01")
	st := f.apiGet(t, "auditor", "/v1/accounts/201:USDT:alice/statement?from=2026-01-01")
	if got, want := text(t, ctx, "#opening"), str(st["opening_balance"]); got != want {
		t.Errorf("statement opening = %q, API %q", got, want)
	}
	if got, want := text(t, ctx, "#closing"), str(st["closing_balance"]); got != want || want != "750" {
		t.Errorf("statement closing = %q, API %q (demo: 750)", got, want)
	}
	href, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS("#csv"), "href"))
	if err != nil || !strings.Contains(href.Value, "/accounts/201:USDT:alice/statement.csv?from=2026-01-01") {
		t.Errorf("statement CSV link = %q (%v)", href.Value, err)
	}

	f.open(t, ctx, "/reconciliation")
	rec := f.apiGet(t, "auditor", "/v1/reports/reconciliation")
	for _, c := range listOf(rec["currencies"]) {
		cur := str(obj(c)["currency"])
		for _, row := range []string{"fees_booked", "distributed", "accrued_closing"} {
			if got, want := text(t, ctx, fmt.Sprintf(`tr[data-row=%q] td[data-currency=%q]`, row, cur)), str(obj(c)[row]); got != want {
				t.Errorf("reconciliation %s %s = %q, API %q", cur, row, got, want)
			}
		}
	}
	if !exists(t, ctx, "#recon-ok") {
		t.Errorf("reconciliation page has no verdict")
	}

	// The demo's trades were executed on 2026-01-02, and statistics are by
	// business time: the month that holds them, not the last 30 days.
	const demoMonth = "from=2026-01-01T00:00:00Z&to=2026-02-01T00:00:00Z"
	f.open(t, ctx, "/affiliates/alice/dashboard?interval=day&group_by=level&"+demoMonth)
	stats := f.apiGet(t, "auditor", "/v1/affiliates/alice/stats?interval=day&group_by=level&"+demoMonth)
	if got, want := text(t, ctx, "#total-commission"), str(obj(stats["totals"])["commission"]); got != want || want == "0" {
		t.Errorf("dashboard commission = %q, API %q (want the demo's non-zero commission)", got, want)
	}
	if !exists(t, ctx, "svg.chart rect") {
		t.Errorf("dashboard has no bar chart")
	}
}

// testProgramInvalid: an edit with a rate above 1 shows the API's refusal
// next to the levels field and changes nothing.
func (f *fixture) testProgramInvalid(t *testing.T) {
	before := f.apiGet(t, "admin", "/v1/programs")
	log := len(listOf(f.apiGet(t, "admin", "/v1/audit/log?object=program:broker")["data"]))
	ctx := f.tab(t)
	f.signIn(t, ctx, "admin")
	f.open(t, ctx, "/programs/broker")
	do(t, ctx, chromedp.SetValue(chromedp.CSS("#levels"), "0.25, 1.5, 0.05"), chromedp.Click(chromedp.CSS("#save")),
		chromedp.WaitVisible(chromedp.CSS("#levels-error")))
	if got := text(t, ctx, "#levels-error"); !strings.Contains(got, "1.5") {
		t.Errorf("error next to levels = %q, want the API's refusal of 1.5", got)
	}
	if v, _ := chromedp.Run(ctx, chromedp.Value(chromedp.CSS("#levels"))); v != "0.25, 1.5, 0.05" {
		t.Errorf("the form lost the typed value: %q", v)
	}
	screenshot(t, ctx, "14-program-error")
	after := f.apiGet(t, "admin", "/v1/programs")
	if b, a := fmt.Sprint(before), fmt.Sprint(after); a != b {
		t.Errorf("programs changed by a refused edit:\nbefore %s\nafter  %s", b, a)
	}
	if n := len(listOf(f.apiGet(t, "admin", "/v1/audit/log?object=program:broker")["data"])); n != log {
		t.Errorf("audit log of program:broker has %d records, want %d", n, log)
	}
	// A valid edit goes through and shows in the audit log.
	do(t, ctx, chromedp.SetValue(chromedp.CSS("#levels"), "0.25, 0.10, 0.05, 0.01"), chromedp.Click(chromedp.CSS("#save")),
		chromedp.WaitVisible(chromedp.CSS("#saved")))
	if n := len(listOf(f.apiGet(t, "admin", "/v1/audit/log?object=program:broker")["data"])); n != log+1 {
		t.Errorf("audit log after a valid edit has %d records, want %d", n, log+1)
	}
	if got := text(t, ctx, "#audit"); !strings.Contains(got, "0.01") {
		t.Errorf("the page's audit log does not show the change")
	}
}

// testPayout: a batch built in the console shows its fraud hold with the
// reason, the hold is cleared, approval is refused to the builder, a second
// admin approves and executes it after a confirmation.
func (f *fixture) testPayout(t *testing.T) {
	// Lines above 20 USD a year need a tax id: carol's 29.95 is held.
	f.apiDo(t, "admin", http.MethodPut, "/v1/payouts/fraud-rules", `{"tax_threshold": "20"}`)
	ada := f.tab(t)
	f.signIn(t, ada, "admin")
	f.open(t, ada, "/payouts")
	do(t, ada, chromedp.Click(chromedp.CSS("#build-batch")), chromedp.WaitVisible(chromedp.CSS("#batch-status")))
	if got := text(t, ada, "#batch-status"); got != "draft" {
		t.Fatalf("built batch status = %q, want draft", got)
	}
	id := text(t, ada, "#batch-id")
	if got := text(t, ada, "#four-eyes"); !strings.Contains(got, "you built this batch") {
		t.Errorf("four-eyes note for the builder = %q", got)
	}
	screenshot(t, ada, "10-payout-draft")
	if got := text(t, ada, "#lines"); !strings.Contains(got, "held") || !strings.Contains(got, "tax") {
		t.Errorf("lines %q: want carol's line held with the tax rule's reason", got)
	}
	do(t, ada, chromedp.Click(chromedp.CSS(`#lines input[name=line]`)), chromedp.Click(chromedp.CSS("#clear-lines")), chromedp.WaitVisible(chromedp.CSS("#done")))
	for _, l := range listOf(f.apiGet(t, "admin", "/v1/payouts/batches/"+id)["lines"]) {
		if st := str(obj(l)["status"]); st != "ok" {
			t.Errorf("after clearing, line of %v is %q, want ok", obj(l)["holder"], st)
		}
	}
	do(t, ada, chromedp.Click(chromedp.CSS("#approve")), chromedp.WaitVisible(chromedp.CSS("#error")))
	if got := text(t, ada, "#error"); got == "" {
		t.Errorf("approval by the builder shows no refusal")
	}
	if got := text(t, ada, "#batch-status"); got != "draft" {
		t.Errorf("after the builder's approval attempt the batch is %q, want draft", got)
	}
	if st := str(f.apiGet(t, "admin", "/v1/payouts/batches/"+id)["status"]); st != "draft" {
		t.Fatalf("API: batch %s is %q after the refused approval, want draft", id, st)
	}

	grace := f.tab(t)
	f.signIn(t, grace, "admin2")
	f.open(t, grace, "/payouts/"+id)
	do(t, grace, chromedp.Click(chromedp.CSS("#approve")), chromedp.WaitVisible(chromedp.CSS("#done")))
	if got := text(t, grace, "#batch-status"); got != "approved" {
		t.Fatalf("after the second admin's approval the batch is %q", got)
	}
	do(t, grace, chromedp.Click(chromedp.CSS("#execute")), chromedp.WaitVisible(chromedp.CSS("#confirm-execute")))
	if st := str(f.apiGet(t, "admin", "/v1/payouts/batches/"+id)["status"]); st != "approved" {
		t.Errorf("the confirmation page executed already: %q", st)
	}
	do(t, grace, chromedp.Click(chromedp.CSS("#confirm-execute")), chromedp.WaitVisible(chromedp.CSS("#done")))
	if got := text(t, grace, "#batch-status"); got != "executed" {
		t.Errorf("after execution the page says %q", got)
	}
	b := f.apiGet(t, "admin", "/v1/payouts/batches/"+id)
	if str(b["status"]) != "executed" || str(b["created_by"]) != f.keyIDs["admin"] || str(b["approved_by"]) != f.keyIDs["admin2"] {
		t.Errorf("API batch: status %v built by %v approved by %v; want executed, %s, %s", b["status"], b["created_by"], b["approved_by"], f.keyIDs["admin"], f.keyIDs["admin2"])
	}
	if got := text(t, grace, "#outbox"); !strings.Contains(got, "no webhook configured") {
		t.Errorf("outbox state = %q, want paid at execution (the test server has no webhook)", got)
	}
	if got := text(t, grace, "#trail"); !strings.Contains(got, "payout.approve") || !strings.Contains(got, "payout.execute") || !strings.Contains(got, "Grace") {
		t.Errorf("review trail %q lacks the approval by Grace and the execution", got)
	}
	screenshot(t, grace, "15-payout-executed")
}

func listOf(v any) []any {
	l, _ := v.([]any)
	return l
}

func obj(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

func str(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case json.Number:
		return x.String()
	}
	return fmt.Sprint(v)
}

// seedDemo writes the data of `folio serve --demo` (cmd/folio/demo.go):
// currencies, seven manual entries, the broker program (25/10/5%) on
// alice → bob → carol → dave with their codes, and four trades.
func seedDemo(t *testing.T, db *schema.DB, l *ledger.Ledger, svc *affiliate.Service) {
	t.Helper()
	ctx := context.Background()
	now := time.Now()
	err := db.Tx(ctx, func(tx pgx.Tx) error {
		for _, c := range []accounts.Currency{{ID: "USD", Precision: 2, Enabled: true}, {ID: "USDT", Precision: 6, Enabled: true},
			{ID: "BTC", Precision: 8, Enabled: true}, {ID: "TOKEN", Precision: 0, Enabled: true}} {
			if _, err := accounts.PutCurrency(ctx, tx, c, "demo", now, ledger.InUse); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("currencies: %v", err)
	}
	p := func(account string, side accounts.Side, amount string) ledger.NewPosting {
		return ledger.NewPosting{Account: account, Side: side, Amount: amount}
	}
	dr, cr := accounts.Debit, accounts.Credit
	entry := func(key, desc string, pending bool, ps ...ledger.NewPosting) ledger.NewEntry {
		return ledger.NewEntry{IdempotencyKey: key, Kind: ledger.KindManual, Description: desc, Pending: pending, Postings: ps}
	}
	results, err := l.Post(ctx, []ledger.NewEntry{
		entry("demo:deposit:alice:usdt", "alice deposits 1000 USDT into the hot wallet", false, p("110:USDT", dr, "1000"), p("201:USDT:alice", cr, "1000")),
		entry("demo:transfer:alice:trading", "alice moves 250 USDT to her trading account", false, p("201:USDT:alice", dr, "250"), p("202:USDT:alice", cr, "250")),
		entry("demo:fee:alice:1", "trading fee on alice's first trade", false, p("202:USDT:alice", dr, "1.25"), p("605:USDT", cr, "1.25")),
		entry("demo:deposit:bob:btc", "bob deposits 0.5 BTC", false, p("110:BTC", dr, "0.5"), p("201:BTC:bob", cr, "0.5")),
		entry("demo:withdrawal:alice:1", "alice withdraws 100 USDT (pending until the chain confirms)", true, p("201:USDT:alice", dr, "100"), p("230:USDT:alice", cr, "100")),
		entry("demo:deposit:dave:trading", "dave deposits 500 USDT into his trading account", false, p("110:USDT", dr, "500"), p("202:USDT:dave", cr, "500")),
		entry("demo:deposit:carol:trading", "carol deposits 100 USDT into her trading account", false, p("110:USDT", dr, "100"), p("202:USDT:carol", cr, "100")),
	}, ledger.Options{})
	if err != nil {
		t.Fatalf("entries: %v", err)
	}
	for _, r := range results {
		if r.Err != nil {
			t.Fatalf("entry: %v", r.Err)
		}
	}
	signup := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := svc.PutFeeRate(ctx, affiliate.FeeRate{Maker: *apd.New(1, -3), Taker: *apd.New(2, -3)}, "demo"); err != nil {
		t.Fatal(err)
	}
	if err := svc.PutRate(ctx, "USDT", "USD", "demo", *apd.New(1, 0), signup, "demo"); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.PutProgram(ctx, "broker", affiliate.ProgramSpec{Kind: affiliate.KindLevels, Levels: []string{"0.25", "0.10", "0.05"}, Default: true}, "demo"); err != nil {
		t.Fatal(err)
	}
	join := ""
	for _, n := range []struct{ user, code string }{{"alice", "ALCE22"}, {"bob", "BBBB22"}, {"carol", "CARL22"}, {"dave", ""}} {
		if _, _, err := svc.CreateUser(ctx, affiliate.NewUser{ID: n.user, ReferralCode: join, RegisteredAt: signup}); err != nil {
			t.Fatalf("user %s: %v", n.user, err)
		}
		if n.code != "" {
			if _, err := svc.CreateCode(ctx, n.user, affiliate.NewCode{Code: n.code, Note: "demo"}, "demo"); err != nil {
				t.Fatalf("code %s: %v", n.code, err)
			}
		}
		join = n.code
	}
	at := func(h int) time.Time { return time.Date(2026, 1, 2, h, 0, 0, 0, time.UTC) }
	usdt := func(amount string) *affiliate.Money { return &affiliate.Money{Amount: amount, Currency: "USDT"} }
	trades, err := svc.PostTrades(ctx, []affiliate.NewTrade{
		{ID: "demo-t1", UserID: "dave", Market: "BTCUSDT", Liquidity: "taker", Fee: usdt("100"), ExecutedAt: at(9)},
		{ID: "demo-t2", UserID: "dave", Market: "ETHUSDT", Liquidity: "maker", Fee: usdt("12.5"), ExecutedAt: at(10)},
		{ID: "demo-t3", UserID: "dave", Market: "BTCUSDT", Liquidity: "taker", Fee: usdt("7.3"), ExecutedAt: at(11)},
		{ID: "demo-t4", UserID: "carol", Market: "BTCUSDT", Liquidity: "taker", Volume: usdt("5000"), ExecutedAt: at(12)},
	})
	if err != nil {
		t.Fatalf("trades: %v", err)
	}
	for _, r := range trades {
		if r.Status != affiliate.TradeCreated {
			t.Fatalf("trade %s: %s %v", r.ID, r.Status, r.Err)
		}
	}
}
