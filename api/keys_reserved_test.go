package api

import (
	"net/http"
	"slices"
	"strings"
	"testing"
)

// Client idempotency keys cannot take the prefixes of the keys Folio gives
// its own entries, so a manual entry can never block a trade or a keyless
// reversal.
func TestReservedIdempotencyKeys(t *testing.T) {
	e := newEnv(t)
	e.currencies()
	before := e.snapshot()
	for _, key := range []string{"trade:t-1", "commission:t-1", "reversal:00000000-0000-0000-0000-000000000000", "payout:pb_1", "bounty:viral:x"} {
		res := e.do(req{Method: "POST", Path: "/v1/entries", Key: bootstrapKey, Header: map[string]string{"Idempotency-Key": key},
			Body: entryBody("", posting("110:USDT", "debit", "1"), posting("201:USDT:u1", "credit", "1"))})
		if res.Status != http.StatusBadRequest || res.JSON(t)["code"] != "invalid_request" {
			t.Errorf("key %q: %d %s, want 400 invalid_request", key, res.Status, res.Body)
		}
	}
	if after := e.snapshot(); after != before {
		t.Fatal("a refused entry changed the journal")
	}
	e.must(http.StatusCreated, req{Method: "POST", Path: "/v1/entries", Key: bootstrapKey, Header: map[string]string{"Idempotency-Key": "trades-are-fine"},
		Body: entryBody("", posting("110:USDT", "debit", "1"), posting("201:USDT:u1", "credit", "1"))})
}

// The reserved prefixes, now listed by the ledger and the affiliate engine
// that own them, are exactly those api once listed itself, and none starts
// another (so which one a refusal names does not depend on their order).
func TestReservedPrefixesOfTheirOwners(t *testing.T) {
	want := []string{"trade:", "commission:", "bounty:", "payout:", "payout-confirmed:", "payout-refused:",
		"forfeit:", "reversal:", "post:", "void:", "expire:", "reverse-trade:", "reverse-commission:"}
	got := slices.Clone(reservedKeyPrefixes)
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("reserved prefixes = %q, want %q", got, want)
	}
	for _, a := range got {
		for _, b := range got {
			if a != b && strings.HasPrefix(b, a) {
				t.Errorf("prefix %q starts prefix %q", a, b)
			}
		}
	}
}
