package ledger

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/folioledger/folio/accounts"
)

// requestContentFmt is the fmt-based definition of requestContent; stored
// content hashes depend on the bytes, so the fast version must match it.
func requestContentFmt(kind string, e NewEntry, md json.RawMessage, ps []Posting) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "kind=%s\ndescription=%q\npending=%t\nparent=%s\nbatch=%s\nmetadata=%s\n", kind, e.Description, e.Pending, e.ParentID, e.BatchID, md)
	if e.ExpiresAt != nil {
		fmt.Fprintf(&b, "expires=%s\n", e.ExpiresAt.UTC().Truncate(time.Microsecond).Format(time.RFC3339Nano))
	}
	if !e.EffectiveAt.IsZero() {
		fmt.Fprintf(&b, "effective=%s\n", e.EffectiveAt.UTC().Truncate(time.Microsecond).Format(time.RFC3339Nano))
	}
	for _, p := range ps {
		fmt.Fprintf(&b, "posting=%s %s %s\n", p.Account, p.Side, Format(&p.Amount))
	}
	return []byte(b.String())
}

func TestRequestContentMatchesFmt(t *testing.T) {
	exp := time.Date(2030, 1, 2, 3, 4, 5, 123456789, time.FixedZone("x", 3600))
	descs := []string{"", "Trade fee t-1", `quote " and \ backslash`, "tab\tnew\nline", "ünïcödé ✓ \u2028", "bad \xff utf8", "nul\x00"}
	for i, d := range descs {
		amt, _ := ParseAmount("12.5", 6)
		ps := []Posting{
			{Account: accounts.Key{Code: "202", Currency: "USDT", Holder: "u-1"}, Side: accounts.Debit, Amount: amt},
			{Account: accounts.Key{Code: "101", Currency: "USDT"}, Side: accounts.Credit, Amount: amt},
		}
		e := NewEntry{Description: d, Pending: i%2 == 0, ParentID: "p", BatchID: "b\"x"}
		if i%3 == 0 {
			e.ExpiresAt = &exp
			e.EffectiveAt = exp.Add(-time.Hour)
		}
		md := json.RawMessage(`{"a":"b"}`)
		if got, want := requestContent("trade_fee", e, md, ps), requestContentFmt("trade_fee", e, md, ps); !bytes.Equal(got, want) {
			t.Errorf("%q:\n got %q\nwant %q", d, got, want)
		}
	}
}

func TestWriteStringMatchesEncoder(t *testing.T) {
	for _, s := range []string{"", "abc", "t-1/BTC_USDT.x", "<&>", "a\"b", `a\b`, "\x7f", "\x01", "ü", "\u2028", "\xff", "~ !#$%"} {
		var got bytes.Buffer
		writeString(&got, s)
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		_ = enc.Encode(s)
		if want := bytes.TrimRight(b.Bytes(), "\n"); !bytes.Equal(got.Bytes(), want) {
			t.Errorf("%q: got %s want %s", s, got.Bytes(), want)
		}
	}
}
