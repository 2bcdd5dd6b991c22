package api

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/folioledger/folio"
	"github.com/folioledger/folio/keys"
)

// sameShares compares beneficiary → amount maps.
func sameShares(got, want map[string]string) bool {
	if len(got) != len(want) {
		return false
	}
	for k, v := range want {
		if got[k] != v {
			return false
		}
	}
	return true
}

// TestDifferentialProgramEndToEnd: the orderly program through the API —
// rates from codes and PUT /v1/users/{id}/rate, an increase that changes
// only its node, a decrease that clamps the subtree, refusals outside
// [P, upstream], and later trades paying the new rates while earlier
// accruals stay as booked.
func TestDifferentialProgramEndToEnd(t *testing.T) {
	e := newEnv(t)
	e.currencies()
	e.putProgram("orderly", map[string]any{"kind": "differential", "min_pass_down": "0.10", "max_levels": 15, "default": true})
	// R 0.50 → A 0.40 → B 0.30 → C 0.20 → T (C's code has no rate).
	e.user("R", "")
	var u userJSON
	e.must(http.StatusOK, req{Method: "PUT", Path: "/v1/users/R/rate", Key: bootstrapKey, Body: `{"rate": "0.50"}`}).Decode(t, &u)
	if u.Rate == nil || *u.Rate != "0.5" {
		t.Fatalf("PUT rate = %+v", u)
	}
	e.code("R", "RRRRRR", "rate", "0.40")
	e.user("A", "RRRRRR")
	e.code("A", "AAAAAA", "rate", "0.30")
	e.user("B", "AAAAAA")
	e.code("B", "BBBBBB", "rate", "0.20")
	e.user("C", "BBBBBB")
	e.code("C", "CCCCCC")
	e.user("T", "CCCCCC")

	b := newBooks(e, "USDT")
	rateOf := func(id string) string {
		t.Helper()
		var u userJSON
		e.must(http.StatusOK, req{Method: "GET", Path: "/v1/users/" + id, Key: bootstrapKey}).Decode(t, &u)
		if u.Rate == nil {
			return "<nil>"
		}
		return *u.Rate
	}
	steps := []struct {
		name   string
		change string // user:rate, "" for none
		rates  map[string]string
		shares map[string]string
	}{
		{"initial", "", map[string]string{"R": "0.5", "A": "0.4", "B": "0.3", "C": "0.2"},
			map[string]string{"C": "20", "B": "10", "A": "10", "R": "10"}},
		{"increase A to 0.45", "A:0.45", map[string]string{"R": "0.5", "A": "0.45", "B": "0.3", "C": "0.2"},
			map[string]string{"C": "20", "B": "10", "A": "15", "R": "5"}},
		{"decrease A to 0.25", "A:0.25", map[string]string{"R": "0.5", "A": "0.25", "B": "0.25", "C": "0.2"},
			map[string]string{"C": "20", "B": "5", "R": "25"}},
		{"decrease R to P", "R:0.10", map[string]string{"R": "0.1", "A": "0.1", "B": "0.1", "C": "0.1"},
			map[string]string{"C": "10"}},
		{"increase R to 0.60", "R:0.60", map[string]string{"R": "0.6", "A": "0.1", "B": "0.1", "C": "0.1"},
			map[string]string{"C": "10", "R": "50"}},
	}
	booked := map[string]map[string]string{}
	for i, s := range steps {
		if s.change != "" {
			id, rate := s.change[:1], s.change[2:]
			e.must(http.StatusOK, req{Method: "PUT", Path: "/v1/users/" + id + "/rate", Key: bootstrapKey, Body: map[string]string{"rate": rate}})
		}
		for id, want := range s.rates {
			if got := rateOf(id); got != want {
				t.Errorf("%s: rate of %s = %s, want %s", s.name, id, got, want)
			}
		}
		id := fmt.Sprintf("t-%d", i)
		e.book(trade(id, "T", "100"))
		if got := e.shares(id); !sameShares(got, s.shares) {
			t.Errorf("%s: shares = %v, want %v", s.name, got, s.shares)
		}
		b.trade("T", "100", s.shares)
		b.check(s.name)
		booked[id] = e.shares(id)
		for old, want := range booked {
			if got := e.shares(old); !sameShares(got, want) {
				t.Errorf("%s: accruals of %s changed to %v, were %v", s.name, old, got, want)
			}
		}
	}

	// Outside [P, upstream]: refused, nothing changes.
	before := e.snapshot() + e.affiliateSnapshot()
	for _, c := range []struct{ user, rate string }{{"A", "0.61"}, {"A", "0.05"}, {"R", "1.5"}, {"C", "0.09"}} {
		res := e.do(req{Method: "PUT", Path: "/v1/users/" + c.user + "/rate", Key: bootstrapKey, Body: map[string]string{"rate": c.rate}})
		if res.Status != http.StatusBadRequest || problemOf(t, res) != folio.EINVALID {
			t.Errorf("PUT %s rate %s = %d %s, want 400 invalid_request", c.user, c.rate, res.Status, res.Body)
		}
	}
	if after := e.snapshot() + e.affiliateSnapshot(); after != before {
		t.Errorf("refused rate changes wrote:\n%s\n%s", before, after)
	}
}

