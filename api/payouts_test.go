package api

import (
	"context"
	"encoding/csv"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/folioledger/folio"
	"github.com/folioledger/folio/keys"
)

// Payout tests run through the real router on a fresh database. The
// server's clock, the ledger's and the affiliate service's are the env's
// test clock (api.New gives the default affiliate service Config.Now), so
// hold periods and outbox backoffs are driven by advancing it. Every test
// ends by checking that the reconciliation report is clean: 208 rolls
// forward (accrued − paid − forfeited = balance) and 101 is empty.

// apiKey is a key's id (the audit actor) and secret.
type apiKey struct{ id, secret string }

// payoutFixture is an env with an affiliate tree, two admin keys for
// four-eyes and an auditor key.
type payoutFixture struct {
	*env
	t              *testing.T
	admin1, admin2 apiKey
	auditor        apiKey
	codes          map[string]string // owner → a referral code
	seq            int               // for generated ids
}

func newPayoutFixture(t *testing.T) *payoutFixture {
	t.Helper()
	e := newEnv(t)
	e.currencies()
	f := &payoutFixture{env: e, t: t, codes: map[string]string{}}
	f.admin1, f.admin2, f.auditor = f.newKey(keys.RoleAdmin, ""), f.newKey(keys.RoleAdmin, ""), f.newKey(keys.RoleAuditor, "")
	f.fxRate("USDT", "USD", "1")
	t.Cleanup(func() {
		if !t.Failed() {
			f.reconciled()
		}
	})
	return f
}

func (f *payoutFixture) newKey(role, holder string) apiKey {
	f.t.Helper()
	info, secret, err := keys.Create(context.Background(), f.app, role, holder, "test", "test")
	if err != nil {
		f.t.Fatalf("keys.Create(%s): %v", role, err)
	}
	return apiKey{info.ID, secret}
}

// call sends a request with the bootstrap admin key unless q.Key is set.
func (f *payoutFixture) call(want int, q req) *response {
	f.t.Helper()
	if q.Key == "" {
		q.Key = bootstrapKey
	}
	return f.must(want, q)
}

// program puts a program (201 or 200).
func (f *payoutFixture) program(id string, spec map[string]any) {
	f.t.Helper()
	res := f.do(req{Method: "PUT", Path: "/v1/programs/" + id, Key: bootstrapKey, Body: spec})
	if res.Status != http.StatusCreated && res.Status != http.StatusOK {
		f.t.Fatalf("PUT /v1/programs/%s = %d %s", id, res.Status, res.Body)
	}
}

// levels puts the default levels program "broker" with the given rates and
// payout policy (nil: none).
func (f *payoutFixture) levels(payout map[string]any, rates ...string) {
	f.t.Helper()
	spec := map[string]any{"kind": "levels", "levels": rates, "default": true}
	if payout != nil {
		spec["payout"] = payout
	}
	f.program("broker", spec)
}

// user registers a user who joins through referrer's code (referrer "" =
// none), with optional signup IP, device and registration time.
type userSpec struct {
	id, referrer, ip, device string
	registered               time.Time
}

func (f *payoutFixture) user(u userSpec) {
	f.t.Helper()
	body := map[string]any{"id": u.id}
	if u.referrer != "" {
		body["referral_code"] = f.code(u.referrer)
	}
	if u.ip != "" {
		body["signup_ip"] = u.ip
	}
	if u.device != "" {
		body["device_id"] = u.device
	}
	if !u.registered.IsZero() {
		body["registered_at"] = formatTime(u.registered)
	}
	f.call(http.StatusCreated, req{Method: "POST", Path: "/v1/users", Body: body})
}

// chain registers ids, each referred by the previous one.
func (f *payoutFixture) chain(ids ...string) {
	f.t.Helper()
	for i, id := range ids {
		u := userSpec{id: id}
		if i > 0 {
			u.referrer = ids[i-1]
		}
		f.user(u)
	}
}

// code returns a referral code of owner, creating one the first time.
func (f *payoutFixture) code(owner string) string {
	f.t.Helper()
	if c, ok := f.codes[owner]; ok {
		return c
	}
	res := f.call(http.StatusCreated, req{Method: "POST", Path: "/v1/affiliates/" + owner + "/codes", Body: map[string]any{}}).JSON(f.t)
	c, _ := res["code"].(string)
	if c == "" {
		f.t.Fatalf("POST /v1/affiliates/%s/codes gave no code: %v", owner, res)
	}
	f.codes[owner] = c
	return c
}

// tradeSpec is a USDT trade; fee and volume may be "".
type tradeSpec struct {
	id, user, fee, volume, counterparty, market string
}

// trades books trades through POST /v1/trades; every one must be created.
func (f *payoutFixture) trades(ts ...tradeSpec) {
	f.t.Helper()
	var items []map[string]any
	for _, tr := range ts {
		if tr.id == "" {
			f.seq++
			tr.id = fmt.Sprintf("t-%d", f.seq)
		}
		if tr.market == "" {
			tr.market = "BTCUSDT"
		}
		it := map[string]any{"id": tr.id, "user_id": tr.user, "market": tr.market, "liquidity": "taker",
			"executed_at": formatTime(f.clock.Now().Add(-time.Minute))}
		if tr.fee != "" {
			it["fee"] = map[string]any{"amount": tr.fee, "currency": "USDT"}
		}
		if tr.volume != "" {
			it["volume"] = map[string]any{"amount": tr.volume, "currency": "USDT"}
		}
		if tr.counterparty != "" {
			it["counterparty_id"] = tr.counterparty
		}
		items = append(items, it)
	}
	var out struct {
		Results []tradeResultJSON `json:"results"`
	}
	f.call(http.StatusOK, req{Method: "POST", Path: "/v1/trades", Key: bootstrapKey, Body: map[string]any{"trades": items}}).Decode(f.t, &out)
	for _, r := range out.Results {
		if r.Status != "created" {
			f.t.Fatalf("trade %s: %s %+v", r.ID, r.Status, r.Error)
		}
	}
}

