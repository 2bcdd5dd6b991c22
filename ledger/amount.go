package ledger

import (
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
func ParseStored(s string) (apd.Decimal, error) {
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
	// The plain text with its fractional zeros trimmed is what Reduce then
	// Text gives, without Reduce's divisions by ten of the coefficient
	// (two thirds of this function's time in the trade path's profile).
	s := d.Text('f')
	if strings.IndexByte(s, '.') >= 0 {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
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