// TestKickbackProgramEndToEnd: the binance program — the referrer earns R
// minus the code's kickback, the trader gets the kickback on its own 208;
// the per-affiliate override (PUT kickback-rate) and its removal (null).
func TestKickbackProgramEndToEnd(t *testing.T) {
	e := newEnv(t)
	e.currencies()
	e.putProgram("binance", map[string]any{"kind": "kickback", "rate": "0.20", "default": true})
	e.user("K", "")
	c := e.code("K", "KKKK22", "kickback", "0.05")
	if c.Kickback == nil || *c.Kickback != "0.05" {
		t.Fatalf("code = %+v", c)
	}
	e.user("T", "kkkk22")
	b := newBooks(e, "USDT")

	e.book(trade("k-1", "T", "100"))
	b.trade("T", "100", map[string]string{"K": "15", "T": "5"})
	b.check("program rate")

	var u userJSON
	e.must(http.StatusOK, req{Method: "PUT", Path: "/v1/users/K/kickback-rate", Key: bootstrapKey, Body: `{"rate": "0.30"}`}).Decode(t, &u)
	if u.KickbackRate == nil || *u.KickbackRate != "0.3" {
		t.Fatalf("PUT kickback-rate = %+v", u)
	}
	e.book(trade("k-2", "T", "100"))
	b.trade("T", "100", map[string]string{"K": "25", "T": "5"})
	b.check("override")

	e.must(http.StatusOK, req{Method: "PUT", Path: "/v1/users/K/kickback-rate", Key: bootstrapKey, Body: `{"rate": null}`}).Decode(t, &u)
	if u.KickbackRate != nil {
		t.Fatalf("cleared kickback-rate = %+v", u)
	}
	e.book(trade("k-3", "T", "10.000001"))
	// 20% of 10.000001 = 2.0000002 → K 1.5000000 (15%) rounded down to
	// 1.500000, T 0.5000000 → 0.500000; the platform keeps the rest.
	b.trade("T", "10.000001", map[string]string{"K": "1.5", "T": "0.5"})
	b.check("override cleared")
	for _, a := range e.getTrade("k-3").Accruals {
		if (a.Beneficiary == "T") != (a.Level == 0) || a.Kind != "kickback" {
			t.Errorf("accrual %+v", a)
		}
	}
}