// trade books one trade of user with the given fee.
func (f *payoutFixture) trade(user, fee string) {
	f.t.Helper()
	f.trades(tradeSpec{user: user, fee: fee})
}

// event records a lifecycle event (deposits of 100 USDT).
func (f *payoutFixture) event(user, typ string) {
	f.t.Helper()
	f.seq++
	body := map[string]any{"id": fmt.Sprintf("ev-%d", f.seq), "type": typ}
	if strings.HasSuffix(typ, "deposit") {
		body["amount"], body["currency"] = "100", "USDT"
	}
	res := f.do(req{Method: "POST", Path: "/v1/users/" + user + "/events", Key: bootstrapKey, Body: body})
	if res.Status != http.StatusCreated && res.Status != http.StatusOK {
		f.t.Fatalf("POST /v1/users/%s/events %s = %d %s", user, typ, res.Status, res.Body)
	}
}

func (f *payoutFixture) fxRate(base, quote, rate string) {
	f.t.Helper()
	// In force from 2020 on: accruals convert at the rate in force when the
	// trade was executed, and the trades of these tests are dated 2026.
	res := f.do(req{Method: "PUT", Path: "/v1/rates/" + base + "/" + quote, Key: bootstrapKey, Body: map[string]any{"rate": rate, "at": "2020-01-01T00:00:00Z"}})
	if res.Status != http.StatusOK && res.Status != http.StatusCreated {
		f.t.Fatalf("PUT /v1/rates/%s/%s = %d %s", base, quote, res.Status, res.Body)
	}
}

func (f *payoutFixture) fraudRules(body map[string]any) {
	f.t.Helper()
	f.call(http.StatusOK, req{Method: "PUT", Path: "/v1/payouts/fraud-rules", Body: body})
}

// balance returns an account's balance.
func (f *payoutFixture) balance(account string) string {
	f.t.Helper()
	b, _ := f.call(http.StatusOK, req{Method: "GET", Path: "/v1/accounts/" + account + "/balance"}).JSON(f.t)["balance"].(string)
	return b
}

