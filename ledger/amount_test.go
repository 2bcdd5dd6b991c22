package ledger_test

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/cockroachdb/apd/v3"
	"github.com/folioledger/folio"
	"github.com/folioledger/folio/accounts"
	"github.com/folioledger/folio/ledger"
)

func TestParseAmount(t *testing.T) {
	digits20 := "12345678901234567890"
	tests := []struct {
		name      string
		in        string
		precision int
		want      string // Format of the result; "" when rejected
	}{
		{"integer", "12", 2, "12"},
		{"decimal", "12.5", 2, "12.5"},
		{"exactly precision", "12.50", 2, "12.5"},
		{"smallest unit", "0.01", 2, "0.01"},
		{"zero integer part", "0.5", 1, "0.5"},
		{"precision 0", "7", 0, "7"},
		{"precision 18", "0.000000000000000001", 18, "0.000000000000000001"},
		{"20 integer digits", digits20, 0, digits20},
		{"20 integer digits and 18 decimals", digits20 + ".123456789012345678", 18, digits20 + ".123456789012345678"},
		{"max value", "99999999999999999999.999999999999999999", 18, "99999999999999999999.999999999999999999"},

		{"leading plus", "+1", 2, ""},
		{"negative", "-1", 2, ""},
		{"negative zero", "-0", 2, ""},
		{"exponent 1e3", "1e3", 2, ""},
		{"exponent 1E3", "1E3", 2, ""},
		{"negative exponent 1e-2", "1e-2", 2, ""},
		{"bare leading point", ".5", 2, ""},
		{"bare trailing point", "5.", 2, ""},
		{"point only", ".", 2, ""},
		{"leading space", " 1", 2, ""},
		{"trailing space", "1 ", 2, ""},
		{"trailing newline", "1\n", 2, ""},
		{"inner space", "1 000", 2, ""},
		{"zero", "0", 2, ""},
		{"zero with decimals", "0.0", 2, ""},
		{"zero at precision", "0.00", 2, ""},
		{"leading zero before point", "00.5", 2, ""},
		{"leading zero integer", "01", 2, ""},
		{"21 integer digits", "1" + digits20, 0, ""},
		{"21 integer digits with decimals", "1" + digits20 + ".5", 2, ""},
		{"200 digits", "1" + strings.Repeat("0", 199), 18, ""},
		{"one decimal too many", "1.001", 2, ""},
		{"decimals at precision 0", "1.5", 0, ""},
		{"trailing zeros beyond precision rejected (1.500 has 3 places)", "1.500", 2, ""},
		{"zero decimals beyond precision 0 rejected (1.0)", "1.0", 0, ""},
		{"NaN", "NaN", 2, ""},
		{"nan", "nan", 2, ""},
		{"Infinity", "Infinity", 2, ""},
		{"Inf", "Inf", 2, ""},
		{"hexadecimal", "0x10", 2, ""},
		{"arabic-indic digits", "١٢", 2, ""},
		{"fullwidth digits", "１２", 2, ""},
		{"empty", "", 2, ""},
		{"decimal comma", "1,5", 2, ""},
		{"thousands comma", "1,000", 2, ""},
		{"underscore separator", "1_000", 2, ""},
		{"two points", "1.2.3", 2, ""},
		{"letters", "ten", 2, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := ledger.ParseAmount(tt.in, tt.precision)
			if tt.want == "" {
				if code(err) != folio.EAMOUNT {
					t.Fatalf("ParseAmount(%q, %d) = %s, %v; want invalid_amount", tt.in, tt.precision, ledger.Format(&d), err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseAmount(%q, %d) error %v, want %s", tt.in, tt.precision, err, tt.want)
			}
			if got := ledger.Format(&d); got != tt.want {
				t.Fatalf("Format(ParseAmount(%q, %d)) = %s, want %s", tt.in, tt.precision, got, tt.want)
			}
		})
	}
}

func TestFormat(t *testing.T) {
	tests := []struct{ in, want string }{
		{"12.50", "12.5"},
		{"100", "100"},
		{"0.000001", "0.000001"},
		{"100.000000000000000000", "100"},
		{"0.000000000000000000", "0"},
		{"-0", "0"},
		{"-12.340", "-12.34"},
		{"1E+2", "100"},
		{"99999999999999999999.999999999999999999", "99999999999999999999.999999999999999999"},
	}
	for _, tt := range tests {
		d, err := ledger.ParseStored(tt.in)
		if err != nil {
			t.Fatalf("ParseStored(%q): %v", tt.in, err)
		}
		if got := ledger.Format(&d); got != tt.want {
			t.Errorf("Format(%s) = %s, want %s", tt.in, got, tt.want)
		}
	}
	// Against the definition (Reduce, then plain text) over random values
	// of every scale and sign, with trailing zeros in the coefficient.
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		var d apd.Decimal
		d.SetFinite(rng.Int64N(1_000_000_000_000)*[]int64{1, 10, 1000}[rng.IntN(3)], -int32(rng.IntN(25))+3)
		if rng.IntN(4) == 0 {
			// Coefficients around and past 64 bits, and some past 128.
			var big apd.BigInt
			big.SetUint64(rng.Uint64())
			big.Mul(&big, apd.NewBigInt(int64(rng.IntN(1000)+1)))
			if rng.IntN(3) == 0 {
				big.Mul(&big, apd.NewBigInt(rng.Int64N(1<<62)+1)) // past 128 bits, or 10³⁸
			}
			d.Coeff.Set(&big)
		}
		if rng.IntN(2) == 0 {
			d.Neg(&d)
		}
		var r apd.Decimal
		r.Reduce(&d)
		want := r.Text('f')
		if r.IsZero() {
			want = "0"
		}
		if got := ledger.Format(&d); got != want {
			t.Fatalf("Format(%s) = %s, want %s", d.String(), got, want)
		}
	}
}

