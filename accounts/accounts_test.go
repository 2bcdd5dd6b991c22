package accounts_test

import (
	"strings"
	"testing"

	"github.com/folioledger/folio"
	"github.com/folioledger/folio/accounts"
)

func TestParseKey(t *testing.T) {
	holder64 := strings.Repeat("h", 64)
	tests := []struct {
		in       string
		want     accounts.Key
		wantCode string // error code; "" for success
	}{
		// Valid keys.
		{in: "605:USDT", want: accounts.Key{Code: "605", Currency: "USDT"}},
		{in: "208:USDT:u42", want: accounts.Key{Code: "208", Currency: "USDT", Holder: "u42"}},
		{in: "208:BTC:a.b_c-D", want: accounts.Key{Code: "208", Currency: "BTC", Holder: "a.b_c-D"}},
		{in: "100000:X", want: accounts.Key{Code: "100000", Currency: "X"}},
		{in: "605:ABCDEFGHIJ123456", want: accounts.Key{Code: "605", Currency: "ABCDEFGHIJ123456"}},
		{in: "208:USDT:" + holder64, want: accounts.Key{Code: "208", Currency: "USDT", Holder: holder64}},

		// Wrong shape.
		{in: "", wantCode: folio.EACCOUNT},
		{in: "605", wantCode: folio.EACCOUNT},
		{in: "605:USDT:a:b", wantCode: folio.EACCOUNT},

		// Bad code.
		{in: ":USDT", wantCode: folio.EACCOUNT},
		{in: "60:USDT", wantCode: folio.EACCOUNT},
		{in: "6050000:USDT", wantCode: folio.EACCOUNT},
		{in: "6a5:USDT", wantCode: folio.EACCOUNT},
		{in: "６０５:USDT", wantCode: folio.EACCOUNT},
		{in: " 605:USDT", wantCode: folio.EACCOUNT},

		// Bad currency.
		{in: "605:", wantCode: folio.ECURRENCY},
		{in: "605:usdt", wantCode: folio.ECURRENCY},
		{in: "605:US DT", wantCode: folio.ECURRENCY},
		{in: "605:ABCDEFGHIJ1234567", wantCode: folio.ECURRENCY}, // 17 characters
		{in: "605:USDT ", wantCode: folio.ECURRENCY},
		{in: "605:USDT\n", wantCode: folio.ECURRENCY},

		// Bad holder.
		{in: "605:USDT:", wantCode: folio.EACCOUNT},
		{in: "208:USDT:u/42", wantCode: folio.EACCOUNT},
		{in: "208:USDT:u 42", wantCode: folio.EACCOUNT},
		{in: "208:USDT:" + holder64 + "x", wantCode: folio.EACCOUNT}, // 65 characters
		{in: "208:USDT:u42 ", wantCode: folio.EACCOUNT},
		{in: "208:USDT: u42", wantCode: folio.EACCOUNT},
	}
	for _, tt := range tests {
		got, err := accounts.ParseKey(tt.in)
		if gotCode := folio.ErrorCode(err); gotCode != tt.wantCode {
			t.Errorf("ParseKey(%q) error = %v (code %q), want code %q", tt.in, err, gotCode, tt.wantCode)
			continue
		}
		if tt.wantCode != "" {
			if got != (accounts.Key{}) {
				t.Errorf("ParseKey(%q) = %+v with an error, want the zero Key", tt.in, got)
			}
			continue
		}
		if got != tt.want {
			t.Errorf("ParseKey(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
		if s := got.String(); s != tt.in {
			t.Errorf("ParseKey(%q).String() = %q, want %q", tt.in, s, tt.in)
		}
	}
}

func TestKeyStringRoundTrip(t *testing.T) {
	tests := []struct {
		key  accounts.Key
		want string
	}{
		{accounts.Key{Code: "605", Currency: "USDT"}, "605:USDT"},
		{accounts.Key{Code: "208", Currency: "USDT", Holder: "u42"}, "208:USDT:u42"},
		{accounts.Key{Code: "230", Currency: "BTC", Holder: "a.b_c-D"}, "230:BTC:a.b_c-D"},
	}
	for _, tt := range tests {
		if got := tt.key.String(); got != tt.want {
			t.Errorf("%+v.String() = %q, want %q", tt.key, got, tt.want)
		}
		back, err := accounts.ParseKey(tt.key.String())
		if err != nil || back != tt.key {
			t.Errorf("ParseKey(%q) = %+v, %v, want %+v, nil", tt.key.String(), back, err, tt.key)
		}
	}
}

func testChart() *accounts.Chart {
	return accounts.NewChart(accounts.Builtin(), []accounts.Currency{
		{ID: "USDT", Precision: 6, Enabled: true},
		{ID: "BTC", Precision: 8, Enabled: true},
		{ID: "OLD", Precision: 2, Enabled: false},
	})
}

func TestChartResolve(t *testing.T) {
	chart := testChart()
	tests := []struct {
		key          accounts.Key
		wantCode     string // error code; "" for success
		wantAccount  string // code of the returned definition on success
		wantCurrency string
	}{
		{key: accounts.Key{Code: "605", Currency: "USDT"}, wantAccount: "605", wantCurrency: "USDT"},
		{key: accounts.Key{Code: "208", Currency: "BTC", Holder: "u42"}, wantAccount: "208", wantCurrency: "BTC"},
		{key: accounts.Key{Code: "230", Currency: "USDT", Holder: "u1"}, wantAccount: "230", wantCurrency: "USDT"},

		{key: accounts.Key{Code: "999", Currency: "USDT"}, wantCode: folio.EACCOUNT},
		{key: accounts.Key{Code: "999", Currency: "USDT", Holder: "u42"}, wantCode: folio.EACCOUNT},
		{key: accounts.Key{Code: "208", Currency: "USDT"}, wantCode: folio.EACCOUNT},                // per-holder without holder
		{key: accounts.Key{Code: "605", Currency: "USDT", Holder: "u42"}, wantCode: folio.EACCOUNT}, // platform with holder
		{key: accounts.Key{Code: "605", Currency: "EUR"}, wantCode: folio.ECURRENCY},
		{key: accounts.Key{Code: "208", Currency: "EUR", Holder: "u42"}, wantCode: folio.ECURRENCY},
		{key: accounts.Key{Code: "605", Currency: "OLD"}, wantCode: folio.ECURRENCY}, // disabled
		{key: accounts.Key{Code: "208", Currency: "OLD", Holder: "u42"}, wantCode: folio.ECURRENCY},
	}
	for _, tt := range tests {
		code, cur, err := chart.Resolve(tt.key)
		if gotCode := folio.ErrorCode(err); gotCode != tt.wantCode {
			t.Errorf("Resolve(%s) error = %v (code %q), want code %q", tt.key, err, gotCode, tt.wantCode)
			continue
		}
		if tt.wantCode != "" {
			continue
		}
		if code.Code != tt.wantAccount || cur.ID != tt.wantCurrency {
			t.Errorf("Resolve(%s) = code %s, currency %s, want %s, %s", tt.key, code.Code, cur.ID, tt.wantAccount, tt.wantCurrency)
		}
	}
}

func TestChartParseAndResolve(t *testing.T) {
	chart := testChart()
	tests := []struct {
		in       string
		wantCode string
	}{
		{"605:USDT", ""},
		{"208:BTC:u42", ""},
		{"605:usdt", folio.ECURRENCY}, // refused by the parser
		{"60:USDT", folio.EACCOUNT},   // refused by the parser
		{"208:USDT", folio.EACCOUNT},  // refused by the chart
		{"605:OLD", folio.ECURRENCY},  // refused by the chart
	}
	for _, tt := range tests {
		k, _, cur, err := chart.ParseAndResolve(tt.in)
		if got := folio.ErrorCode(err); got != tt.wantCode {
			t.Errorf("ParseAndResolve(%q) error = %v (code %q), want code %q", tt.in, err, got, tt.wantCode)
			continue
		}
		if tt.wantCode == "" && (k.String() != tt.in || cur.ID != k.Currency) {
			t.Errorf("ParseAndResolve(%q) = key %s, currency %s, want key %s and its currency", tt.in, k, cur.ID, tt.in)
		}
	}
}

// TestBuiltinMatchesSpec pins the built-in chart to the table of docs/CONTRACT.md §1.1
// and the admin manual's codes (issue 15 item 10).
func TestBuiltinMatchesSpec(t *testing.T) {
	type row struct {
		code, name string
		typ        accounts.Type
		normal     accounts.Side
		perHolder  bool
	}
	spec := []row{
		{"101", "Deferred income (fees awaiting distribution)", accounts.Suspense, accounts.Credit, false},
		{"110", "Hot system assets", accounts.Asset, accounts.Debit, false},
		{"120", "User assets", accounts.Asset, accounts.Debit, false},
		{"130", "Funds en route", accounts.Asset, accounts.Debit, false},
		{"200", "Short-term liabilities (user spot balance)", accounts.Liability, accounts.Credit, true},
		{"201", "Long-term liabilities (user main balance)", accounts.Liability, accounts.Credit, true},
		{"202", "Advanced trading liabilities, active", accounts.Liability, accounts.Credit, true},
		{"203", "Advanced trading liabilities, locked", accounts.Liability, accounts.Credit, true},
		{"204", "Deferred liabilities", accounts.Liability, accounts.Credit, true},
		{"205", "Staking liabilities, active (staked user funds)", accounts.Liability, accounts.Credit, true},
		{"206", "Staking liabilities, locked (unbonding)", accounts.Liability, accounts.Credit, true},
		{"207", "Staking rewards payable", accounts.Liability, accounts.Credit, true},
		{"208", "Pending referral rewards (accrued, unpaid commissions)", accounts.Liability, accounts.Credit, true},
		{"210", "Liabilities to partners and liquidity providers", accounts.Liability, accounts.Credit, false},
		{"230", "Liabilities in transfer", accounts.Liability, accounts.Credit, true},
		{"400", "Operating expenses", accounts.Expense, accounts.Debit, false},
		{"401", "Blockchain network fee expenses", accounts.Expense, accounts.Debit, false},
		{"402", "Bank and payment provider fee expenses", accounts.Expense, accounts.Debit, false},
		{"403", "Liquidity provider fee expenses", accounts.Expense, accounts.Debit, false},
		{"404", "Promotion and marketing expenses", accounts.Expense, accounts.Debit, false},
		{"405", "Exchange rate losses", accounts.Expense, accounts.Debit, false},
		{"407", "Staking reward expenses", accounts.Expense, accounts.Debit, false},
		{"410", "Other expenses", accounts.Expense, accounts.Debit, false},
		{"420", "One-time reward expenses (bounties)", accounts.Expense, accounts.Debit, false},
		{"421", "Referral commission expenses (commissions funded beyond the fee)", accounts.Expense, accounts.Debit, false},
		{"600", "Operating revenue", accounts.Revenue, accounts.Credit, false},
		{"601", "Deposit fee revenue", accounts.Revenue, accounts.Credit, false},
		{"602", "Withdrawal fee revenue", accounts.Revenue, accounts.Credit, false},
		{"603", "Listing fee revenue", accounts.Revenue, accounts.Credit, false},
		{"604", "Exchange rate gains", accounts.Revenue, accounts.Credit, false},
		{"605", "Trading profit (definitive fee revenue)", accounts.Revenue, accounts.Credit, false},
		{"606", "Forfeited referral rewards", accounts.Revenue, accounts.Credit, false},
	}
	got := accounts.Builtin()
	if len(got) != len(spec) {
		t.Fatalf("Builtin() has %d codes, want %d", len(got), len(spec))
	}
	for i, want := range spec {
		c := got[i]
		if c.Code != want.code || c.Name != want.name || c.Type != want.typ || c.Normal != want.normal || c.PerHolder != want.perHolder {
			t.Errorf("Builtin()[%d] = %s %q %s %s per-holder=%v, want %s %q %s %s per-holder=%v",
				i, c.Code, c.Name, c.Type, c.Normal, c.PerHolder, want.code, want.name, want.typ, want.normal, want.perHolder)
		}
		wantRule := accounts.RuleNone
		if c.Code == "230" {
			wantRule = accounts.RuleNonNegative
		}
		if c.Rule != wantRule {
			t.Errorf("Builtin() code %s has rule %q, want %q", c.Code, c.Rule, wantRule)
		}
		if !c.Builtin {
			t.Errorf("Builtin() code %s has Builtin = false, want true", c.Code)
		}
		if err := c.Validate(); err != nil {
			t.Errorf("Builtin() code %s: Validate() = %v, want nil", c.Code, err)
		}
	}

	// A chart built from the list gives the codes back in the same order.
	codes := accounts.NewChart(accounts.Builtin(), nil).Codes()
	for i := range codes {
		if codes[i] != got[i] {
			t.Errorf("Chart.Codes()[%d] = %+v, want %+v", i, codes[i], got[i])
		}
	}
}

func TestChartCurrenciesSorted(t *testing.T) {
	got := testChart().Currencies()
	want := []string{"BTC", "OLD", "USDT"}
	if len(got) != len(want) {
		t.Fatalf("Currencies() has %d entries, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i].ID != want[i] {
			t.Errorf("Currencies()[%d] = %s, want %s", i, got[i].ID, want[i])
		}
	}
}

func TestCurrencyValidate(t *testing.T) {
	tests := []struct {
		cur     accounts.Currency
		wantErr bool
	}{
		{accounts.Currency{ID: "BTC", Precision: 8, Enabled: true}, false},
		{accounts.Currency{ID: "USDT", Precision: 6}, false},
		{accounts.Currency{ID: "TOKEN", Precision: 0}, false},
		{accounts.Currency{ID: "X", Precision: accounts.MaxPrecision}, false},
		{accounts.Currency{ID: "ABCDEFGHIJ123456", Precision: 2}, false},
		{accounts.Currency{ID: "1INCH", Precision: 18}, false},

		{accounts.Currency{ID: "", Precision: 2}, true},
		{accounts.Currency{ID: "btc", Precision: 8}, true},
		{accounts.Currency{ID: "US-D", Precision: 2}, true},
		{accounts.Currency{ID: "US D", Precision: 2}, true},
		{accounts.Currency{ID: " USD", Precision: 2}, true},
		{accounts.Currency{ID: "ABCDEFGHIJ1234567", Precision: 2}, true}, // 17 characters
		{accounts.Currency{ID: "USD", Precision: -1}, true},
		{accounts.Currency{ID: "USD", Precision: accounts.MaxPrecision + 1}, true},
	}
	for _, tt := range tests {
		err := tt.cur.Validate()
		want := ""
		if tt.wantErr {
			want = folio.EINVALID
		}
		if got := folio.ErrorCode(err); got != want {
			t.Errorf("%+v.Validate() = %v (code %q), want code %q", tt.cur, err, got, want)
		}
	}
}

func TestCodeValidate(t *testing.T) {
	valid := accounts.Code{Code: "700", Name: "Operator revenue", Type: accounts.Revenue, Normal: accounts.Credit}
	with := func(f func(*accounts.Code)) accounts.Code {
		c := valid
		f(&c)
		return c
	}
	tests := []struct {
		name    string
		code    accounts.Code
		wantErr bool
	}{
		{"plain", valid, false},
		{"three digits", with(func(c *accounts.Code) { c.Code = "100" }), false},
		{"six digits", with(func(c *accounts.Code) { c.Code = "999999" }), false},
		{"per holder with rule", with(func(c *accounts.Code) { c.PerHolder, c.Rule = true, accounts.RuleNonNegative }), false},
		{"every type", with(func(c *accounts.Code) { c.Type = accounts.Equity }), false},
		{"name of 200 characters", with(func(c *accounts.Code) { c.Name = strings.Repeat("n", 200) }), false},
		{"name of 200 multi-byte characters", with(func(c *accounts.Code) { c.Name = strings.Repeat("收", 200) }), false},

		{"empty code", with(func(c *accounts.Code) { c.Code = "" }), true},
		{"two digits", with(func(c *accounts.Code) { c.Code = "70" }), true},
		{"seven digits", with(func(c *accounts.Code) { c.Code = "7000000" }), true},
		{"letters", with(func(c *accounts.Code) { c.Code = "70a" }), true},
		{"empty name", with(func(c *accounts.Code) { c.Name = "" }), true},
		{"blank name", with(func(c *accounts.Code) { c.Name = "   " }), true},
		{"name of 201 characters", with(func(c *accounts.Code) { c.Name = strings.Repeat("n", 201) }), true},
		{"name of 201 multi-byte characters", with(func(c *accounts.Code) { c.Name = strings.Repeat("收", 201) }), true},
		{"name not UTF-8", with(func(c *accounts.Code) { c.Name = "Fees \xff" }), true},
		{"empty type", with(func(c *accounts.Code) { c.Type = "" }), true},
		{"unknown type", with(func(c *accounts.Code) { c.Type = "income" }), true},
		{"empty normal side", with(func(c *accounts.Code) { c.Normal = "" }), true},
		{"unknown normal side", with(func(c *accounts.Code) { c.Normal = "left" }), true},
		{"unknown rule", with(func(c *accounts.Code) { c.Rule = "positive" }), true},
	}
	for _, tt := range tests {
		err := tt.code.Validate()
		want := ""
		if tt.wantErr {
			want = folio.EINVALID
		}
		if got := folio.ErrorCode(err); got != want {
			t.Errorf("%s: Validate() = %v (code %q), want code %q", tt.name, err, got, want)
		}
	}
}

func TestSideTypeRule(t *testing.T) {
	sides := []struct {
		s         accounts.Side
		valid     bool
		wantOther accounts.Side
	}{
		{accounts.Debit, true, accounts.Credit},
		{accounts.Credit, true, accounts.Debit},
		{"", false, ""},
		{"Debit", false, ""},
	}
	for _, tt := range sides {
		if got := tt.s.Valid(); got != tt.valid {
			t.Errorf("Side(%q).Valid() = %v, want %v", tt.s, got, tt.valid)
		}
		if tt.valid && tt.s.Opposite() != tt.wantOther {
			t.Errorf("Side(%q).Opposite() = %q, want %q", tt.s, tt.s.Opposite(), tt.wantOther)
		}
	}
	types := map[accounts.Type]bool{
		accounts.Asset: true, accounts.Liability: true, accounts.Equity: true, accounts.Revenue: true,
		accounts.Expense: true, accounts.Suspense: true, "": false, "Asset": false, "income": false,
	}
	for typ, want := range types {
		if got := typ.Valid(); got != want {
			t.Errorf("Type(%q).Valid() = %v, want %v", typ, got, want)
		}
	}
	rules := map[accounts.Rule]bool{accounts.RuleNone: true, accounts.RuleNonNegative: true, "positive": false, "NON_NEGATIVE": false}
	for r, want := range rules {
		if got := r.Valid(); got != want {
			t.Errorf("Rule(%q).Valid() = %v, want %v", r, got, want)
		}
	}
}
