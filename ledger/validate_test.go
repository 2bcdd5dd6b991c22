package ledger_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/folioledger/folio"
	"github.com/folioledger/folio/accounts"
	"github.com/folioledger/folio/ledger"
)

// validateNow is the recording time of the unit tests.
var validateNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// unitChart is the built-in chart with the test currencies, a disabled one
// (OLD) and one at the largest precision (WEI, 18 places).
func unitChart() *accounts.Chart {
	return accounts.NewChart(accounts.Builtin(), []accounts.Currency{
		{ID: "USD", Precision: 2, Enabled: true}, {ID: "USDT", Precision: 6, Enabled: true}, {ID: "BTC", Precision: 8, Enabled: true},
		{ID: "JPY", Precision: 0, Enabled: true}, {ID: "WEI", Precision: 18, Enabled: true}, {ID: "OLD", Precision: 2, Enabled: false},
	})
}

// pair is a balanced two-posting entry moving amount from a debit to a
// credit account.
func pair(debit, credit, amount string) ledger.NewEntry {
	return entry("key-1", debit, "debit", amount, credit, "credit", amount)
}

func with(e ledger.NewEntry, f func(*ledger.NewEntry)) ledger.NewEntry {
	f(&e)
	return e
}

func TestValidateRejects(t *testing.T) {
	ok := pair("110:USD", "201:USD:alice", "10")
	past := validateNow.Add(-time.Hour)
	future := validateNow.Add(time.Hour)
	manyPostings := ok
	manyPostings.Postings = nil
	for range ledger.MaxPostings/2 + 1 {
		manyPostings.Postings = append(manyPostings.Postings, ok.Postings...)
	}
	tests := []struct {
		name string
		e    ledger.NewEntry
		want string
	}{
		{"zero postings", with(ok, func(e *ledger.NewEntry) { e.Postings = nil }), folio.EUNBALANCED},
		{"one posting", with(ok, func(e *ledger.NewEntry) { e.Postings = e.Postings[:1] }), folio.EUNBALANCED},
		{"too many postings", manyPostings, folio.EINVALID},
		{"unbalanced", entry("k", "110:USD", "debit", "10", "201:USD:alice", "credit", "9.99"), folio.EUNBALANCED},
		{"one-sided", entry("k", "110:USD", "debit", "10", "120:USD", "debit", "10"), folio.EUNBALANCED},
		{"unbalanced per currency, equal across currencies", entry("k", "110:USD", "debit", "10", "201:USD:alice", "credit", "5",
			"110:USDT", "debit", "5", "201:USDT:alice", "credit", "10"), folio.EUNBALANCED},
		{"unknown code", pair("999:USD", "201:USD:alice", "10"), folio.EACCOUNT},
		{"unknown currency", pair("110:XYZ", "201:XYZ:alice", "10"), folio.ECURRENCY},
		{"disabled currency", pair("110:OLD", "201:OLD:alice", "10"), folio.ECURRENCY},
		{"per-holder code without holder", pair("110:USD", "201:USD", "10"), folio.EACCOUNT},
		{"platform code with holder", pair("110:USD", "605:USD:alice", "10"), folio.EACCOUNT},
		{"account without currency", pair("605", "201:USD:alice", "10"), folio.EACCOUNT},
		{"account with lower-case currency", pair("605:usd", "201:USD:alice", "10"), folio.ECURRENCY},
		{"account with four parts", pair("110:USD", "201:USD:a:b", "10"), folio.EACCOUNT},
		{"empty account", pair("", "201:USD:alice", "10"), folio.EACCOUNT},
		{"holder with spaces", pair("110:USD", "201:USD:al ice", "10"), folio.EACCOUNT},
		{"holder of 65 characters", pair("110:USD", "201:USD:"+strings.Repeat("a", 65), "10"), folio.EACCOUNT},
		{"empty holder", pair("110:USD", "201:USD:", "10"), folio.EACCOUNT},
		{"bad side", with(ok, func(e *ledger.NewEntry) { e.Postings[0].Side = "left" }), folio.EINVALID},
		{"empty side", with(ok, func(e *ledger.NewEntry) { e.Postings[1].Side = "" }), folio.EINVALID},
		{"zero amount", pair("110:USD", "201:USD:alice", "0"), folio.EAMOUNT},
		{"zero amount with decimals", pair("110:USD", "201:USD:alice", "0.00"), folio.EAMOUNT},
		{"negative amount", pair("110:USD", "201:USD:alice", "-1"), folio.EAMOUNT},
		{"too many decimals USD 1.001", pair("110:USD", "201:USD:alice", "1.001"), folio.EAMOUNT},
		{"decimals on JPY 1.5", pair("110:JPY", "201:JPY:alice", "1.5"), folio.EAMOUNT},
		{"21 integer digits", pair("110:JPY", "201:JPY:alice", "100000000000000000000"), folio.EAMOUNT},
		{"amount with exponent", pair("110:USD", "201:USD:alice", "1e3"), folio.EAMOUNT},
		{"amount empty", pair("110:USD", "201:USD:alice", ""), folio.EAMOUNT},
		{"empty idempotency key", with(ok, func(e *ledger.NewEntry) { e.IdempotencyKey = "" }), folio.EINVALID},
		{"idempotency key with spaces", with(ok, func(e *ledger.NewEntry) { e.IdempotencyKey = "trade 42" }), folio.EINVALID},
		{"idempotency key of 201 characters", with(ok, func(e *ledger.NewEntry) { e.IdempotencyKey = strings.Repeat("k", 201) }), folio.EINVALID},
		{"idempotency key not ASCII", with(ok, func(e *ledger.NewEntry) { e.IdempotencyKey = "clé" }), folio.EINVALID},
		{"reserved kind reversal", with(ok, func(e *ledger.NewEntry) { e.Kind = "reversal" }), folio.EINVALID},
		{"reserved kind post_pending", with(ok, func(e *ledger.NewEntry) { e.Kind = ledger.KindPost }), folio.EINVALID},
		{"reserved kind void_pending", with(ok, func(e *ledger.NewEntry) { e.Kind = ledger.KindVoid }), folio.EINVALID},
		{"bad kind", with(ok, func(e *ledger.NewEntry) { e.Kind = "Trade-Fee" }), folio.EINVALID},
		{"kind of 33 characters", with(ok, func(e *ledger.NewEntry) { e.Kind = "k" + strings.Repeat("x", 32) }), folio.EINVALID},
		{"metadata an array", with(ok, func(e *ledger.NewEntry) { e.Metadata = json.RawMessage(`[1,2]`) }), folio.EINVALID},
		{"metadata a string", with(ok, func(e *ledger.NewEntry) { e.Metadata = json.RawMessage(`"x"`) }), folio.EINVALID},
		{"metadata invalid JSON", with(ok, func(e *ledger.NewEntry) { e.Metadata = json.RawMessage(`{"a":`) }), folio.EINVALID},
		{"metadata two values", with(ok, func(e *ledger.NewEntry) { e.Metadata = json.RawMessage(`{} {}`) }), folio.EINVALID},
		{"metadata too large", with(ok, func(e *ledger.NewEntry) {
			e.Metadata = json.RawMessage(`{"a":"` + strings.Repeat("x", ledger.MaxMetadataBytes) + `"}`)
		}), folio.EINVALID},
		{"metadata too large once numbers are written out", with(ok, func(e *ledger.NewEntry) {
			e.Metadata = json.RawMessage(`{"a":[` + strings.Repeat("1e999,", 100) + `1]}`)
		}), folio.EINVALID},
		{"metadata number out of range", with(ok, func(e *ledger.NewEntry) { e.Metadata = json.RawMessage(`{"a":1e5000}`) }), folio.EINVALID},
		{"metadata string with NUL", with(ok, func(e *ledger.NewEntry) { e.Metadata = json.RawMessage(`{"a":"x\u0000y"}`) }), folio.EINVALID},
		{"metadata key with NUL", with(ok, func(e *ledger.NewEntry) { e.Metadata = json.RawMessage(`{"a\u0000":1}`) }), folio.EINVALID},
		{"expires_at without pending", with(ok, func(e *ledger.NewEntry) { e.ExpiresAt = &future }), folio.EINVALID},
		{"expires_at in the past", with(ok, func(e *ledger.NewEntry) { e.Pending, e.ExpiresAt = true, &past }), folio.EINVALID},
		{"expires_at now", with(ok, func(e *ledger.NewEntry) { now := validateNow; e.Pending, e.ExpiresAt = true, &now }), folio.EINVALID},
		{"effective_at far future", with(ok, func(e *ledger.NewEntry) { e.EffectiveAt = validateNow.Add(25 * time.Hour) }), folio.EINVALID},
		{"effective_at more than 100 years back", with(ok, func(e *ledger.NewEntry) { e.EffectiveAt = validateNow.AddDate(-101, 0, 0) }), folio.EINVALID},
		{"description too long", with(ok, func(e *ledger.NewEntry) { e.Description = strings.Repeat("d", ledger.MaxDescription+1) }), folio.EINVALID},
		{"description not UTF-8", with(ok, func(e *ledger.NewEntry) { e.Description = "caf\xe9" }), folio.EINVALID},
		{"description with NUL", with(ok, func(e *ledger.NewEntry) { e.Description = "a\x00b" }), folio.EINVALID},
		{"bad id", with(ok, func(e *ledger.NewEntry) { e.ID = "42" }), folio.EINVALID},
		{"bad parent_id", with(ok, func(e *ledger.NewEntry) { e.ParentID = "not-a-uuid" }), folio.EINVALID},
		{"upper-case parent_id", with(ok, func(e *ledger.NewEntry) { e.ParentID = "3F2504E0-4F89-41D3-9A0C-0305E82C3301" }), folio.EINVALID},
		{"batch_id too long", with(ok, func(e *ledger.NewEntry) { e.BatchID = strings.Repeat("b", ledger.MaxBatchIDLength+1) }), folio.EINVALID},
		{"batch_id with NUL", with(ok, func(e *ledger.NewEntry) { e.BatchID = "b\x00" }), folio.EINVALID},
	}
	if len(tests) < 25 {
		t.Fatalf("only %d cases", len(tests))
	}
	chart := unitChart()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ledger.Validate(chart, tt.e, validateNow)
			if got := code(err); got != tt.want {
				t.Fatalf("Validate() = %v, want code %s", err, tt.want)
			}
			var fe *folio.Error
			if !errors.As(err, &fe) || fe.Message == "" {
				t.Fatalf("Validate() = %#v, want a *folio.Error with a message", err)
			}
		})
	}
}