// TestParseStoredScale checks that a NUMERIC(38,18) text parses to the
// same value without the scale's trailing zeros, and that an exponent's
// zeros are left alone.
func TestParseStoredScale(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want string
		exp  int32
	}{
		{"12.500000000000000000", "12.5", -1},
		{"-3.000000000000000000", "-3", 0},
		{"0.000000000000000000", "0", 0},
		{"100", "100", 0},
		{"0.000000000000000001", "0.000000000000000001", -18},
		{"1.50E+20", "150000000000000000000", 18},
	} {
		d, err := ledger.ParseStored(tt.in)
		if err != nil {
			t.Fatalf("ParseStored(%q): %v", tt.in, err)
		}
		if got := ledger.Format(&d); got != tt.want || d.Exponent != tt.exp {
			t.Errorf("ParseStored(%q) = %s (exponent %d), want %s (exponent %d)", tt.in, got, d.Exponent, tt.want, tt.exp)
		}
	}
}

// FuzzParseAmount checks that whatever ParseAmount accepts is a positive
// amount within the currency's precision and 20 integer digits, and that its
// canonical text (Format) parses back to the same value; whatever it
// rejects, it rejects with invalid_amount.
func FuzzParseAmount(f *testing.F) {
	for _, s := range []string{"12.50", "0.01", "1", "99999999999999999999", "1e3", "-1", "+1", ".5", "5.", " 1", "0", "00.5",
		"1.500", "NaN", "Infinity", "0x10", "1,5", "1_000", "", "١", "0.000000000000000001"} {
		for _, p := range []uint8{0, 2, 8, 18} {
			f.Add(s, p)
		}
	}
	f.Fuzz(func(t *testing.T, s string, p uint8) {
		precision := int(p) % (accounts.MaxPrecision + 1)
		d, err := ledger.ParseAmount(s, precision)
		if err != nil {
			if code(err) != folio.EAMOUNT {
				t.Fatalf("ParseAmount(%q, %d) error %v, want invalid_amount", s, precision, err)
			}
			return
		}
		if d.Sign() <= 0 {
			t.Fatalf("ParseAmount(%q, %d) = %s, want > 0", s, precision, ledger.Format(&d))
		}
		text := ledger.Format(&d)
		if places := len(text) - strings.IndexByte(text, '.') - 1; strings.Contains(text, ".") && places > precision {
			t.Fatalf("ParseAmount(%q, %d) = %s: %d decimal places", s, precision, text, places)
		}
		if intPart, _, _ := strings.Cut(text, "."); len(intPart) > ledger.MaxIntegerDigits {
			t.Fatalf("ParseAmount(%q, %d) = %s: more than %d integer digits", s, precision, text, ledger.MaxIntegerDigits)
		}
		back, err := ledger.ParseAmount(text, precision)
		if err != nil {
			t.Fatalf("ParseAmount(Format(ParseAmount(%q))) = ParseAmount(%q): %v", s, text, err)
		}
		if back.Cmp(&d) != 0 {
			t.Fatalf("round trip of %q: %s != %s", s, ledger.Format(&back), text)
		}
		if again := ledger.Format(&back); again != text {
			t.Fatalf("Format not canonical: %q then %q", text, again)
		}
	})
}
