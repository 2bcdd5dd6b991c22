// Package folio is the root of Folio, a double-entry ledger with an
// affiliate-commission module, and holds the one vocabulary every layer
// speaks: the error type [Error] with its stable machine codes (EINVALID =
// "invalid_request", EACCOUNT = "unknown_account", EINSUFFICIENT =
// "insufficient_balance", …). Domain and storage functions return an *Error
// for every refusal a caller can act on, and any other error means internal;
// [ErrorCode] and [ErrorMessage] read a chain without caring which package
// produced it, and the api package maps codes to HTTP statuses in a single
// table, never showing the text of an internal error to a client. Storage
// code translates the database errors a caller can act on into these codes
// (a unique violation becomes conflict); any other SQL error stays internal,
// so no client ever sees one. The package has no dependencies and no domain
// types: those live in the packages that own them — accounts (chart of
// accounts, currencies, account keys), ledger (entries, postings, balances),
// affiliate (users, programs, commissions, payouts) — and schema owns the
// database.
package folio