// wantBalances checks balances.
func (f *payoutFixture) wantBalances(want map[string]string) {
	f.t.Helper()
	for _, acct := range sortedKeys(want) {
		if got := f.balance(acct); got != want[acct] {
			f.t.Errorf("balance %s = %s, want %s", acct, got, want[acct])
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// build builds a batch as admin1 and wants status.
func (f *payoutFixture) build(want int) payoutBatchJSON {
	f.t.Helper()
	var b payoutBatchJSON
	res := f.call(want, req{Method: "POST", Path: "/v1/payouts/batches", Key: f.admin1.secret})
	if want < 300 {
		res.Decode(f.t, &b)
	} else if code := problemCode(f.t, res); code != folio.ENOTFOUND {
		f.t.Fatalf("build = %d %s, want not_found", res.Status, res.Body)
	}
	return b
}

// act posts to /v1/payouts/batches/{id}/{action} with key and wants status.
func (f *payoutFixture) act(want int, key apiKey, id, action string, body any) payoutBatchJSON {
	f.t.Helper()
	var b payoutBatchJSON
	res := f.call(want, req{Method: "POST", Path: "/v1/payouts/batches/" + id + "/" + action, Key: key.secret, Body: body})
	if want < 300 {
		res.Decode(f.t, &b)
	}
	return b
}

// pay approves (admin2) and executes a batch.
func (f *payoutFixture) pay(id string) payoutBatchJSON {
	f.t.Helper()
	f.act(http.StatusOK, f.admin2, id, "approve", nil)
	return f.act(http.StatusCreated, f.admin2, id, "execute", nil)
}

// lineOf returns the line of holder in a batch.
func lineOf(t *testing.T, b payoutBatchJSON, holder string) payoutLineJSON {
	t.Helper()
	for _, l := range b.Lines {
		if l.Holder == holder {
			return l
		}
	}
	t.Fatalf("batch %s has no line for %s: %+v", b.ID, holder, b.Lines)
	return payoutLineJSON{}
}

// holders returns "holder:amount:status" of a batch's lines, sorted.
func holders(b payoutBatchJSON) []string {
	var out []string
	for _, l := range b.Lines {
		out = append(out, l.Holder+":"+l.Amount+":"+l.Status)
	}
	slices.Sort(out)
	return out
}

func flagRules(l payoutLineJSON) []string {
	var out []string
	for _, fl := range l.Flags {
		out = append(out, fl.Rule)
	}
	return out
}

// payoutEntries counts payout entries through GET /v1/entries?kind=payout.
func (f *payoutFixture) payoutEntries() []entryJSON {
	f.t.Helper()
	var out listJSON[entryJSON]
	f.call(http.StatusOK, req{Method: "GET", Path: "/v1/entries?kind=payout", Key: f.auditor.secret}).Decode(f.t, &out)
	return out.Data
}

// reconciled checks GET /v1/reports/reconciliation: ok and no
// discrepancies.
func (f *payoutFixture) reconciled() map[string]any {
	f.t.Helper()
	rep := f.call(http.StatusOK, req{Method: "GET", Path: "/v1/reports/reconciliation", Key: f.auditor.secret}).JSON(f.t)
	if rep["ok"] != true {
		f.t.Errorf("reconciliation is not clean: %v", rep["discrepancies"])
	}
	return rep
}

// brokerTree is the contract's (docs/CONTRACT.md) example: A ← B ← C ← D, levels 25/10/5%.
func (f *payoutFixture) brokerTree(payout map[string]any) {
	f.t.Helper()
	f.levels(payout, "0.25", "0.10", "0.05")
	f.chain("A", "B", "C", "D")
}

// TestPayoutLifecycle: build → the builder's approval is refused (403) →
// another admin approves → execute moves 208 to 201 → executing again
// writes nothing (200, Idempotency-Replayed) → the accruals are never
// offered twice.
func TestPayoutLifecycle(t *testing.T) {
	f := newPayoutFixture(t)
	f.brokerTree(nil)
	f.trade("D", "100")

	b := f.build(http.StatusCreated)
	if b.Status != "draft" || b.CreatedBy != f.admin1.id || b.Cutoff != "2026-01-10T12:00:00Z" || b.EntryID != nil || !strings.HasPrefix(b.ID, "pb_") {
		t.Fatalf("built batch = %+v", b)
	}
	if got, want := holders(b), []string{"A:5:ok", "B:10:ok", "C:25:ok"}; !slices.Equal(got, want) {
		t.Fatalf("lines = %v, want %v", got, want)
	}
	for _, l := range b.Lines {
		if l.Currency != "USDT" || len(l.Flags) != 0 || l.Accruals != 1 {
			t.Errorf("line %+v, want USDT, no flags, 1 accrual", l)
		}
	}
	var got payoutBatchJSON
	f.call(http.StatusOK, req{Method: "GET", Path: "/v1/payouts/batches/" + b.ID, Key: f.auditor.secret}).Decode(t, &got)
	if got.ID != b.ID || len(got.Lines) != 3 {
		t.Fatalf("GET batch = %+v", got)
	}

	// Four-eyes: the builder may not approve; executing a draft is refused.
	res := f.call(http.StatusForbidden, req{Method: "POST", Path: "/v1/payouts/batches/" + b.ID + "/approve", Key: f.admin1.secret})
	if code := problemCode(t, res); code != folio.EFORBIDDEN {
		t.Errorf("self-approval code = %s, want forbidden", code)
	}
	f.act(http.StatusConflict, f.admin2, b.ID, "execute", nil)
	approved := f.act(http.StatusOK, f.admin2, b.ID, "approve", nil)
	if approved.Status != "approved" || approved.ApprovedBy == nil || *approved.ApprovedBy != f.admin2.id {
		t.Fatalf("approved batch = %+v", approved)
	}
	f.act(http.StatusConflict, f.admin1, b.ID, "approve", nil)

	f.wantBalances(map[string]string{"208:USDT:C": "25", "201:USDT:C": "0"})
	executed := f.act(http.StatusCreated, f.admin2, b.ID, "execute", nil)
	if executed.Status != "executed" || executed.EntryID == nil || executed.ExecutedAt == nil {
		t.Fatalf("executed batch = %+v", executed)
	}
	for _, l := range executed.Lines {
		if l.Status != "paid" || l.EntryID == nil || *l.EntryID != *executed.EntryID {
			t.Errorf("line %s after execution = %+v, want paid by %s", l.Holder, l, *executed.EntryID)
		}
	}
	f.wantBalances(map[string]string{
		"208:USDT:A": "0", "208:USDT:B": "0", "208:USDT:C": "0",
		"201:USDT:A": "5", "201:USDT:B": "10", "201:USDT:C": "25",
	})

	// Executing again replays: 200, the same batch, nothing written.
	res = f.call(http.StatusOK, req{Method: "POST", Path: "/v1/payouts/batches/" + b.ID + "/execute", Key: f.admin1.secret})
	if res.Header.Get("Idempotency-Replayed") != "true" {
		t.Errorf("re-execute: Idempotency-Replayed = %q, want true", res.Header.Get("Idempotency-Replayed"))
	}
	var again payoutBatchJSON
	res.Decode(t, &again)
	if *again.EntryID != *executed.EntryID {
		t.Errorf("re-execute entry = %s, want %s", *again.EntryID, *executed.EntryID)
	}
	entries := f.payoutEntries()
	if len(entries) != 1 || entries[0].ID != *executed.EntryID || entries[0].BatchID == nil || *entries[0].BatchID != b.ID || len(entries[0].Postings) != 6 {
		t.Fatalf("payout entries = %+v, want one for batch %s with 6 postings", entries, b.ID)
	}
	f.wantBalances(map[string]string{"201:USDT:C": "25"})

	// The accruals are consumed: nothing is payable; an executed batch
	// cannot be rejected or change its lines.
	f.build(http.StatusNotFound)
	f.act(http.StatusConflict, f.admin1, b.ID, "reject", nil)
	f.act(http.StatusConflict, f.admin1, b.ID, "reject-lines", map[string]any{"lines": []string{b.Lines[0].ID}})

	// The audit log names both admins.
	var audit listJSON[map[string]any]
	f.call(http.StatusOK, req{Method: "GET", Path: "/v1/audit/log?object=payout_batch:" + b.ID}).Decode(t, &audit)
	var trail []string
	for _, rec := range audit.Data {
		trail = append(trail, fmt.Sprint(rec["action"], " by ", rec["actor"]))
	}
	slices.Sort(trail) // one clock instant: the log's order among them is the ids'
	if want := []string{"payout.approve by " + f.admin2.id, "payout.build by " + f.admin1.id, "payout.execute by " + f.admin2.id}; !slices.Equal(trail, want) {
		t.Errorf("audit trail = %v, want %v", trail, want)
	}
}

// TestPayoutConcurrentExecute: concurrent executions of one batch write
// exactly one journal entry; one call answers 201, the others replay.
func TestPayoutConcurrentExecute(t *testing.T) {
	f := newPayoutFixture(t)
	f.brokerTree(nil)
	f.trade("D", "100")
	b := f.build(http.StatusCreated)
	f.act(http.StatusOK, f.admin2, b.ID, "approve", nil)

	const n = 8
	statuses := make([]int, n)
	replayed := make([]string, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			res := f.do(req{Method: "POST", Path: "/v1/payouts/batches/" + b.ID + "/execute", Key: f.admin2.secret})
			statuses[i], replayed[i] = res.Status, res.Header.Get("Idempotency-Replayed")
		})
	}
	close(start)
	wg.Wait()
	created := 0
	for i := range n {
		switch {
		case statuses[i] == http.StatusCreated && replayed[i] == "":
			created++
		case statuses[i] == http.StatusOK && replayed[i] == "true":
		default:
			t.Errorf("execute %d = %d (Idempotency-Replayed %q), want 201 once and 200 replays", i, statuses[i], replayed[i])
		}
	}
	if created != 1 {
		t.Errorf("%d executions answered 201, want 1", created)
	}
	if entries := f.payoutEntries(); len(entries) != 1 {
		t.Errorf("payout entries = %d, want 1", len(entries))
	}
	f.wantBalances(map[string]string{"201:USDT:C": "25", "201:USDT:B": "10", "201:USDT:A": "5"})
}

// TestPayoutHeldLines: a self-referral (the referee signed up from the
// affiliate's IP) holds the affiliate's line; a held line is not paid when
// its batch executes (it is released, its accruals payable again) and is
// paid once an admin clears it.
func TestPayoutHeldLines(t *testing.T) {
	f := newPayoutFixture(t)
	f.levels(nil, "0.25", "0.10")
	f.user(userSpec{id: "A", ip: "198.51.100.7"})
	f.user(userSpec{id: "B", referrer: "A", ip: "198.51.100.7"})
	f.user(userSpec{id: "C", referrer: "B", ip: "198.51.100.8"})
	f.trade("C", "100") // B 25, A 10

	b := f.build(http.StatusCreated)
	a := lineOf(t, b, "A")
	if a.Status != "held" || !slices.Equal(flagRules(a), []string{"self_referral"}) || !strings.Contains(a.Flags[0].Detail, "referee B ") {
		t.Fatalf("A's line = %+v, want held for self_referral naming the referee", a)
	}
	if l := lineOf(t, b, "B"); l.Status != "ok" || len(l.Flags) != 0 {
		t.Fatalf("B's line = %+v, want ok without flags", l)
	}
	done := f.pay(b.ID)
	if got, want := holders(done), []string{"A:10:released", "B:25:paid"}; !slices.Equal(got, want) {
		t.Fatalf("lines after execution = %v, want %v", got, want)
	}
	f.wantBalances(map[string]string{"208:USDT:A": "10", "201:USDT:A": "0", "201:USDT:B": "25"})

	// The released accruals come back, held again; cleared, they are paid.
	b2 := f.build(http.StatusCreated)
	a = lineOf(t, b2, "A")
	if len(b2.Lines) != 1 || a.Status != "held" {
		t.Fatalf("second batch = %v, want A's line held again", holders(b2))
	}
	f.act(http.StatusNotFound, f.admin1, b2.ID, "clear-lines", map[string]any{"lines": []string{lineOf(t, done, "B").ID}}) // not in this batch
	f.act(http.StatusBadRequest, f.admin1, b2.ID, "clear-lines", map[string]any{"lines": []string{a.ID}, "forfeit": true})
	cleared := f.act(http.StatusOK, f.admin1, b2.ID, "clear-lines", map[string]any{"lines": []string{a.ID}})
	if l := lineOf(t, cleared, "A"); l.Status != "ok" || l.DecidedBy == nil || *l.DecidedBy != f.admin1.id || len(l.Flags) != 1 {
		t.Fatalf("cleared line = %+v, want ok, decided by admin1, its flag kept", l)
	}
	f.act(http.StatusConflict, f.admin1, b2.ID, "clear-lines", map[string]any{"lines": []string{a.ID}}) // no longer held
	f.pay(b2.ID)
	f.wantBalances(map[string]string{"208:USDT:A": "0", "201:USDT:A": "10"})
	f.build(http.StatusNotFound)
}

// TestPayoutRejectLines: a line rejected with forfeit moves its amount from
// 208 to 606 (Dr 208 / Cr 606) and is never offered again; one rejected
// without forfeit stays pending and comes back in the next batch; a
// rejected batch returns every accrual.
func TestPayoutRejectLines(t *testing.T) {
	f := newPayoutFixture(t)
	f.brokerTree(nil)
	f.trade("D", "100")
	b := f.build(http.StatusCreated)
	c, bl := lineOf(t, b, "C"), lineOf(t, b, "B")

	forfeited := f.act(http.StatusOK, f.admin1, b.ID, "reject-lines", map[string]any{"lines": []string{c.ID}, "forfeit": true})
	if l := lineOf(t, forfeited, "C"); l.Status != "rejected" || !l.Forfeited || l.EntryID == nil {
		t.Fatalf("forfeited line = %+v", l)
	}
	f.wantBalances(map[string]string{"208:USDT:C": "0", "606:USDT": "25", "201:USDT:C": "0"})
	var forfeit entryDetailJSON
	f.call(http.StatusOK, req{Method: "GET", Path: "/v1/entries/" + *lineOf(t, forfeited, "C").EntryID}).Decode(t, &forfeit)
	if forfeit.Kind != "forfeit" || forfeit.BatchID == nil || *forfeit.BatchID != b.ID || len(forfeit.Postings) != 2 ||
		forfeit.Postings[0].Account != "208:USDT:C" || forfeit.Postings[0].Side != "debit" || forfeit.Postings[1].Account != "606:USDT" {
		t.Fatalf("forfeit entry = %+v", forfeit)
	}
	f.act(http.StatusConflict, f.admin1, b.ID, "reject-lines", map[string]any{"lines": []string{c.ID}}) // already rejected
	f.act(http.StatusNotFound, f.admin1, b.ID, "reject-lines", map[string]any{"lines": []string{"00000000-0000-4000-8000-000000000000"}})

	kept := f.act(http.StatusOK, f.admin1, b.ID, "reject-lines", map[string]any{"lines": []string{bl.ID}, "forfeit": false})
	if l := lineOf(t, kept, "B"); l.Status != "rejected" || l.Forfeited || l.EntryID != nil {
		t.Fatalf("line rejected without forfeit = %+v", l)
	}
	f.pay(b.ID)
	f.wantBalances(map[string]string{"201:USDT:A": "5", "201:USDT:B": "0", "208:USDT:B": "10", "606:USDT": "25"})

	// B's accruals are payable again, C's are gone.
	b2 := f.build(http.StatusCreated)
	if got, want := holders(b2), []string{"B:10:ok"}; !slices.Equal(got, want) {
		t.Fatalf("next batch = %v, want %v", got, want)
	}
	rejected := f.act(http.StatusOK, f.admin2, b2.ID, "reject", nil)
	if rejected.Status != "rejected" {
		t.Fatalf("rejected batch = %+v", rejected)
	}
	f.act(http.StatusConflict, f.admin2, b2.ID, "approve", nil)
	f.clock.Advance(time.Second) // another cut-off: a new batch id
	b3 := f.build(http.StatusCreated)
	if got, want := holders(b3), []string{"B:10:ok"}; !slices.Equal(got, want) || b3.ID == b2.ID {
		t.Fatalf("batch after a rejected one = %v (%s), want %v in a new batch", got, b3.ID, want)
	}
	f.pay(b3.ID)
	f.wantBalances(map[string]string{"208:USDT:B": "0", "201:USDT:B": "10"})
	rep := f.reconciled()
	cur := rep["currencies"].([]any)[0].(map[string]any)
	if cur["forfeited"] != "25" || cur["paid_out"] != "15" || cur["accrued"] != "40" || cur["accrued_closing"] != "0" {
		t.Errorf("reconciliation USDT = %v, want accrued 40, paid 15, forfeited 25, closing 0", cur)
	}
}

// TestPayoutPolicy: the program's payout policy (PUT /v1/programs/{id})
// keeps accruals younger than the hold period and lines below the minimum
// out of batches; they stay payable.
func TestPayoutPolicy(t *testing.T) {
	f := newPayoutFixture(t)
	f.brokerTree(map[string]any{"minimum": map[string]string{"USDT": "50"}, "hold_period": "24h"})
	f.trade("D", "100") // C 25, B 10, A 5

	f.build(http.StatusNotFound) // every accrual is younger than 24 h
	f.clock.Advance(25 * time.Hour)
	f.build(http.StatusNotFound) // payable, but every line is below 50
	f.trade("D", "100")          // C reaches 50, but half is on hold
	f.build(http.StatusNotFound)
	f.clock.Advance(25 * time.Hour)
	b := f.build(http.StatusCreated)
	if got, want := holders(b), []string{"C:50:ok"}; !slices.Equal(got, want) {
		t.Fatalf("lines = %v, want %v (B 20 and A 10 stay below the minimum)", got, want)
	}
	f.pay(b.ID)
	f.wantBalances(map[string]string{"201:USDT:C": "50", "208:USDT:B": "20", "208:USDT:A": "10"})
}

// TestPayoutBuildOptions: a cut-off selects accruals recorded up to it and
// must not be in the future; program selects one program's accruals; the
// same build twice answers the same batch.
func TestPayoutBuildOptions(t *testing.T) {
	f := newPayoutFixture(t)
	f.brokerTree(nil)
	f.trade("D", "100")
	cutoff := f.clock.Now()
	f.clock.Advance(time.Hour)
	f.trade("D", "100")

	f.call(http.StatusBadRequest, req{Method: "POST", Path: "/v1/payouts/batches", Key: f.admin1.secret,
		Body: map[string]any{"cutoff": formatTime(f.clock.Now().Add(time.Hour))}})
	f.call(http.StatusNotFound, req{Method: "POST", Path: "/v1/payouts/batches", Key: f.admin1.secret, Body: map[string]any{"program": "nope"}})
	var b payoutBatchJSON
	f.call(http.StatusCreated, req{Method: "POST", Path: "/v1/payouts/batches", Key: f.admin1.secret,
		Body: map[string]any{"cutoff": formatTime(cutoff), "program": "broker"}}).Decode(t, &b)
	if got, want := holders(b), []string{"A:5:ok", "B:10:ok", "C:25:ok"}; !slices.Equal(got, want) || b.Cutoff != formatTime(cutoff) {
		t.Fatalf("batch at the first trade's cut-off = %v %s, want %v", got, b.Cutoff, want)
	}
	f.clock.Advance(time.Second)      // batches list in creation order
	b2 := f.build(http.StatusCreated) // the second trade's accruals
	if got, want := holders(b2), []string{"A:5:ok", "B:10:ok", "C:25:ok"}; !slices.Equal(got, want) {
		t.Fatalf("batch up to now = %v, want %v", got, want)
	}
	// Listing pages through both, in creation order.
	var page listJSON[payoutBatchJSON]
	f.call(http.StatusOK, req{Method: "GET", Path: "/v1/payouts/batches?limit=1", Key: f.auditor.secret}).Decode(t, &page)
	if len(page.Data) != 1 || page.Data[0].ID != b.ID || page.NextCursor == "" {
		t.Fatalf("first page = %+v", page)
	}
	next := page.NextCursor
	page = listJSON[payoutBatchJSON]{}
	f.call(http.StatusOK, req{Method: "GET", Path: "/v1/payouts/batches?limit=1&cursor=" + next, Key: f.auditor.secret}).Decode(t, &page)
	if len(page.Data) != 1 || page.Data[0].ID != b2.ID || page.NextCursor != "" {
		t.Fatalf("second page = %+v", page)
	}
}

// TestPayoutCSV: a batch and the batch list as CSV (?format=csv or Accept:
// text/csv) parse back with a header row, one row per line.
func TestPayoutCSV(t *testing.T) {
	f := newPayoutFixture(t)
	f.brokerTree(nil)
	f.trade("D", "100")
	b := f.build(http.StatusCreated)
	f.clock.Advance(time.Second)
	f.trade("D", "10")
	b2 := f.build(http.StatusCreated)

	for _, q := range []req{
		{Method: "GET", Path: "/v1/payouts/batches/" + b.ID + "?format=csv", Key: f.auditor.secret},
		{Method: "GET", Path: "/v1/payouts/batches/" + b.ID, Key: f.auditor.secret, Header: map[string]string{"Accept": "text/csv"}},
	} {
		res := f.call(http.StatusOK, q)
		rows := parseCSV(t, res)
		if !slices.Equal(rows[0], payoutCSVHeader) {
			t.Fatalf("header = %v, want %v", rows[0], payoutCSVHeader)
		}
		if len(rows) != 4 {
			t.Fatalf("%d rows, want a header and 3 lines:\n%s", len(rows), res.Body)
		}
		got := map[string]string{}
		for _, row := range rows[1:] {
			rec := csvRecord(rows[0], row)
			if rec["batch_id"] != b.ID || rec["batch_status"] != "draft" || rec["created_by"] != f.admin1.id || rec["currency"] != "USDT" || rec["line_status"] != "ok" {
				t.Errorf("row = %v", rec)
			}
			got[rec["holder"]] = rec["amount"]
		}
		if want := map[string]string{"A": "5", "B": "10", "C": "25"}; fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("amounts = %v, want %v", got, want)
		}
	}
	res := f.call(http.StatusOK, req{Method: "GET", Path: "/v1/payouts/batches?format=csv&limit=1", Key: f.auditor.secret})
	rows := parseCSV(t, res)
	if len(rows) != 4 || rows[1][0] != b.ID {
		t.Fatalf("first CSV page = %v", rows)
	}
	link := res.Header.Get("Link")
	if !strings.HasPrefix(link, "</v1/payouts/batches?") || !strings.HasSuffix(link, `>; rel="next"`) {
		t.Fatalf("Link = %q, want the next page", link)
	}
	next := strings.TrimSuffix(strings.TrimPrefix(link, "<"), `>; rel="next"`)
	res = f.call(http.StatusOK, req{Method: "GET", Path: next, Key: f.auditor.secret})
	if rows := parseCSV(t, res); len(rows) != 4 || rows[1][0] != b2.ID || res.Header.Get("Link") != "" {
		t.Fatalf("second CSV page = %v (Link %q)", rows, res.Header.Get("Link"))
	}
}