func TestValidateAccepts(t *testing.T) {
	expires := validateNow.Add(time.Minute)
	tests := []struct {
		name string
		e    ledger.NewEntry
	}{
		{"two postings", pair("110:USD", "201:USD:alice", "10")},
		{"kind defaults to manual", with(pair("110:USD", "201:USD:alice", "10"), func(e *ledger.NewEntry) { e.Kind = "" })},
		{"multi-currency, each balanced", entry("k", "110:USD", "debit", "10", "201:USD:alice", "credit", "10",
			"110:BTC", "debit", "0.5", "201:BTC:alice", "credit", "0.25", "201:BTC:bob", "credit", "0.25")},
		{"max precision USD", pair("110:USD", "201:USD:alice", "0.01")},
		{"max precision USDT", pair("110:USDT", "201:USDT:alice", "123.456789")},
		{"max precision BTC", pair("110:BTC", "201:BTC:alice", "0.00000001")},
		{"JPY integer", pair("110:JPY", "201:JPY:alice", "1")},
		{"20-digit integer amount", pair("110:JPY", "201:JPY:alice", "99999999999999999999")},
		{"20 integer digits and 18 decimals", pair("110:WEI", "201:WEI:alice", "99999999999999999999.999999999999999999")},
		{"same account twice", entry("k", "110:USD", "debit", "1", "110:USD", "credit", "1")},
		{"holder of 64 characters with . _ -", pair("110:USD", "201:USD:"+strings.Repeat("a._-", 16), "10")},
		{"pending with expiry", with(pair("110:USD", "201:USD:alice", "10"), func(e *ledger.NewEntry) { e.Pending, e.ExpiresAt = true, &expires })},
		{"back-dated 99 years", with(pair("110:USD", "201:USD:alice", "10"), func(e *ledger.NewEntry) { e.EffectiveAt = validateNow.AddDate(-99, 0, 0) })},
		{"effective 23 hours ahead", with(pair("110:USD", "201:USD:alice", "10"), func(e *ledger.NewEntry) { e.EffectiveAt = validateNow.Add(23 * time.Hour) })},
		{"metadata null", with(pair("110:USD", "201:USD:alice", "10"), func(e *ledger.NewEntry) { e.Metadata = json.RawMessage("null") })},
		{"metadata nested", with(pair("110:USD", "201:USD:alice", "10"), func(e *ledger.NewEntry) {
			e.Metadata = json.RawMessage(`{"trade":{"id":42,"fills":[1.5,2e3,{"x":null}]},"ok":true,"name":"é😀"}`)
		})},
		{"parent_id", with(pair("110:USD", "201:USD:alice", "10"), func(e *ledger.NewEntry) { e.ParentID = "3f2504e0-4f89-41d3-9a0c-0305e82c3301" })},
		{"description of 1000 bytes", with(pair("110:USD", "201:USD:alice", "10"), func(e *ledger.NewEntry) { e.Description = strings.Repeat("d", ledger.MaxDescription) })},
		{"key of 200 printable characters", with(pair("110:USD", "201:USD:alice", "10"), func(e *ledger.NewEntry) { e.IdempotencyKey = strings.Repeat("!~", 100) })},
	}
	chart := unitChart()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := ledger.Validate(chart, tt.e, validateNow); err != nil {
				t.Fatalf("Validate() = %v, want nil", err)
			}
		})
	}
}