// TestTableProgramEndToEnd: the operator's revenue-share table (appl),
// assigned per user with PUT /v1/users/{id}/program.
func TestTableProgramEndToEnd(t *testing.T) {
	e := newEnv(t)
	e.currencies()
	e.putProgram("broker", map[string]any{"kind": "levels", "levels": []string{"0.25"}, "default": true})
	e.putProgram("appl", map[string]any{"kind": "table"})
	e.tree("A>", "B>", "T>")
	var u userJSON
	e.must(http.StatusOK, req{Method: "PUT", Path: "/v1/users/T/program", Key: bootstrapKey, Body: `{"program": "appl"}`}).Decode(t, &u)
	if u.Program == nil || *u.Program != "appl" {
		t.Fatalf("PUT program = %+v", u)
	}
	b := newBooks(e, "USDT")
	e.book(trade("x-0", "T", "100"))
	b.trade("T", "100", nil)
	if tj := e.getTrade("x-0"); tj.Kind == nil || *tj.Kind != "table" || tj.Reason == nil {
		t.Fatalf("trade without a table = %+v", tj)
	}

	var table struct {
		UserID string      `json:"user_id"`
		Shares []shareJSON `json:"shares"`
	}
	e.must(http.StatusOK, req{Method: "PUT", Path: "/v1/users/T/revenue-share", Key: bootstrapKey,
		Body: `{"shares": [{"beneficiary": "B", "share": "0.30"}, {"beneficiary": "A", "share": "0.10"}]}`}).Decode(t, &table)
	if table.UserID != "T" || len(table.Shares) != 2 || table.Shares[0] != (shareJSON{"A", "0.1"}) {
		t.Fatalf("PUT revenue-share = %+v", table)
	}
	e.book(trade("x-1", "T", "100"))
	b.trade("T", "100", map[string]string{"B": "30", "A": "10"})
	b.check("table")

	// Back to the default program (null clears the assignment): no referrer, no share.
	e.must(http.StatusOK, req{Method: "PUT", Path: "/v1/users/T/program", Key: bootstrapKey, Body: `{"program": null}`})
	e.book(trade("x-2", "T", "100"))
	b.trade("T", "100", nil)
	b.check("assignment cleared")
	if tj := e.getTrade("x-2"); tj.Program == nil || *tj.Program != "broker" {
		t.Fatalf("x-2 = %+v", tj)
	}
}