// parseCSV checks a CSV response (content type, RFC 4180 with CRLF) and
// parses it.
func parseCSV(t *testing.T, res *response) [][]string {
	t.Helper()
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") {
		t.Fatalf("Content-Type = %q, want text/csv\n%s", ct, res.Body)
	}
	if !strings.HasSuffix(string(res.Body), "\r\n") || strings.Count(string(res.Body), "\n") != strings.Count(string(res.Body), "\r\n") {
		t.Errorf("CSV lines must end with CRLF:\n%q", res.Body)
	}
	rows, err := csv.NewReader(strings.NewReader(string(res.Body))).ReadAll()
	if err != nil {
		t.Fatalf("CSV does not parse: %v\n%s", err, res.Body)
	}
	if len(rows) == 0 {
		t.Fatalf("empty CSV")
	}
	return rows
}

// csvRecord maps a row by the header's column names.
func csvRecord(header, row []string) map[string]string {
	m := map[string]string{}
	for i, h := range header {
		if i < len(row) {
			m[h] = row[i]
		}
	}
	return m
}

// TestFraudRules: each anti-fraud rule holds the line of a crafted case
// and stays silent on a clean one built alike, in the same batch.
func TestFraudRules(t *testing.T) {
	day := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		rule string
		// setup builds A's crafted case and P's clean one and books
		// their referees' trades; it may pay earlier batches.
		setup func(f *payoutFixture)
	}{
		{"self-referral by IP", "self_referral", func(f *payoutFixture) {
			f.user(userSpec{id: "A", ip: "198.51.100.1"})
			f.user(userSpec{id: "B", referrer: "A", ip: "198.51.100.1"})
			f.user(userSpec{id: "P", ip: "198.51.100.2"})
			f.user(userSpec{id: "Q", referrer: "P", ip: "198.51.100.3"})
			f.trade("B", "100")
			f.trade("Q", "100")
		}},
		{"self-referral by device", "self_referral", func(f *payoutFixture) {
			f.user(userSpec{id: "A", device: "dev-a"})
			f.user(userSpec{id: "B", referrer: "A", device: "dev-a"})
			f.user(userSpec{id: "P", device: "dev-p"})
			f.user(userSpec{id: "Q", referrer: "P", device: "dev-q"})
			f.trade("B", "100")
			f.trade("Q", "100")
		}},
		{"referral farm", "referral_farm", func(f *payoutFixture) {
			f.user(userSpec{id: "A", registered: day.Add(-time.Hour)})
			f.user(userSpec{id: "P", registered: day.Add(-time.Hour)})
			for i := range 5 {
				// A's five referees sign up from one IP within an hour;
				// P's from one IP too, but two days apart.
				f.user(userSpec{id: fmt.Sprintf("B%d", i), referrer: "A", ip: "203.0.113.9", registered: day.Add(time.Duration(i) * 10 * time.Minute)})
				f.user(userSpec{id: fmt.Sprintf("Q%d", i), referrer: "P", ip: "203.0.113.10", registered: day.Add(time.Duration(i) * 48 * time.Hour)})
			}
			f.trade("B0", "100")
			f.trade("Q0", "100")
		}},
		{"wash trading", "wash_trading", func(f *payoutFixture) {
			f.fraudRules(map[string]any{"wash_min_trades": 3})
			f.chain("A", "B")
			f.chain("P", "Q")
			f.user(userSpec{id: "X"})
			// B trades against A itself; Q against an outsider.
			f.trades(tradeSpec{user: "B", fee: "40", counterparty: "A"}, tradeSpec{user: "B", fee: "30", counterparty: "A"}, tradeSpec{user: "B", fee: "30", counterparty: "A"},
				tradeSpec{user: "Q", fee: "40", counterparty: "X"}, tradeSpec{user: "Q", fee: "30", counterparty: "X"}, tradeSpec{user: "Q", fee: "30", counterparty: "X"})
		}},
		{"KYC required", "kyc_missing", func(f *payoutFixture) {
			f.levels(map[string]any{"require_kyc": true}, "0.25")
			f.chain("A", "B")
			f.chain("P", "Q")
			f.event("P", "kyc_verified")
			f.trade("B", "100")
			f.trade("Q", "100")
		}},
		{"amount spike after history", "amount_spike", func(f *payoutFixture) {
			f.fraudRules(map[string]any{"spike_min_history": 1, "spike_factor": "2"})
			f.chain("A", "B")
			f.chain("P", "Q")
			f.trade("B", "10")
			f.trade("Q", "10")
			first := f.build(http.StatusCreated)
			if len(first.Lines) != 2 || first.Lines[0].Status != "ok" || first.Lines[1].Status != "ok" {
				f.t.Fatalf("first batch (no history yet) = %v, want two ok lines", holders(first))
			}
			f.pay(first.ID)
			f.clock.Advance(time.Second)
			f.trade("B", "100") // A: 25 > 2 × 2.5
			f.trade("Q", "20")  // P: 5, not above 2 × 2.5
		}},
		{"tax id missing above the threshold", "tax_id_missing", func(f *payoutFixture) {
			f.fraudRules(map[string]any{"tax_threshold": "20"})
			f.chain("A", "B")
			f.chain("P", "Q")
			f.chain("R", "S")
			f.call(http.StatusOK, req{Method: "PUT", Path: "/v1/users/P/tax-id", Body: map[string]any{"tax_id": "DE123456789"}})
			f.trade("B", "100") // A: 25 USD this year, no tax id
			f.trade("Q", "100") // P: 25 USD, tax id on file
			f.trade("S", "40")  // R: 10 USD, below the threshold
		}},
	}
	// The exact text of flags that show amounts: at their currency's
	// precision (issue 15: the tax hold printed 25.000000000000000000).
	details := map[string]string{
		"amount_spike":   "amount 25.000000 is above 2× the average paid line 2.500000",
		"tax_id_missing": "payouts this year would reach 25.00 in the reporting currency, above 20.00, and no tax id is on file",
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newPayoutFixture(t)
			f.levels(nil, "0.25")
			tt.setup(f)
			b := f.build(http.StatusCreated)
			a := lineOf(t, b, "A")
			if a.Status != "held" || !slices.Equal(flagRules(a), []string{tt.rule}) || a.Flags[0].Detail == "" {
				t.Errorf("crafted line = %+v, want held with exactly the %s flag", a, tt.rule)
			} else if want, ok := details[tt.rule]; ok && a.Flags[0].Detail != want {
				t.Errorf("%s flag = %q, want %q", tt.rule, a.Flags[0].Detail, want)
			}
			for _, l := range b.Lines {
				if l.Holder != "A" && (l.Status != "ok" || len(l.Flags) != 0) {
					t.Errorf("clean line of %s = %+v, want ok without flags", l.Holder, l)
				}
			}
			if len(b.Lines) < 2 {
				t.Errorf("batch = %v, want the clean case's line too", holders(b))
			}
			// Held lines are not paid.
			done := f.pay(b.ID)
			if l := lineOf(t, done, "A"); l.Status != "released" {
				t.Errorf("crafted line after execution = %s, want released", l.Status)
			}
		})
	}
}

