// Package text holds the text checks of the write path: byte classes for
// identifiers, keys and amounts, and the rule for client-given free text.
// Identifiers, keys and amounts are checked byte by byte against a class
// instead of with regexp, a large share of ledger validation's CPU in the
// trade benchmark (README, "Measured figures, dated"); TestChecksMatchTheirRegexps (text_test.go)
// compares every such check with the regular expression it replaced.
package text

import "unicode/utf8"

// Chars reports whether s has minLen to maxLen bytes and every byte is in
// the class ok.
func Chars(s string, minLen, maxLen int, ok func(byte) bool) bool {
	if len(s) < minLen || len(s) > maxLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !ok(s[i]) {
			return false
		}
	}
	return true
}

// Byte classes for Chars.
func IsDigit(b byte) bool      { return '0' <= b && b <= '9' }
func IsLower(b byte) bool      { return 'a' <= b && b <= 'z' }
func IsUpper(b byte) bool      { return 'A' <= b && b <= 'Z' }
func IsAlnum(b byte) bool      { return IsDigit(b) || IsLower(b) || IsUpper(b) }
func IsPrintable(b byte) bool  { return 0x21 <= b && b <= 0x7e } // printable ASCII without space
func IsHexLower(b byte) bool   { return IsDigit(b) || ('a' <= b && b <= 'f') }
func IsUpperAlnum(b byte) bool { return IsDigit(b) || IsUpper(b) }

// IsName is the class of holder ids, user ids and groups: A-Z a-z 0-9 . _ -
func IsName(b byte) bool { return IsAlnum(b) || b == '.' || b == '_' || b == '-' }

// Control characters allowed in free text. Identifiers, IP addresses,
// device ids, tax ids and names are single-line and allow none
// (SingleLine); notes may be several lines and allow tab, line feed and
// carriage return (Multiline, so that a browser's CRLF is accepted).
const (
	SingleLine = ""
	Multiline  = "\t\n\r"
)

// TextProblem says what makes s unfit to store as client-given text, or ""
// when nothing does: s must be valid UTF-8 (PostgreSQL refuses invalid
// bytes and encoding/json would replace them with U+FFFD) and have no
// control character — C0 (U+0000–U+001F, NUL included, which a TEXT column
// refuses), DEL (U+007F) or C1 (U+0080–U+009F) — other than those in
// allowed. The answer completes a sentence that starts with the field's
// name: "note" + " contains the control character U+0007".
func TextProblem(s, allowed string) string {
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			if (b < 0x20 || b == 0x7f) && !allows(allowed, rune(b)) {
				return controlProblem(rune(b))
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			return "is not valid UTF-8"
		}
		if r >= 0x80 && r <= 0x9f && !allows(allowed, r) {
			return controlProblem(r)
		}
		i += n
	}
	return ""
}

func controlProblem(r rune) string {
	const hex = "0123456789ABCDEF"
	return "contains the control character U+00" + string([]byte{hex[r>>4], hex[r&0xf]})
}

func allows(allowed string, r rune) bool {
	for _, a := range allowed {
		if a == r {
			return true
		}
	}
	return false
}
