package accounts

import (
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/folioledger/folio"
	"github.com/folioledger/folio/internal/text"
)

// Side is the side of a posting or an account's normal side.
type Side string

// The two sides of double entry.
const (
	Debit  Side = "debit"
	Credit Side = "credit"
)

// Valid reports whether s is debit or credit.
func (s Side) Valid() bool { return s == Debit || s == Credit }

// Opposite returns the other side.
func (s Side) Opposite() Side {
	if s == Debit {
		return Credit
	}
	return Debit
}

// Type classifies an account code.
type Type string

// Account types of the chart.
const (
	Asset     Type = "asset"
	Liability Type = "liability"
	Equity    Type = "equity"
	Revenue   Type = "revenue"
	Expense   Type = "expense"
	Suspense  Type = "suspense"
)

// Valid reports whether t is a known type.
func (t Type) Valid() bool {
	switch t {
	case Asset, Liability, Equity, Revenue, Expense, Suspense:
		return true
	}
	return false
}

// Rule is a balance rule attached to an account code.
type Rule string

// Balance rules. RuleNone leaves the balance unconstrained; RuleNonNegative
// refuses any posting that would take the available balance on the normal
// side below zero (error code insufficient_balance).
const (
	RuleNone        Rule = ""
	RuleNonNegative Rule = "non_negative"
)

// Valid reports whether r is a known rule.
func (r Rule) Valid() bool { return r == RuleNone || r == RuleNonNegative }

// Code is one entry of the chart of accounts.
type Code struct {
	Code      string
	Name      string
	Type      Type
	Normal    Side
	PerHolder bool
	Rule      Rule
	Builtin   bool
}

// ValidCode reports whether c is an account code: 3 to 6 digits.
func ValidCode(c string) bool { return text.Chars(c, 3, 6, text.IsDigit) }

// Validate checks a code definition in isolation.
func (c Code) Validate() error {
	switch {
	case !ValidCode(c.Code):
		return folio.Errorf(folio.EINVALID, "account code %q must be 3 to 6 digits", c.Code)
	case strings.TrimSpace(c.Name) == "" || !utf8.ValidString(c.Name) || utf8.RuneCountInString(c.Name) > 200:
		return folio.Errorf(folio.EINVALID, "account code %s needs a name of 1 to 200 characters", c.Code)
	case text.TextProblem(c.Name, text.SingleLine) != "":
		return &folio.Error{Code: folio.EINVALID, Fields: []string{"name"},
			Message: fmt.Sprintf("account code %s: name %s", c.Code, text.TextProblem(c.Name, text.SingleLine))}
	case !c.Type.Valid():
		return folio.Errorf(folio.EINVALID, "account type %q is not one of asset, liability, equity, revenue, expense, suspense", c.Type)
	case !c.Normal.Valid():
		return folio.Errorf(folio.EINVALID, "normal side %q is not debit or credit", c.Normal)
	case !c.Rule.Valid():
		return folio.Errorf(folio.EINVALID, "balance rule %q is not known (use \"\" or non_negative)", c.Rule)
	}
	return nil
}

