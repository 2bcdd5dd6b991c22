// Package accounts is Folio's chart of accounts and its currencies (docs/CONTRACT.md
// §1.1, §1.2): what may be posted to, in which unit, under which rules.
//
// # Codes, types and normal sides
//
// An account code ([Code]) is a number of 3 to 6 digits with a name (1 to 200
// characters), a [Type] (asset, liability, equity, revenue, expense, or
// suspense for temporary holding accounts) and a normal [Side], debit or
// credit: the side on which the account's balance grows. Type and normal side
// are independent, so contra accounts can be expressed. A code is either a
// platform account, one per currency, or kept per holder (PerHolder), one
// per currency and per user of the exchange.
//
// [Builtin] returns the chart every database starts with, which follows the
// exchange's existing numbering: 101 (deferred income, suspense), 110, 120,
// 130 (assets), 201–204, 208 and 230 (per-holder liabilities), 420, 421
// (expenses), 605, 606 (revenue). The first migration seeds the same rows.
// Migration 031 adds the rest of the exchange admin manual's chart as
// built-in codes: 200 (short-term liabilities, per holder), the staking
// accounts 205–207 (per holder: staked, unbonding, rewards payable) and
// 407 (staking reward expenses), 210 (liabilities to partners), the
// expenses 400–405 and 410 and the revenues 600–604. Nothing in Folio posts
// to them; they are there so that an operator's manual entries use the
// manual's numbering instead of inventing codes that later collide with it.
//
// # Account keys
//
// A concrete ledger account is a [Key]: (code, currency) for a platform
// account, (code, currency, holder) for a per-holder one. Its canonical form
// is CODE:CURRENCY or CODE:CURRENCY:HOLDER, for example 605:USDT or
// 208:USDT:u42, where a holder is the exchange's opaque user id of 1 to 64
// characters of A-Z a-z 0-9 . _ -. [ParseKey] checks the form only and is
// strict: no spaces, no lower-case currency, no empty or extra parts. A
// malformed code or holder, or the wrong number of parts, is unknown_account;
// a malformed currency is unknown_currency. [Chart.Resolve] then checks the
// key against a [Chart] snapshot: the code must exist, the holder must be
// present exactly when the code is per holder (both unknown_account), and the
// currency must exist and be enabled (unknown_currency).
//
// # Balance rules
//
// A code may carry a [Rule]. [RuleNone] leaves balances unconstrained; only
// code 230 (liabilities in transfer) has [RuleNonNegative] in the built-in
// chart. An account's available balance is its posted balance on the normal
// side minus its pending amounts against the normal side (the holds of
// two-phase entries that would lower it once posted). Under non_negative, a
// posting is refused with insufficient_balance only if it lowers the
// account's available balance below zero: an account already below zero
// (because the rule was added later, or a hold was posted) may still receive
// postings that raise it. The ledger package enforces the rule inside the
// posting transaction; this package only carries it.
//
// # Currencies and precision
//
// A [Currency] has an id of 1 to 16 characters of A-Z and 0-9 (BTC, USDT,
// 1INCH), a precision of 0 to [MaxPrecision] (18) decimal places, matching
// the NUMERIC(38,18) columns, and an enabled flag. Amounts are exact decimals;
// the ledger refuses an amount with more decimal places than its currency's
// precision (invalid_amount) instead of rounding it. A disabled currency
// cannot be posted to (unknown_currency) but keeps its history.
//
// # Changing the chart
//
// The chart and the currencies are data, changed by operators through
// [PutCode] and [PutCurrency] inside the caller's transaction (both take a
// pgx.Tx; run them under the schema package's retrying runner). PutCode adds a
// code or renames it and changes its balance rule. The type, normal side and
// per-holder flag of a built-in code never change, nor those of an operator
// code once it has a balance row (it has been posted to, pending postings
// included): both are refused with conflict. Nothing deletes a code, and the
// built-in flag cannot be set by a caller. PutCurrency creates a currency or
// changes its precision and enabled flag; the precision of a currency with a
// balance row is fixed (conflict), since stored amounts were validated
// against it. Invalid definitions are refused with invalid_request, and
// re-putting an identical definition is a no-op that writes nothing.
// Whether a code or a currency has been posted to is the journal's to say,
// and the chart sits below the journal: the caller passes its check as an
// [InUse] (ledger.InUse), run in the same transaction.
//
// The ledger reads the chart with [LoadChart] inside each posting
// transaction, so a chart change and a posting that depends on it are
// serialized by the database, not by a cache.
//
// # Audit log
//
// Every effective change writes one record to the configuration audit log
// (package audit) in the same transaction: action "chart.put" or
// "currency.put", object "code:NNN" or "currency:ID", and the definition
// before (null on creation) and after, as JSON.
package accounts
