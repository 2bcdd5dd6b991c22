package ledger

import (
	"math/bits"
	"strconv"
	"strings"

	"github.com/cockroachdb/apd/v3"
	"github.com/folioledger/folio"
	"github.com/folioledger/folio/internal/text"
)

// MaxIntegerDigits bounds the integer part of an amount: NUMERIC(38,18)
// leaves 20 digits before the point.
const MaxIntegerDigits = 20

// Decimal is the arithmetic context for money. It is exact: any operation
// that would round or overflow returns an error instead (the Inexact and
// Rounded conditions trap), so sums of amounts never lose a digit. Rounding
// that the business rules ask for (commission shares round down) is done
// explicitly with Quantize under a context of its own.
var Decimal = apd.Context{
	Precision:   40,
	MaxExponent: apd.MaxExponent,
	MinExponent: apd.MinExponent,
	Traps:       apd.DefaultTraps | apd.Inexact | apd.Rounded,
	Rounding:    apd.RoundHalfEven,
}

// PlainDecimal reports whether s is digits without a leading zero (or a
// lone 0), optionally followed by a point and at least one digit.
func PlainDecimal(s string) bool {
	intPart, frac, hasPoint := strings.Cut(s, ".")
	switch {
	case !text.Chars(intPart, 1, len(intPart), text.IsDigit):
		return false
	case len(intPart) > 1 && intPart[0] == '0':
		return false
	case hasPoint && !text.Chars(frac, 1, len(frac), text.IsDigit):
		return false
	}
	return true
}

// ParseAmount parses a posting amount for a currency with the given
// precision. The grammar is strict: digits with an optional fractional part
// ("12", "0.5", "12.50"); no sign, exponent, spaces, leading zeros, or bare
// point ("5.", ".5"). The amount must be positive, have at most 20 integer
// digits and at most precision decimal places — never rounded. Errors carry
// the code invalid_amount.
func ParseAmount(s string, precision int) (apd.Decimal, error) {
	var d apd.Decimal
	if !PlainDecimal(s) {
		return d, folio.Errorf(folio.EAMOUNT, "amount %q is not a plain positive decimal such as \"12.50\"", truncate(s))
	}
	if _, _, err := d.SetString(s); err != nil {
		return d, folio.Errorf(folio.EAMOUNT, "amount %q is not a decimal", truncate(s))
	}
	if d.Sign() <= 0 {
		return d, folio.Errorf(folio.EAMOUNT, "amount %s must be greater than zero", s)
	}
	if places := -int(d.Exponent); places > precision {
		return d, folio.Errorf(folio.EAMOUNT, "amount %s has %d decimal places; the currency allows %d", s, places, precision)
	}
	if intDigits := int(d.NumDigits()) + int(d.Exponent); intDigits > MaxIntegerDigits {
		return d, folio.Errorf(folio.EAMOUNT, "amount %s has more than %d integer digits", truncate(s), MaxIntegerDigits)
	}
	return d, nil
}

// ParseStored parses a decimal read from the database (NUMERIC as text).
// The scale's trailing zeros ("12.500000000000000000" from a
// NUMERIC(38,18) column) are dropped first: the value is the same, and its
// coefficient then usually fits a machine word, which keeps arithmetic on
// it and Format on the results off math/big.
func ParseStored(s string) (apd.Decimal, error) {
	if strings.IndexByte(s, '.') >= 0 && !strings.ContainsAny(s, "eE") {
		s = strings.TrimSuffix(strings.TrimRight(s, "0"), ".")
	}
	var d apd.Decimal
	_, _, err := d.SetString(s)
	return d, err
}

// ParseStoredOptional is ParseStored of a nullable NUMERIC read as text:
// nil for NULL.
func ParseStoredOptional(s *string) (*apd.Decimal, error) {
	if s == nil {
		return nil, nil
	}
	d, err := ParseStored(*s)
	if err != nil {
		return nil, err
	}
	return &d, nil
}

// Format returns the canonical text of d: plain notation, no exponent, no
// trailing fractional zeros ("25", "12.5", "0.000001").
func Format(d *apd.Decimal) string {
	if d.IsZero() {
		return "0"
	}
	if d.Form == apd.Finite {
		var buf [40]byte
		if digits, ok := coeffDigits(&d.Coeff, buf[:0]); ok {
			return placePoint(d.Negative, digits, d.Exponent)
		}
	}
	// The plain text with its fractional zeros trimmed is what Reduce then
	// Text gives, without Reduce's divisions by ten of the coefficient.
	s := d.Text('f')
	if strings.IndexByte(s, '.') >= 0 {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

// coeffDigits appends the decimal digits of a coefficient of at most 128
// bits below 10³⁸ (every NUMERIC(38,18) value) to dst, with one or two
// strconv calls: apd's Text goes through math/big's general conversion,
// and Format runs for every numeric a batch sends and hashes (a tenth of
// the server's CPU in the trade path's profile). ok is false for a larger
// coefficient.
func coeffDigits(c *apd.BigInt, dst []byte) (_ []byte, ok bool) {
	if c.IsUint64() {
		return strconv.AppendUint(dst, c.Uint64(), 10), true
	}
	const e19 = 10_000_000_000_000_000_000
	w := c.Bits()
	if c.Sign() < 0 || len(w) != 2 || bits.UintSize != 64 || uint64(w[1]) >= e19 {
		return dst, false
	}
	hi, lo := bits.Div64(uint64(w[1]), uint64(w[0]), e19)
	dst = strconv.AppendUint(dst, hi, 10)
	var low [19]byte
	l := strconv.AppendUint(low[:0], lo, 10)
	for range 19 - len(l) {
		dst = append(dst, '0')
	}
	return append(dst, l...), true
}

// placePoint is the plain text of (-1)^neg × digits × 10^exp without
// fractional trailing zeros; digits has no leading zeros.
func placePoint(neg bool, digits []byte, exp int32) string {
	for exp < 0 && len(digits) > 1 && digits[len(digits)-1] == '0' {
		digits = digits[:len(digits)-1]
		exp++
	}
	var buf [64]byte
	out := buf[:0]
	if neg {
		out = append(out, '-')
	}
	switch point := len(digits) + int(exp); {
	case exp >= 0:
		out = append(out, digits...)
		for range exp {
			out = append(out, '0')
		}
	case point > 0:
		out = append(append(append(out, digits[:point]...), '.'), digits[point:]...)
	default:
		out = append(out, '0', '.')
		for range -point {
			out = append(out, '0')
		}
		out = append(out, digits...)
	}
	return string(out)
}

func truncate(s string) string {
	if len(s) > 48 {
		return s[:48] + "…"
	}
	return s
}

// storable reports whether d fits the NUMERIC(38,18) columns: at most
// MaxIntegerDigits digits before the point (amounts never have more than 18
// after it).
func storable(d *apd.Decimal) bool {
	return d.IsZero() || int(d.NumDigits())+int(d.Exponent) <= MaxIntegerDigits
}

// clone returns a deep copy of d. An apd.Decimal must never be copied by
// value and then changed in place: once its coefficient outgrows the inline
// words it lives in a shared *big.Int, and the copy would change with it.
func clone(d *apd.Decimal) apd.Decimal {
	var out apd.Decimal
	out.Set(d)
	return out
}

// add sets d = x + y exactly.
func add(d, x, y *apd.Decimal) error {
	_, err := Decimal.Add(d, x, y)
	return err
}

// sub sets d = x - y exactly.
func sub(d, x, y *apd.Decimal) error {
	_, err := Decimal.Sub(d, x, y)
	return err
}