// Builtin returns the built-in chart of docs/CONTRACT.md §1.1 with the
// codes of the exchange admin manual's chart (migration 031), in code order.
func Builtin() []Code {
	return []Code{
		{"101", "Deferred income (fees awaiting distribution)", Suspense, Credit, false, RuleNone, true},
		{"110", "Hot system assets", Asset, Debit, false, RuleNone, true},
		{"120", "User assets", Asset, Debit, false, RuleNone, true},
		{"130", "Funds en route", Asset, Debit, false, RuleNone, true},
		{"200", "Short-term liabilities (user spot balance)", Liability, Credit, true, RuleNone, true},
		{"201", "Long-term liabilities (user main balance)", Liability, Credit, true, RuleNone, true},
		{"202", "Advanced trading liabilities, active", Liability, Credit, true, RuleNone, true},
		{"203", "Advanced trading liabilities, locked", Liability, Credit, true, RuleNone, true},
		{"204", "Deferred liabilities", Liability, Credit, true, RuleNone, true},
		{"205", "Staking liabilities, active (staked user funds)", Liability, Credit, true, RuleNone, true},
		{"206", "Staking liabilities, locked (unbonding)", Liability, Credit, true, RuleNone, true},
		{"207", "Staking rewards payable", Liability, Credit, true, RuleNone, true},
		{"208", "Pending referral rewards (accrued, unpaid commissions)", Liability, Credit, true, RuleNone, true},
		{"210", "Liabilities to partners and liquidity providers", Liability, Credit, false, RuleNone, true},
		{"230", "Liabilities in transfer", Liability, Credit, true, RuleNonNegative, true},
		{"400", "Operating expenses", Expense, Debit, false, RuleNone, true},
		{"401", "Blockchain network fee expenses", Expense, Debit, false, RuleNone, true},
		{"402", "Bank and payment provider fee expenses", Expense, Debit, false, RuleNone, true},
		{"403", "Liquidity provider fee expenses", Expense, Debit, false, RuleNone, true},
		{"404", "Promotion and marketing expenses", Expense, Debit, false, RuleNone, true},
		{"405", "Exchange rate losses", Expense, Debit, false, RuleNone, true},
		{"407", "Staking reward expenses", Expense, Debit, false, RuleNone, true},
		{"410", "Other expenses", Expense, Debit, false, RuleNone, true},
		{"420", "One-time reward expenses (bounties)", Expense, Debit, false, RuleNone, true},
		{"421", "Referral commission expenses (commissions funded beyond the fee)", Expense, Debit, false, RuleNone, true},
		{"600", "Operating revenue", Revenue, Credit, false, RuleNone, true},
		{"601", "Deposit fee revenue", Revenue, Credit, false, RuleNone, true},
		{"602", "Withdrawal fee revenue", Revenue, Credit, false, RuleNone, true},
		{"603", "Listing fee revenue", Revenue, Credit, false, RuleNone, true},
		{"604", "Exchange rate gains", Revenue, Credit, false, RuleNone, true},
		{"605", "Trading profit (definitive fee revenue)", Revenue, Credit, false, RuleNone, true},
		{"606", "Forfeited referral rewards", Revenue, Credit, false, RuleNone, true},
	}
}

// Currency is a unit of account with a fixed number of decimal places.
type Currency struct {
	ID        string
	Precision int
	Enabled   bool
}

// MaxPrecision is the largest number of decimal places a currency may have;
// it matches the scale of the NUMERIC(38,18) columns.
const MaxPrecision = 18

// ValidCurrencyID reports whether id has the form of a currency id.
func ValidCurrencyID(id string) bool { return text.Chars(id, 1, 16, text.IsUpperAlnum) }

// Validate checks a currency definition.
func (c Currency) Validate() error {
	if !ValidCurrencyID(c.ID) {
		return folio.Errorf(folio.EINVALID, "currency id %q must be 1 to 16 characters of A-Z and 0-9", c.ID)
	}
	if c.Precision < 0 || c.Precision > MaxPrecision {
		return folio.Errorf(folio.EINVALID, "currency precision %d must be between 0 and %d", c.Precision, MaxPrecision)
	}
	return nil
}

// Key identifies one concrete ledger account: CODE:CURRENCY for platform
// accounts, CODE:CURRENCY:HOLDER for per-holder accounts.
type Key struct {
	Code     string
	Currency string
	Holder   string
}

// ValidHolder reports whether h has the form of a holder (user) id.
func ValidHolder(h string) bool { return text.Chars(h, 1, 64, text.IsName) }