// TestBountyProgramEndToEnd: signup bounties raised by POST /v1/users,
// lifecycle events with their replay (same entry ids, Idempotency-Replayed)
// and conflict, and one-off events paying each beneficiary once only.
func TestBountyProgramEndToEnd(t *testing.T) {
	e := newEnv(t)
	e.currencies()
	e.must(http.StatusCreated, req{Method: "PUT", Path: "/v1/currencies/TOKEN", Key: bootstrapKey, Body: map[string]any{"precision": 0}})
	e.putProgram("viral", map[string]any{"kind": "bounty", "currency": "TOKEN",
		"events": map[string]any{"signup": []string{"50", "10"}, "kyc_verified": []string{"20"}, "first_deposit": []string{"7"}}})
	e.tree("A>", "A>B", "B>C")
	tokens := newBooks(e, "TOKEN")
	tokens.add("208:TOKEN:A", "60")
	tokens.add("208:TOKEN:B", "50")
	tokens.add("420:TOKEN", "110")
	tokens.check("after signups")

	poster := e.key(keys.RolePoster, "")
	kyc := map[string]any{"id": "kyc-C", "type": "kyc_verified", "at": "2026-01-05T10:00:00Z"}
	var ev eventJSON
	first := e.must(http.StatusCreated, req{Method: "POST", Path: "/v1/users/C/events", Key: poster, Body: kyc})
	first.Decode(t, &ev)
	if ev.ID != "kyc-C" || ev.UserID != "C" || ev.Type != "kyc_verified" || ev.At != "2026-01-05T10:00:00Z" || len(ev.BountyEntryIDs) != 1 || ev.Amount != nil {
		t.Fatalf("POST event = %s", first.Body)
	}
	tokens.add("208:TOKEN:B", "20")
	tokens.add("420:TOKEN", "20")
	tokens.check("after kyc")

	var replay eventJSON
	res := e.must(http.StatusOK, req{Method: "POST", Path: "/v1/users/C/events", Key: poster, Body: kyc})
	res.Decode(t, &replay)
	if res.Header.Get("Idempotency-Replayed") != "true" || fmt.Sprint(replay.BountyEntryIDs) != fmt.Sprint(ev.BountyEntryIDs) {
		t.Fatalf("replay = %s (%v)", res.Body, res.Header)
	}
	var entry entryDetailJSON
	e.must(http.StatusOK, req{Method: "GET", Path: "/v1/entries/" + ev.BountyEntryIDs[0], Key: bootstrapKey}).Decode(t, &entry)
	if entry.Kind != "bounty" || len(entry.Postings) != 2 || entry.Postings[0].Account != "420:TOKEN" {
		t.Fatalf("bounty entry = %+v", entry)
	}

	// The same id with other content conflicts; another kyc event pays nothing again.
	kyc["type"] = "first_trade"
	if res := e.must(http.StatusConflict, req{Method: "POST", Path: "/v1/users/C/events", Key: poster, Body: kyc}); problemOf(t, res) != folio.EIDEMPOTENCY {
		t.Fatalf("conflicting event = %s", res.Body)
	}
	e.must(http.StatusCreated, req{Method: "POST", Path: "/v1/users/C/events", Key: poster,
		Body: map[string]any{"id": "kyc-C-again", "type": "kyc_verified"}}).Decode(t, &ev)
	if len(ev.BountyEntryIDs) != 0 {
		t.Fatalf("second kyc paid again: %+v", ev)
	}
	e.must(http.StatusCreated, req{Method: "POST", Path: "/v1/users/C/events", Key: poster,
		Body: map[string]any{"id": "dep-C-1", "type": "first_deposit", "amount": "100", "currency": "USDT"}}).Decode(t, &ev)
	if ev.Amount == nil || *ev.Amount != "100" || ev.Currency == nil || *ev.Currency != "USDT" || len(ev.BountyEntryIDs) != 1 {
		t.Fatalf("deposit event = %+v", ev)
	}
	tokens.add("208:TOKEN:B", "7")
	tokens.add("420:TOKEN", "7")
	tokens.check("after deposit")

	var u userJSON
	e.must(http.StatusOK, req{Method: "GET", Path: "/v1/users/C", Key: bootstrapKey}).Decode(t, &u)
	if u.Milestones.KYCVerifiedAt == nil || *u.Milestones.KYCVerifiedAt != "2026-01-05T10:00:00Z" || u.Milestones.FirstDepositAt == nil {
		t.Fatalf("milestones = %+v", u.Milestones)
	}
	var lines listJSON[accrualJSON]
	e.must(http.StatusOK, req{Method: "GET", Path: "/v1/affiliates/B/accruals?source=bounty&currency=TOKEN", Key: bootstrapKey}).Decode(t, &lines)
	amounts := map[string]bool{}
	for _, a := range lines.Data {
		amounts[a.Amount] = a.Kind == "bounty" && a.TraderID == "C" && a.EventID != nil && a.Level == 1
	}
	if len(lines.Data) != 3 || !amounts["50"] || !amounts["20"] || !amounts["7"] {
		t.Fatalf("B's bounty accruals = %+v", lines.Data)
	}
}

