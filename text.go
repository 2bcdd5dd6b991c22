package folio

// Text checks for the write path. Identifiers, keys and amounts are
// checked byte by byte against a class instead of with regexp, which was
// ~22% of ledger validation's CPU samples in the trade benchmark;
// TestChecksMatchTheirRegexps (text_test.go) compares every such check
// with the regular expression it replaced.

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