// TestFraudRulesAPI: the rules read back as put; omitted fields take their
// defaults; invalid thresholds are refused and change nothing.
func TestFraudRulesAPI(t *testing.T) {
	f := newPayoutFixture(t)
	got := f.call(http.StatusOK, req{Method: "GET", Path: "/v1/payouts/fraud-rules", Key: f.auditor.secret}).JSON(t)
	want := map[string]any{"self_referral": true, "farm_referees": 5.0, "farm_window": "24h", "wash_share": "0.5", "wash_min_trades": 10.0,
		"spike_factor": "5", "spike_min_history": 3.0, "tax_threshold": "600", "signup_risk": "flag"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("default rules = %v, want %v", got, want)
	}
	put := f.call(http.StatusOK, req{Method: "PUT", Path: "/v1/payouts/fraud-rules", Key: f.admin1.secret,
		Body: map[string]any{"self_referral": false, "farm_referees": 3, "tax_threshold": "1000"}}).JSON(t)
	want["self_referral"], want["farm_referees"], want["tax_threshold"] = false, 3.0, "1000"
	if fmt.Sprint(put) != fmt.Sprint(want) {
		t.Fatalf("PUT answered %v, want %v", put, want)
	}
	if got := f.call(http.StatusOK, req{Method: "GET", Path: "/v1/payouts/fraud-rules"}).JSON(t); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("rules after PUT = %v, want %v", got, want)
	}
	for _, body := range []any{map[string]any{"farm_window": "soon"}, map[string]any{"farm_referees": 1}, map[string]any{"wash_share": "2"},
		map[string]any{"spike_factor": 5}, map[string]any{"colour": "red"}} {
		f.call(http.StatusBadRequest, req{Method: "PUT", Path: "/v1/payouts/fraud-rules", Body: body})
	}
	if got := f.call(http.StatusOK, req{Method: "GET", Path: "/v1/payouts/fraud-rules"}).JSON(t); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("rules after refused PUTs = %v, want %v", got, want)
	}
	f.call(http.StatusForbidden, req{Method: "PUT", Path: "/v1/payouts/fraud-rules", Key: f.auditor.secret, Body: map[string]any{}})
}

