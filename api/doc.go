// Package api is Folio's HTTP API (SPEC §5): a chi router, one file per
// resource, request types that convert to ledger and accounts values with a
// validating toDomain, API keys, and RFC 9457 problem errors.
//
// # Wiring
//
//	srv := api.New(api.Config{DB: appDB, Ledger: ledger.New(appDB), AdminKey: os.Getenv("FOLIO_ADMIN_KEY"), Logger: logger})
//	go srv.RunExpiry(ctx, time.Minute) // voids expired pending entries
//	http.ListenAndServe(addr, srv.Handler())
//
// The server keeps no state between requests besides its metrics: every
// request authenticates with one indexed query on api_keys (no cache, so a
// revocation takes effect at the next request).
//
// # Routes and roles
//
// Every route is mounted through Server.route, which records its access in a
// table; a guard running after routing looks the route up in that table and
// refuses (500, never running the handler) a /v1 route that has none. The
// table, chi's route table and openapi.yaml are kept equal by tests.
//
//	route                                      admin  auditor  affiliate   poster
//	GET    /healthz /readyz /metrics /openapi.yaml     (no key)
//	GET    /v1/chart, /v1/currencies             yes    yes      -           -
//	POST   /v1/chart, PUT /v1/currencies/{id}    yes    -        -           -
//	POST   /v1/entries, /v1/entries/batch        yes    -        -           -
//	POST   /v1/entries/{id}/reverse|post|void    yes    -        -           -
//	GET    /v1/entries, /v1/entries/{id}         yes    yes      -           -
//	GET    /v1/accounts/{account}/balance        yes    yes      own holder  -
//	GET    /v1/accounts/{account}/statement      yes    yes      own holder  -
//	GET    /v1/reports/trial-balance             yes    yes      -           -
//	GET    /v1/audit/verify, /v1/audit/log       yes    yes      -           -
//	POST   /v1/keys, GET /v1/keys, DELETE /v1/keys/{id}  yes  -  -           -
//
// A missing, malformed, unknown or revoked key is 401 unauthorized (with
// WWW-Authenticate: Bearer); a key whose role the route does not admit is
// 403 forbidden. Affiliate keys read only accounts whose holder is the key's
// holder; anything else is 403. Poster keys (the exchange's backend) have no
// /v1 route yet: users, events and trades arrive with the affiliate module,
// and posters will not get manual journal writes, which stay with admins.
// FOLIO_ADMIN_KEY is accepted as an admin key (compared in constant time);
// its audit actor is "bootstrap". Keys created by the CLI have actor "cli";
// keys created over the API have the creating key's id.
//
// Keys are "folio_" followed by 52 lower-case base32 characters (32 bytes
// from crypto/rand). Only their SHA-256 is stored (api_keys.key_hash); the
// secret is returned once, by CreateKey or POST /v1/keys.
//
// /metrics is unauthenticated, as Prometheus scrapes usually are: it holds
// route patterns, counts, latencies and pool statistics, never amounts,
// holders or keys. Restrict it at the network when that matters.
//
// # Errors
//
// Errors are application/problem+json: {type, title, status, detail, code,
// instance, fields?}, with type "urn:folio:problem:<code>" and instance the
// request path. errors.go holds the one code → status table: the validation
// codes (invalid_request, invalid_amount, unbalanced_entry, unknown_account,
// unknown_currency) are 400; not_found 404; idempotency_conflict,
// already_reversed, conflict and cycle 409; payload_too_large 413;
// insufficient_balance 422; unavailable 503. The HTTP layer adds two codes of
// its own: method_not_allowed (405, with Allow) and unsupported_media_type
// (415: a body must be application/json). Any other error is internal (500):
// logged with the request id, shown to the client as "internal error" only.
//
// # Requests
//
// Bodies are limited (Config.MaxBodyBytes, default 1 MiB; 413 beyond),
// must be a single JSON object (trailing data is refused), and unknown
// fields are refused naming the field. Amounts are JSON strings; a number
// where an amount belongs is invalid_amount. Times are RFC 3339 (query
// parameters also accept a date, YYYY-MM-DD, meaning midnight UTC); every
// time in a response is RFC 3339 in UTC. Each handler converts and validates
// the whole request before anything is written; the ledger validates entries
// in memory before its transaction writes.
//
// POST /v1/entries takes its idempotency key from the Idempotency-Key header
// or the body (equal if both are given). A replay answers 200 with
// Idempotency-Replayed: true. POST /v1/entries/batch (at most 1000 entries,
// keys in the bodies) answers 200 with per-item results (created, exists,
// rejected with {code, detail, fields?}); with "atomic": true a failure of
// any item writes nothing and answers 400 invalid_request, whose problem
// document carries the per-item "results". A body that is not valid JSON for
// the batch's shape (for instance an amount given as a number) is refused as
// a whole.
//
// Entries in lists and write responses have their stored fields (phase is
// posted, pending, post_pending or void_pending). GET /v1/entries/{id} adds
// status (posted, pending, reversed, voided, expired), children,
// reversed_by and completed_by.
//
// Lists use opaque cursors (base64url of a tagged position; a cursor of
// another list, or an altered one, is 400 "bad cursor") and
// {"data": [...], "next_cursor"}, next_cursor absent on the last page.
//
// # CSV
//
// Statements and the trial balance are also CSV (?format=csv or Accept:
// text/csv): RFC 4180 via encoding/csv, CRLF line ends, UTF-8 without a
// byte-order mark, amounts as plain decimal text, Content-Disposition
// attachment with a file name. A statement has a header row (seq, entry_id,
// effective_at, recorded_at, kind, description, counter_accounts, debit,
// credit, balance), an "Opening balance" row (effective_at = from), one row
// per posting (the side it is not on left empty, counter-accounts separated
// by spaces), and a "Closing balance" row (effective_at = to, the period's
// debit and credit totals, the closing balance). Descriptions that a
// spreadsheet would run as a formula (leading = + - @, tab, CR) are prefixed
// with a quote. The trial balance has one row per account and a "Total" row
// per currency with "balanced" or "UNBALANCED" in the balance column.
//
// # Observability
//
// Prometheus, on the server's own registry: folio_http_requests_total{route,
// method, code}, folio_http_request_duration_seconds{route, method} (route is
// the chi pattern, "unmatched" for 404/405), folio_ledger_entries_written_total
// and folio_ledger_postings_written_total (new entries written by the server,
// replays excluded), and folio_db_pool_* gauges and counters read from
// pgxpool at scrape time. Logs are slog JSON, one info line per request:
// request_id (the client's X-Request-Id when it is 1-128 characters of
// [A-Za-z0-9._:-], else random; echoed in the response), method, route
// pattern (never the raw path, which may hold holder ids), status,
// duration_ms, bytes, and the key id and role (never the key, the
// Authorization header, bodies or amounts).
package api