// TestReparentingEndToEnd: PUT /v1/users/{id}/referrer moves a subtree;
// later trades pay the new chain, earlier accruals stay; cycles and
// self-referral are refused; "" makes a root.
func TestReparentingEndToEnd(t *testing.T) {
	e := newEnv(t)
	e.currencies()
	e.putProgram("broker", map[string]any{"kind": "levels", "levels": []string{"0.25", "0.10", "0.05"}, "default": true})
	e.tree("alice>", "alice>bob", "bob>carol", "carol>dave", "zed>")
	b := newBooks(e, "USDT")
	e.book(trade("t-1", "dave", "100"))
	b.trade("dave", "100", map[string]string{"carol": "25", "bob": "10", "alice": "5"})

	var u userJSON
	e.must(http.StatusOK, req{Method: "PUT", Path: "/v1/users/carol/referrer", Key: bootstrapKey, Body: `{"referrer": "zed"}`}).Decode(t, &u)
	if u.Referrer == nil || *u.Referrer != "zed" || u.ReferralCode == nil || *u.ReferralCode != codeFor("bob") {
		t.Fatalf("PUT referrer = %+v", u)
	}
	e.book(trade("t-2", "dave", "100"))
	b.trade("dave", "100", map[string]string{"carol": "25", "zed": "10"})
	b.check("after re-parenting")
	if got := e.shares("t-1"); !sameShares(got, map[string]string{"carol": "25", "bob": "10", "alice": "5"}) {
		t.Errorf("t-1 accruals changed: %v", got)
	}

	before := e.snapshot() + e.affiliateSnapshot()
	for _, c := range []struct {
		user, body string
		status     int
		code       string
	}{
		{"zed", `{"referrer": "dave"}`, http.StatusConflict, folio.ECYCLE},
		{"carol", `{"referrer": "dave"}`, http.StatusConflict, folio.ECYCLE},
		{"carol", `{"referrer": "carol"}`, http.StatusBadRequest, folio.ESELFREFERRAL},
		{"carol", `{"referrer": "nobody"}`, http.StatusNotFound, folio.ENOTFOUND},
		{"nobody", `{"referrer": "zed"}`, http.StatusNotFound, folio.ENOTFOUND},
		{"carol", `{}`, http.StatusBadRequest, folio.EINVALID},
	} {
		res := e.do(req{Method: "PUT", Path: "/v1/users/" + c.user + "/referrer", Key: bootstrapKey, Body: c.body})
		if res.Status != c.status || problemOf(t, res) != c.code {
			t.Errorf("PUT %s referrer %s = %d %s, want %d %s", c.user, c.body, res.Status, res.Body, c.status, c.code)
		}
	}
	if after := e.snapshot() + e.affiliateSnapshot(); after != before {
		t.Errorf("refused re-parentings wrote:\n%s\n%s", before, after)
	}

	e.must(http.StatusOK, req{Method: "PUT", Path: "/v1/users/dave/referrer", Key: bootstrapKey, Body: `{"referrer": ""}`}).Decode(t, &u)
	if u.Referrer != nil {
		t.Fatalf("dave made a root: %+v", u)
	}
	e.book(trade("t-3", "dave", "100"))
	b.trade("dave", "100", nil)
	b.check("after making dave a root")
}