func TestCanonicalMetadata(t *testing.T) {
	tests := []struct{ in, want string }{
		{``, `{}`},
		{`null`, `{}`},
		{` { } `, `{}`},
		{`{"b":1,"a":2}`, `{"a":2,"b":1}`},
		{`{"n":1e2}`, `{"n":100}`},
		{`{"n":1E+2}`, `{"n":100}`},
		{`{"n":1.50}`, `{"n":1.50}`},
		{`{"n":1.5e-3}`, `{"n":0.0015}`},
		{`{"n":-0}`, `{"n":0}`},
		{`{"n":-0.0}`, `{"n":0.0}`},
		{`{"n":-12.5}`, `{"n":-12.5}`},
		{`{"s":"\u00e9<>&"}`, `{"s":"é<>&"}`},
		{`{"s":"line\nbreak\ttab\u0001"}`, `{"s":"line\nbreak\ttab\u0001"}`},
		{`{"s":"\u2028"}`, `{"s":"\u2028"}`},
		{`{"z":{"y":[3,{"b":true,"a":false}],"x":null}}`, `{"z":{"x":null,"y":[3,{"a":false,"b":true}]}}`},
		{`{"a":1,"a":2}`, `{"a":2}`},
	}
	for _, tt := range tests {
		got, err := ledger.CanonicalMetadata(json.RawMessage(tt.in))
		if err != nil || string(got) != tt.want {
			t.Errorf("CanonicalMetadata(%s) = %s, %v; want %s", tt.in, got, err, tt.want)
			continue
		}
		again, err := ledger.CanonicalMetadata(got)
		if err != nil || string(again) != string(got) {
			t.Errorf("CanonicalMetadata(%s) = %s, %v; want it unchanged (idempotent)", got, again, err)
		}
	}
}