// ParseKey parses the canonical string form of an account key. It checks
// the form only; Chart.Resolve checks the key against the chart.
func ParseKey(s string) (Key, error) {
	code, rest, ok := strings.Cut(s, ":")
	cur, holder, perHolder := strings.Cut(rest, ":")
	if !ok || strings.Contains(holder, ":") {
		return Key{}, folio.Errorf(folio.EACCOUNT, "account %q is not of the form CODE:CURRENCY[:HOLDER]", s)
	}
	k := Key{Code: code, Currency: cur}
	if perHolder {
		k.Holder = holder
		if !ValidHolder(k.Holder) {
			return Key{}, folio.Errorf(folio.EACCOUNT, "account %q: holder must be 1 to 64 characters of A-Z a-z 0-9 . _ -", s)
		}
	}
	if !ValidCode(k.Code) {
		return Key{}, folio.Errorf(folio.EACCOUNT, "account %q: code must be 3 to 6 digits", s)
	}
	if !ValidCurrencyID(k.Currency) {
		return Key{}, folio.Errorf(folio.ECURRENCY, "account %q: currency must be 1 to 16 characters of A-Z and 0-9", s)
	}
	return k, nil
}

// String returns the canonical form of k.
func (k Key) String() string {
	if k.Holder == "" {
		return k.Code + ":" + k.Currency
	}
	return k.Code + ":" + k.Currency + ":" + k.Holder
}

// Chart is an immutable snapshot of the chart of accounts and currencies.
type Chart struct {
	codes      map[string]Code
	currencies map[string]Currency
}

// NewChart builds a snapshot from code and currency lists.
func NewChart(codes []Code, currencies []Currency) *Chart {
	c := &Chart{codes: make(map[string]Code, len(codes)), currencies: make(map[string]Currency, len(currencies))}
	for _, x := range codes {
		c.codes[x.Code] = x
	}
	for _, x := range currencies {
		c.currencies[x.ID] = x
	}
	return c
}

// Code returns the definition of code.
func (c *Chart) Code(code string) (Code, bool) {
	x, ok := c.codes[code]
	return x, ok
}

// Currency returns the definition of a currency.
func (c *Chart) Currency(id string) (Currency, bool) {
	x, ok := c.currencies[id]
	return x, ok
}

// Codes returns every code in code order.
func (c *Chart) Codes() []Code {
	out := make([]Code, 0, len(c.codes))
	for _, x := range c.codes {
		out = append(out, x)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Code < out[j].Code })
	return out
}

// Currencies returns every currency in id order.
func (c *Chart) Currencies() []Currency {
	out := make([]Currency, 0, len(c.currencies))
	for _, x := range c.currencies {
		out = append(out, x)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Resolve checks that k may be posted to: its code exists, its holder is
// present exactly when the code is per-holder, and its currency exists and
// is enabled. It returns the code definition and the currency.
func (c *Chart) Resolve(k Key) (Code, Currency, error) {
	code, ok := c.codes[k.Code]
	if !ok {
		return Code{}, Currency{}, folio.Errorf(folio.EACCOUNT, "account %s: code %s is not in the chart", k, k.Code)
	}
	if code.PerHolder && k.Holder == "" {
		return Code{}, Currency{}, folio.Errorf(folio.EACCOUNT, "account %s: code %s is kept per holder; use %s:%s:HOLDER", k, k.Code, k.Code, k.Currency)
	}
	if !code.PerHolder && k.Holder != "" {
		return Code{}, Currency{}, folio.Errorf(folio.EACCOUNT, "account %s: code %s is a platform account and takes no holder", k, k.Code)
	}
	cur, ok := c.currencies[k.Currency]
	if !ok {
		return Code{}, Currency{}, folio.Errorf(folio.ECURRENCY, "account %s: currency %s does not exist", k, k.Currency)
	}
	if !cur.Enabled {
		return Code{}, Currency{}, folio.Errorf(folio.ECURRENCY, "account %s: currency %s is disabled", k, k.Currency)
	}
	return code, cur, nil
}

// ParseAndResolve parses s and resolves it against the chart.
func (c *Chart) ParseAndResolve(s string) (Key, Code, Currency, error) {
	k, err := ParseKey(s)
	if err != nil {
		return Key{}, Code{}, Currency{}, err
	}
	code, cur, err := c.Resolve(k)
	return k, code, cur, err
}

// String describes a code for messages.
func (c Code) String() string { return fmt.Sprintf("%s %s", c.Code, c.Name) }