// TestTradeReversalEndToEnd: POST /v1/trades/{id}/reverse before any
// payout (everything back to zero) and after a payout-like debit of 208
// (the affiliate's 208 goes negative), and a second reversal refused.
func TestTradeReversalEndToEnd(t *testing.T) {
	e := newEnv(t)
	e.currencies()
	poster := e.key(keys.RolePoster, "")
	e.putProgram("broker", map[string]any{"kind": "levels", "levels": []string{"0.25", "0.10", "0.05"}, "default": true})
	e.tree("alice>", "alice>bob", "bob>carol", "carol>dave")
	b := newBooks(e, "USDT")
	e.book(trade("t-1", "dave", "100"))
	b.trade("dave", "100", map[string]string{"carol": "25", "bob": "10", "alice": "5"})
	b.check("booked")

	var rev map[string]string
	e.must(http.StatusCreated, req{Method: "POST", Path: "/v1/trades/t-1/reverse", Key: poster}).Decode(t, &rev)
	if rev["trade_id"] != "t-1" || rev["fee_reversal_id"] == "" || rev["commission_reversal_id"] == "" {
		t.Fatalf("reverse = %v", rev)
	}
	b.trade("dave", "-100", map[string]string{"carol": "-25", "bob": "-10", "alice": "-5"})
	b.check("reversed before payout")
	if got := e.balance("208:USDT:carol"); got != "0" {
		t.Fatalf("208:USDT:carol = %s after the reversal", got)
	}
	res := e.must(http.StatusConflict, req{Method: "POST", Path: "/v1/trades/t-1/reverse", Key: poster, Body: `{}`})
	if problemOf(t, res) != folio.EREVERSED {
		t.Fatalf("second reversal = %s", res.Body)
	}
	tj := e.getTrade("t-1")
	if !tj.Reversed || len(tj.Entries) != 4 || tj.Entries[1].ReversedBy == nil || *tj.Entries[1].ReversedBy != rev["commission_reversal_id"] ||
		tj.Entries[2].ID != rev["commission_reversal_id"] || tj.Entries[3].ID != rev["fee_reversal_id"] || len(tj.Accruals) != 6 {
		t.Fatalf("reversed trade = %+v", tj)
	}

	// A payout-like debit of carol's 208, then the reversal: 208 negative.
	e.book(trade("t-2", "dave", "100"))
	b.trade("dave", "100", map[string]string{"carol": "25", "bob": "10", "alice": "5"})
	e.post(entryBody("payout-carol-1", posting("208:USDT:carol", "debit", "25"), posting("201:USDT:carol", "credit", "25")))
	b.add("208:USDT:carol", "-25")
	b.add("201:USDT:carol", "25")
	b.check("paid out")
	e.clock.Advance(time.Hour) // the trade is busted an hour later
	e.must(http.StatusCreated, req{Method: "POST", Path: "/v1/trades/t-2/reverse", Key: poster})
	b.trade("dave", "-100", map[string]string{"carol": "-25", "bob": "-10", "alice": "-5"})
	b.check("reversed after payout")
	if got := e.balance("208:USDT:carol"); got != "-25" {
		t.Fatalf("208:USDT:carol = %s, want -25 (a clawback carried forward)", got)
	}
	var lines listJSON[accrualJSON]
	e.must(http.StatusOK, req{Method: "GET", Path: "/v1/affiliates/carol/accruals?trade_id=t-2", Key: bootstrapKey}).Decode(t, &lines)
	if len(lines.Data) != 2 || lines.Data[0].Amount != "25" || lines.Data[1].Amount != "-25" || lines.Data[1].Source != "reversal" ||
		lines.Data[1].Reverses == nil || *lines.Data[1].Reverses != lines.Data[0].ID {
		t.Fatalf("carol's accruals of t-2 = %+v", lines.Data)
	}
	e.must(http.StatusNotFound, req{Method: "POST", Path: "/v1/trades/nope/reverse", Key: poster})
	var verify struct{ OK bool }
	e.must(http.StatusOK, req{Method: "GET", Path: "/v1/audit/verify", Key: bootstrapKey}).Decode(t, &verify)
	if !verify.OK {
		t.Fatal("verify failed after reversals")
	}
}