// TestPayoutOutbox: with a payout webhook, an executed batch's entry is
// pending until the exchange answers 2xx (retried with backoff: two
// failures, then posted once) or voided when it refuses (4xx), which
// returns the accruals to the pool.
func TestPayoutOutbox(t *testing.T) {
	t.Run("retried then posted", func(t *testing.T) {
		var calls atomic.Int32
		var mu sync.Mutex
		var keys []string
		hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			keys = append(keys, r.Header.Get("Idempotency-Key"))
			mu.Unlock()
			if calls.Add(1) <= 2 {
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
			w.WriteHeader(http.StatusOK)
		}))
		defer hook.Close()
		f := newPayoutFixture(t)
		f.srv.payouts.Webhook = hook.URL
		f.brokerTree(nil)
		f.trade("D", "100")
		b := f.pay(f.build(http.StatusCreated).ID)
		f.wantEntryStatus(*b.EntryID, statusPending)
		f.wantBalances(map[string]string{"201:USDT:C": "0", "208:USDT:C": "25"})

		for range 6 {
			if _, err := f.srv.payouts.DeliverOutbox(context.Background()); err != nil {
				t.Fatalf("DeliverOutbox: %v", err)
			}
			f.clock.Advance(time.Hour) // past any backoff
		}
		if got := calls.Load(); got != 3 {
			t.Fatalf("webhook calls = %d, want 3 (two failures, one success, then none)", got)
		}
		mu.Lock()
		for _, k := range keys {
			if k != b.ID {
				t.Errorf("Idempotency-Key = %q, want the batch id %s", k, b.ID)
			}
		}
		mu.Unlock()
		f.wantEntryStatus(*b.EntryID, statusPosted)
		f.wantBalances(map[string]string{"201:USDT:C": "25", "208:USDT:C": "0", "201:USDT:A": "5"})
		var posts listJSON[entryJSON]
		f.call(http.StatusOK, req{Method: "GET", Path: "/v1/entries?kind=post_pending"}).Decode(t, &posts)
		if len(posts.Data) != 1 || posts.Data[0].Completes == nil || *posts.Data[0].Completes != *b.EntryID {
			t.Fatalf("completions = %+v, want one posting the payout entry", posts.Data)
		}
	})
	t.Run("refused", func(t *testing.T) {
		hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "account frozen", http.StatusUnprocessableEntity)
		}))
		defer hook.Close()
		f := newPayoutFixture(t)
		f.srv.payouts.Webhook = hook.URL
		f.brokerTree(nil)
		f.trade("D", "100")
		b := f.pay(f.build(http.StatusCreated).ID)
		f.wantEntryStatus(*b.EntryID, statusPending)
		f.clock.Advance(time.Second)
		if n, err := f.srv.payouts.DeliverOutbox(context.Background()); err != nil || n != 1 {
			t.Fatalf("DeliverOutbox = %d, %v; want 1 finished", n, err)
		}
		f.wantEntryStatus(*b.EntryID, statusVoided)
		f.wantBalances(map[string]string{"201:USDT:C": "0", "208:USDT:C": "25"})
		var got payoutBatchJSON
		f.call(http.StatusOK, req{Method: "GET", Path: "/v1/payouts/batches/" + b.ID}).Decode(t, &got)
		for _, l := range got.Lines {
			if l.Status != "rejected" || l.DecidedBy == nil || *l.DecidedBy != "exchange" {
				t.Errorf("line after refusal = %+v, want rejected by the exchange", l)
			}
		}
		// The accruals are payable again; without the webhook they post at once.
		f.srv.payouts.Webhook = ""
		again := f.pay(f.build(http.StatusCreated).ID)
		f.wantEntryStatus(*again.EntryID, statusPosted)
		f.wantBalances(map[string]string{"201:USDT:C": "25", "208:USDT:C": "0"})
	})
}

func (f *payoutFixture) wantEntryStatus(id, want string) {
	f.t.Helper()
	var e entryDetailJSON
	f.call(http.StatusOK, req{Method: "GET", Path: "/v1/entries/" + id}).Decode(f.t, &e)
	if e.Status != want {
		f.t.Fatalf("entry %s status = %s, want %s", id, e.Status, want)
	}
}
