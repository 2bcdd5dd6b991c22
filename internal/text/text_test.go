package text_test

import (
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"

	"github.com/folioledger/folio/accounts"
	"github.com/folioledger/folio/affiliate"
	"github.com/folioledger/folio/internal/text"
	"github.com/folioledger/folio/ledger"
)

// The byte-class checks of the write path accept exactly what the regular
// expressions they replaced accept: a seed corpus of edge cases, then
// random strings over an alphabet of every class boundary.
func TestChecksMatchTheirRegexps(t *testing.T) {
	checks := []struct {
		name string
		re   string
		f    func(string) bool
	}{
		{"ledger.ValidUUID", `^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`, ledger.ValidUUID},
		{"ledger.ValidIdempotencyKey", `^[\x21-\x7e]{1,200}$`, ledger.ValidIdempotencyKey},
		{"ledger.ValidKind", `^[a-z][a-z0-9_]{0,31}$`, ledger.ValidKind},
		{"ledger.PlainDecimal", `^(0|[1-9][0-9]*)(\.[0-9]+)?$`, ledger.PlainDecimal},
		{"accounts.ValidCode", `^[0-9]{3,6}$`, accounts.ValidCode},
		{"accounts.ValidCurrencyID", `^[A-Z0-9]{1,16}$`, accounts.ValidCurrencyID},
		{"accounts.ValidHolder", `^[A-Za-z0-9._-]{1,64}$`, accounts.ValidHolder},
		{"affiliate.ValidTradeID", `^[\x21-\x7e]{1,128}$`, affiliate.ValidTradeID},
		{"affiliate.ValidMarket", `^[A-Za-z0-9._/-]{1,32}$`, affiliate.ValidMarket},
	}
	corpus := []string{"", "0", "00", "01", "10", "0.", ".5", "0.5", "5.", "1.2.3", "12.50", "-1", "+1", "1e5", " 1", "1 ", "1\n",
		"3f2504e0-4f89-41d3-9a0c-0305e82c3301", "3F2504E0-4F89-41D3-9A0C-0305E82C3301", "3f2504e0-4f89-41d3-9a0c-0305e82c330", "3f2504e04f89-41d3-9a0c-0305e82c3301-",
		"a", "A", "a_1", "_a", "1a", "trade_fee", "USDT", "usdt", "BTC2", "101", "1010", "1234567", "12", "alice", "a.b-c_d", "a b", "a/b", "BTC/USDT",
		"é", "\x00", "\x7f", "~", "!", strings.Repeat("a", 31), strings.Repeat("a", 32), strings.Repeat("a", 33), strings.Repeat("x", 64), strings.Repeat("x", 65),
		strings.Repeat("k", 128), strings.Repeat("k", 129), strings.Repeat("k", 200), strings.Repeat("k", 201), strings.Repeat("9", 6) + ".0"}
	alphabet := []byte("09afgzAFGZ-._/: ~!\x20\x21\x7e\x7f\x00\n\xc3\xa9")
	rng := rand.New(rand.NewPCG(7, 11))
	for range 20000 {
		n := rng.IntN(40)
		if rng.IntN(10) == 0 {
			n = 190 + rng.IntN(20)
		}
		b := make([]byte, n)
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		corpus = append(corpus, string(b))
	}
	// Random strings of the right shape, so the accepting paths are
	// exercised too.
	for range 2000 {
		u := []byte("3f2504e0-4f89-41d3-9a0c-0305e82c3301")
		u[rng.IntN(len(u))] = alphabet[rng.IntN(len(alphabet))]
		corpus = append(corpus, string(u), strings.Repeat("1", 1+rng.IntN(4))+"."+strings.Repeat("0", rng.IntN(3)))
	}
	for _, c := range checks {
		re := regexp.MustCompile(c.re)
		accepted := 0
		for _, s := range corpus {
			want := re.MatchString(s)
			if got := c.f(s); got != want {
				t.Errorf("%s(%q) = %v, regexp %s says %v", c.name, s, got, c.re, want)
			}
			if want {
				accepted++
			}
		}
		if accepted == 0 {
			t.Errorf("%s: the corpus has no accepted string", c.name)
		}
	}
}

func TestTextProblem(t *testing.T) {
	cases := []struct {
		s, allowed, want string
	}{
		{"", text.SingleLine, ""},
		{"203.0.113.7", text.SingleLine, ""},
		{"Grüße, 東京 — ok", text.SingleLine, ""},
		{"a\x00b", text.SingleLine, "contains the control character U+0000"},
		{"a\x00b", text.Multiline, "contains the control character U+0000"},
		{"line\nbreak", text.SingleLine, "contains the control character U+000A"},
		{"line\nbreak", text.Multiline, ""},
		{"crlf\r\nand\ttab", text.Multiline, ""},
		{"bell\x07", text.Multiline, "contains the control character U+0007"},
		{"esc\x1b[31m", text.SingleLine, "contains the control character U+001B"},
		{"del\x7f", text.SingleLine, "contains the control character U+007F"},
		{"c1\u0085", text.Multiline, "contains the control character U+0085"},
		{"c1\u009f", text.SingleLine, "contains the control character U+009F"},
		{"latin1 \xe9t\xe9", text.SingleLine, "is not valid UTF-8"},
		{"truncated \xe2\x82", text.Multiline, "is not valid UTF-8"},
		{"surrogate \xed\xa0\x80", text.SingleLine, "is not valid UTF-8"},
		{"\uFFFD written as such", text.SingleLine, ""},
	}
	for _, c := range cases {
		if got := text.TextProblem(c.s, c.allowed); got != c.want {
			t.Errorf("TextProblem(%q, %q) = %q, want %q", c.s, c.allowed, got, c.want)
		}
	}
}