// TestTradeBatchPerItemDecoding: a trade that does not decode is rejected
// alone with its code; its neighbours are booked.
func TestTradeBatchPerItemDecoding(t *testing.T) {
	e := newEnv(t)
	e.currencies()
	e.putProgram("broker", map[string]any{"kind": "levels", "levels": []string{"0.25"}, "default": true})
	e.tree("A>", "A>T")
	body := `{"trades": [
		{"id": "ok-1", "user_id": "T", "market": "BTCUSDT", "liquidity": "taker", "fee": {"amount": "4", "currency": "USDT"}, "executed_at": "2026-01-10T11:00:00Z"},
		{"id": "num", "user_id": "T", "market": "BTCUSDT", "liquidity": "taker", "fee": {"amount": 4, "currency": "USDT"}, "executed_at": "2026-01-10T11:00:00Z"},
		{"id": "extra", "user_id": "T", "market": "BTCUSDT", "liquidity": "taker", "fee": {"amount": "4", "currency": "USDT"}, "executed_at": "2026-01-10T11:00:00Z", "side": "buy"},
		"not-a-trade",
		{"id": "when", "user_id": "T", "market": "BTCUSDT", "liquidity": "taker", "fee": {"amount": "4", "currency": "USDT"}, "executed_at": "yesterday"},
		{"id": "who", "user_id": "nobody", "market": "BTCUSDT", "liquidity": "taker", "fee": {"amount": "4", "currency": "USDT"}, "executed_at": "2026-01-10T11:00:00Z"},
		{"id": "xyz", "user_id": "T", "market": "BTCUSDT", "liquidity": "taker", "fee": {"amount": "4", "currency": "XYZ"}, "executed_at": "2026-01-10T11:00:00Z"},
		{"id": "ok-2", "user_id": "T", "market": "BTCUSDT", "liquidity": "maker", "fee": {"amount": "0.000001", "currency": "USDT"}, "executed_at": "2026-01-10T11:00:00Z"}
	]}`
	var out struct {
		Results []tradeResultJSON `json:"results"`
	}
	e.must(http.StatusOK, req{Method: "POST", Path: "/v1/trades", Key: bootstrapKey, Body: body}).Decode(t, &out)
	want := []struct{ id, status, code string }{
		{"ok-1", "created", ""}, {"num", "rejected", folio.EAMOUNT}, {"extra", "rejected", folio.EINVALID}, {"", "rejected", folio.EINVALID},
		{"when", "rejected", folio.EINVALID}, {"who", "rejected", folio.ENOTFOUND}, {"xyz", "rejected", folio.ECURRENCY}, {"ok-2", "created", ""},
	}
	if len(out.Results) != len(want) {
		t.Fatalf("results = %+v", out.Results)
	}
	for i, w := range want {
		r := out.Results[i]
		code := ""
		if r.Error != nil {
			code = r.Error.Code
		}
		if r.Index != i || r.ID != w.id || r.Status != w.status || code != w.code || (w.status == "created") != (r.FeeEntryID != "") {
			t.Errorf("result %d = %+v, want %+v", i, r, w)
		}
	}
	if r := out.Results[1]; r.Error == nil || len(r.Error.Fields) != 1 || r.Error.Fields[0] != "fee.amount" {
		t.Errorf("amount as a number: %+v", r.Error)
	}
	b := newBooks(e, "USDT")
	b.trade("T", "4", map[string]string{"A": "1"})
	b.trade("T", "0.000001", nil) // 25% rounds down to zero: the platform keeps it
	b.check("after the mixed batch")
}

// TestFeeScheduleAndFX: a trade carrying only volume is priced from the
// fee schedule (PUT /v1/fee-schedule), and accruals convert into the
// reporting currency at the average of the sources' rates (PUT /v1/rates).
func TestFeeScheduleAndFX(t *testing.T) {
	e := newEnv(t)
	e.currencies()
	e.putProgram("broker", map[string]any{"kind": "levels", "levels": []string{"0.25"}, "default": true})
	e.tree("A>", "A>T")
	var row feeRateJSON
	e.must(http.StatusOK, req{Method: "PUT", Path: "/v1/fee-schedule", Key: bootstrapKey, Body: `{"maker": "0.001", "taker": "0.002"}`}).Decode(t, &row)
	if row != (feeRateJSON{Group: "", Market: "", Maker: "0.001", Taker: "0.002"}) {
		t.Fatalf("PUT fee-schedule = %+v", row)
	}
	e.must(http.StatusOK, req{Method: "PUT", Path: "/v1/fee-schedule", Key: bootstrapKey, Body: `{"market": "ETHUSDT", "maker": "0", "taker": "0.0005"}`})
	for _, q := range []struct{ source, rate string }{{"feed-a", "0.99"}, {"feed-b", "1.01"}} {
		var fx fxRateJSON
		e.must(http.StatusOK, req{Method: "PUT", Path: "/v1/rates/USDT/USD", Key: bootstrapKey,
			Body: map[string]string{"rate": q.rate, "source": q.source, "at": "2026-01-10T10:00:00Z"}}).Decode(t, &fx)
		if fx.Base != "USDT" || fx.Quote != "USD" || fx.Source != q.source || fx.At != "2026-01-10T10:00:00Z" {
			t.Fatalf("PUT rate = %+v", fx)
		}
	}
	vol := func(id, market, liquidity string) map[string]any {
		return map[string]any{"id": id, "user_id": "T", "market": market, "liquidity": liquidity,
			"volume": map[string]string{"amount": "10000", "currency": "USDT"}, "executed_at": executedAt}
	}
	e.book(vol("v-1", "BTCUSDT", "taker"), vol("v-2", "ETHUSDT", "taker"))
	b := newBooks(e, "USDT")
	b.trade("T", "20", map[string]string{"A": "5"})
	b.trade("T", "5", map[string]string{"A": "1.25"})
	b.check("volume-only trades")
	tj := e.getTrade("v-1")
	if !tj.FeeComputed || tj.Fee.Amount != "20" || len(tj.Accruals) != 1 {
		t.Fatalf("v-1 = %+v", tj)
	}
	a := tj.Accruals[0]
	if a.FXRate == nil || *a.FXRate != "1" || a.ReportingAmount == nil || *a.ReportingAmount != "5" || a.ReportingCurrency != "USD" {
		t.Fatalf("accrual conversion = %+v, want rate 1 (the average of 0.99 and 1.01)", a)
	}
	// No row at all for a market without a default... there is a default
	// row, so a maker trade on any market is priced at 0.001.
	e.book(vol("v-3", "SOLUSDT", "maker"))
	b.trade("T", "10", map[string]string{"A": "2.5"})
	b.check("default row")
}

// TestBountyProgramGroups: a bounty program listing groups pays only for
// the events of users in those groups (issue 15: a user with no group was
// paid a vip group's deposit reward); one without groups pays for every
// user; a trade program may name the same group.
func TestBountyProgramGroups(t *testing.T) {
	e := newEnv(t)
	e.currencies()
	e.must(http.StatusCreated, req{Method: "PUT", Path: "/v1/currencies/TOKEN", Key: bootstrapKey, Body: map[string]any{"precision": 0}})
	e.putProgram("vip-plan", map[string]any{"kind": "levels", "levels": []string{"0.3"}, "groups": []string{"vip"}})
	e.putProgram("vip-deposit", map[string]any{"kind": "bounty", "currency": "TOKEN", "groups": []string{"vip"},
		"events": map[string]any{"first_deposit": []string{"7"}}})
	e.putProgram("everyone-kyc", map[string]any{"kind": "bounty", "currency": "TOKEN",
		"events": map[string]any{"kyc_verified": []string{"3"}}})
	e.tree("A>")
	e.code("A", "AAAAAA")
	for _, u := range []map[string]any{
		{"id": "V", "referral_code": "AAAAAA", "group": "vip", "registered_at": "2026-01-01T00:00:00Z"},
		{"id": "N", "referral_code": "AAAAAA", "registered_at": "2026-01-01T00:00:00Z"},
		{"id": "O", "referral_code": "AAAAAA", "group": "retail", "registered_at": "2026-01-01T00:00:00Z"},
	} {
		e.must(http.StatusCreated, req{Method: "POST", Path: "/v1/users", Key: bootstrapKey, Body: u})
	}
	for _, tc := range []struct {
		user, event string
		entries     int
	}{
		{"N", "first_deposit", 0}, // no group: outside vip
		{"O", "first_deposit", 0}, // another group
		{"V", "first_deposit", 1},
		{"N", "kyc_verified", 1}, // a bounty without groups pays for everyone
	} {
		body := map[string]any{"id": tc.event + "-" + tc.user, "type": tc.event}
		if tc.event == "first_deposit" {
			body["amount"], body["currency"] = "100", "USDT"
		}
		var ev eventJSON
		e.must(http.StatusCreated, req{Method: "POST", Path: "/v1/users/" + tc.user + "/events", Key: bootstrapKey, Body: body}).Decode(t, &ev)
		if len(ev.BountyEntryIDs) != tc.entries {
			t.Errorf("%s of %s: %d bounty entries, want %d", tc.event, tc.user, len(ev.BountyEntryIDs), tc.entries)
		}
	}
	if got := e.balance("208:TOKEN:A"); got != "10" {
		t.Errorf("A earned %s TOKEN, want 10 (7 for V's deposit, 3 for N's kyc)", got)
	}
}
