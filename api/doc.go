// Package api is Folio's HTTP API (docs/CONTRACT.md §5): a chi router, one file per
// resource, request types that convert to ledger and accounts values with a
// validating toDomain, API keys, and RFC 9457 problem errors.
//
// # Wiring
//
//	srv := api.New(api.Config{DB: appDB, Ledger: ledger.New(appDB), AdminKey: os.Getenv("FOLIO_ADMIN_KEY"), Logger: logger})
//	go srv.RunExpiry(ctx, time.Minute) // voids expired pending entries
//	http.ListenAndServe(addr, srv.Handler())
//
// With Config.Payouts set to a payouts.Service of one's own (as `folio
// serve` does), its background jobs run beside the server: pay.RunOutbox
// delivers executed payout batches to pay.Webhook (over webhook.Post), and pay.RunSchedules,
// called every minute, builds the batches of programs on a payout schedule.
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
//	POST   /v1/users, /v1/users/{id}/events      yes    -        -           yes
//	GET    /v1/users/{id}, /v1/users/{id}/chain  yes    yes      own id      -
//	PUT    /v1/users/{id}/program|kickback-rate|revenue-share|referrer|tax-id
//	                                             yes    -        -           -
//	PUT    /v1/users/{id}/rate                   yes    -        referrer    -
//	POST   /v1/affiliates/{id}/codes, PATCH /v1/affiliates/{id}/codes/{code}
//	                                             yes    -        own id      -
//	PUT    /v1/affiliates/{id}/referrals/{referee}/note
//	                                             yes    -        own id      -
//	GET    /v1/affiliates/{id}/codes|referees|accruals
//	                                             yes    yes      own id      -
//	PUT    /v1/programs/{id}                     yes    -        -           -
//	GET    /v1/programs                          yes    yes      -           -
//	POST   /v1/trades, /v1/trades/{id}/reverse   yes    -        -           yes
//	GET    /v1/trades/{id}                       yes    yes      -           -
//	PUT    /v1/rates/{base}/{quote}, /v1/fee-schedule  yes  -  -           -
//	POST   /v1/payouts/batches, /v1/payouts/batches/{id}/approve|reject-lines|clear-lines|reject|execute
//	                                             yes    -        -           -
//	GET    /v1/payouts/batches, /v1/payouts/batches/{id}, /v1/payouts/fraud-rules
//	                                             yes    yes      -           -
//	PUT    /v1/payouts/fraud-rules               yes    -        -           -
//	GET    /v1/reports/reconciliation, /v1/reports/tax  yes  yes  -          -
//	GET    /v1/affiliates/{id}/stats|referrals|referrals/top
//	                                             yes    yes      own id      -
//	GET    /v1/events, /v1/events/stream         yes    yes      own data    -
//	POST   /v1/webhooks, GET /v1/webhooks, DELETE /v1/webhooks/{id},
//	GET    /v1/webhooks/{id}/deliveries, POST …/deliveries/{delivery}/redeliver
//	                                             yes    -        -           -
//
// A missing, malformed, unknown or revoked key is 401 unauthorized (with
// WWW-Authenticate: Bearer); a key whose role the route does not admit is
// 403 forbidden. Affiliate keys read only accounts whose holder is the key's
// holder ({account} routes) and the routes whose {id} is the key's holder
// ("own id": compared exactly, after percent-decoding); anything else is
// 403, before the handler runs. The one exception is "referrer": an
// affiliate key sets the rate of a direct referee of its holder only,
// which the service checks in the transaction that writes (any other
// user, existing or not, is 403 from there). Affiliates write with the
// admins' validation and audit log, their key as the actor.
//
// An affiliate key sees no other user's id: in everything it can read,
// JSON and CSV, each one is masked by one rule, affiliate.MaskID (the
// first character and the last two stay, "u***42"; ids of 3 to 5
// characters keep one at each end, shorter ones none). That covers ids in
// id fields (its referrer, its chain, its referees and referrals, the
// traders of its accruals, referee groups of its statistics); the holders
// of other users' accounts among a statement's counter-accounts
// ("201:USDT:a***e": a payout entry names every payee); other users' ids
// inside free text — statement descriptions ("signup bounty for u***12"),
// trade and event ids of accruals ("signup:u***12"), code notes, other
// group keys — found as runs of id characters or their spans between
// . _ - that are registered users (an id glued to other letters is not
// found); and other users' referral codes ("B***A9": a code names its
// owner), such as the code its referrer's link carried or its level-2
// referees joined with. Its own id and its own codes stay as they are;
// trade ids, entry ids, batch ids, programs, markets and amounts are not
// ids of users and are shown. The journal is not changed (it is
// append-only and hash-chained): masking is done by the handlers as they
// answer (idMask), for affiliate keys only; admins and auditors read the
// stored text. Signup ip, device, country, group and upline rates are left
// out for affiliate keys, and their referee and referral cursors carry a
// registration time and a count, never an id. TestAffiliateRoutesLeakNoOtherIDs
// reads every route of the table that admits affiliate keys, so a new one
// is checked without being listed. Poster keys (the exchange's backend) register users,
// record lifecycle events and book and reverse trades; manual journal
// writes stay with admins.
// FOLIO_ADMIN_KEY is accepted as an admin key (compared in constant time);
// its audit actor is "bootstrap". Keys created by the CLI have actor
// "cli:<user>"; keys created over the API have the creating key's id
// (api_keys.created_by, shown as created_by in GET /v1/keys). An affiliate
// key's holder must be a registered user (400 naming holder otherwise).
//
// # People
//
// Every key belongs to a person, who is what four-eyes separates (docs/CONTRACT.md
// §10). api_keys.person_id is fixed when the key is created (keys.Mint): a
// key minted by a key gets its minter's person_id, so every key minted
// directly or transitively from one root key is the root's person and
// person_id is the root key's id; a key created by the bootstrap key or by
// the CLI is a person of its own (person_id = its own id). The bootstrap key
// itself is the person "bootstrap". Since person_id is stored, not derived
// on each request, revoking the root (or any key of the chain) leaves the
// minted keys the same person. api_keys.person is only a label for who holds
// the key (optional; 1 to 100 printable characters): a key minted by a key
// counts as its minter's person whatever its label says, and two keys with
// equal labels minted by the bootstrap key are still two people. Migration
// 010 gave existing keys the root of their created_by chain.
//
// Keys are "folio_" followed by 52 lower-case base32 characters (32 bytes
// from crypto/rand). Only their SHA-256 is stored (api_keys.key_hash); the
// secret is returned once, by keys.Create or POST /v1/keys.
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
// unknown_currency, self_referral) are 400; unauthorized 401; forbidden
// 403; not_found 404; idempotency_conflict, already_reversed, conflict
// and cycle 409; payload_too_large 413;
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
// Bytes and values that could be read two ways are refused with 400
// invalid_request naming the field (its path, such as postings[1].amount or
// metadata.ref), before anything else (checkJSON in decode.go): a key sent
// twice in one object, at any depth, metadata included; invalid UTF-8, an
// unpaired surrogate escape (\ud800) or NUL (\u0000, or any raw control
// byte) in any string. Query and path parameters holding invalid UTF-8 or
// NUL are refused too. Each route declares the query parameters it takes,
// next to it in the route table (Server.route in server.go; openapi.yaml
// documents the same lists, a test keeps them equal): any other parameter
// (?country= on GET /v1/affiliates/{id}/referrals, ?bogus= anywhere), a
// parameter given twice (?limit=1&limit=2) and a query string that does
// not parse are 400 invalid_request naming the parameter and listing what
// the route takes, before the handler runs: a filter that does nothing
// would be worse than an error. Text fields add their own rule (text.TextProblem):
// ids, signup_ip, device_id, tax_id and chart names take no control
// character at all; code and key notes take tab, line feed and carriage
// return only. Times before 1900-01-01 are refused (0001-01-01T00:00:00Z,
// Go's zero time, used to be read as "not given"); a time that becomes an
// entry's effective time (effective_at, executed_at, registered_at) is at
// most 24 hours ahead and 100 years back, and the error names the field
// sent. A parent_id must name an entry. PUT /v1/programs checks amounts
// against the chart: a bounty's currency must exist (unknown_currency), and
// rewards, min_base, max_reward and payout minimums must fit their
// currency's precision (invalid_amount): nothing a client sends is rounded.
// A differential program's max_levels is 1 to 15 (affiliate.DefaultMaxLevels,
// the depth the referral tree is read to); 16 or more is invalid_request
// naming max_levels.
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
// # Affiliate routes
//
// users.go, affiliates.go, programs.go, trades.go and rates.go are thin
// over affiliate.Service (Config.Affiliate; by default one on the same
// database and clock): they decode strictly, convert rates and amounts
// from strings (rates with affiliate.ParseRate: 0 to 1, at most 18
// places), and leave the rest of the validation to the service, which
// refuses before its transaction writes anything. Configuration changes
// carry the calling key's id as audit actor.
//
// POST /v1/users answers 201 with the new user, 200 with the existing one
// when the same id is registered again with the same data, and 409
// conflict otherwise; an unknown referral code is 400 invalid_request, the
// user's own code 400 self_referral. POST /v1/users/{id}/events is
// idempotent by the event id (201, then 200 with Idempotency-Replayed and
// the same bounty entry ids); ids starting with "signup:" are reserved for
// the signup event that registration raises. The PUT /v1/users/{id}/...
// routes answer 200 with the user after the change (revenue-share with the
// table); a referrer of "" makes the user a root, a kickback-rate of null
// clears the override, a program of null or "" clears the assignment. PUT
// /v1/programs/{id} takes an affiliate.ProgramSpec (unknown fields refused)
// and answers 201 when it created the program, 200 when it replaced it.
//
// POST /v1/trades takes {"trades": [...]}: 1 to 1000 trades (an empty
// batch or more is 400 invalid_request naming "trades", like
// /v1/entries/batch: the client splits and resends, nothing was written).
// Each trade is decoded on its own, so a trade that is not valid JSON for
// the trade shape (an unknown field, an amount given as a number, a wrong
// type) is rejected alone with its code (invalid_request, invalid_amount)
// while the others are booked: an exchange's feed is never blocked by one
// bad trade. Results are 200 {"results": [{index, id, status, fee_entry_id,
// commission_entry_id, error?}]} in request order. Trade ids in paths are
// percent-decoded. GET /v1/trades/{id} explains a trade: program, kind,
// basis, "reason" when it paid no commission, accruals and the fee and
// commission entries and, once reversed, their reversals (journal order).
//
// FX rates are PUT /v1/rates/{base}/{quote} {rate, source?, at?} (source
// "manual" and now by default). The fee schedule has a body-addressed
// route, PUT /v1/fee-schedule {group, market, maker, taker}, because its
// default rows have empty keys that a path cannot carry cleanly; both
// answer 200 with what was recorded.
//
// # Payouts and affiliate reports
//
// payouts.go is thin over payouts.Service (Config.Payouts) and
// reports_affiliate.go over the affiliate service's reconciliation,
// statistics and referral reads and the payouts' tax totals.
// The audit actor of every payout decision is the calling key's id; the
// four-eyes rule compares people (see People): approving a batch with the
// key that built it, or with any key of the builder's person, is 403
// forbidden (the bootstrap key is one person: it cannot approve its own
// batches either, but a key it minted for someone else can). A batch shows
// the key, person id and person label of its build, approval and execution
// (created_by, created_by_person, created_by_person_label, approved_by…,
// executed_by…), in JSON, in its CSV and in the after of the
// payout.build/approve/execute audit records. POST /v1/payouts/batches answers 201 with a new
// draft batch, 200 with the existing one when the same accruals were
// already batched at the same cut-off (the id is their hash), and 404
// not_found when nothing is payable up to the cut-off: the domain's code,
// kept as is by the one status table (nothing was written; a scheduler can
// treat it as "nothing to do"). State errors (approving an approved batch,
// executing a draft, deciding lines of an executed batch, clearing a line
// that is not held) are 409 conflict. Execution is exactly once: 201 for
// the call that executed, 200 with Idempotency-Replayed: true for every
// other call, concurrent or later, which writes nothing. reject-lines takes
// {"lines": [ids], "forfeit": bool} (default false: the accruals stay
// payable); clear-lines takes {"lines": [ids]} only. Line statuses add
// "released" (still held when the batch executed: its accruals returned to
// the pool) and "paid" to docs/CONTRACT.md §3's ok|held|rejected. PUT
// /v1/payouts/fraud-rules replaces the rules; fields left out take their
// defaults (payouts.DefaultFraudRules).
//
// GET /v1/reports/reconciliation renders reconcile.Report as its
// MarshalJSON does (docs/CONTRACT.md §4 shape plus ok, sequence bounds and payout
// batches) and answers 200 whatever it finds: "ok" says whether the
// discrepancy list is empty. Its period defaults to the whole journal up
// to now, as `folio reconcile`'s does. Reconciliation, statements and the
// trial balance take basis=effective|recorded (ledger.Basis; default
// effective, because commissions belong to the period of the trade: trades
// replayed or back-filled land in the month they were executed;
// basis=recorded gives the journal as it stood, which never changes). The
// trial balance's as_of is a time on its basis; as_of_seq implies
// recorded (with basis=effective it is a 400). GET /v1/affiliates/{id}/stats
// defaults to the 30 days up to now and answers the range actually used
// (widened to whole hours, or days when grouping by referee), by business
// time (the trade's executed_at), exact whatever the statistics folder's
// lag, with "unpriced": what no FX rate in force at the accruals' time
// converted, per currency; totals carry
// the direct referral count and the referees at any level who traded in
// the range (summary.traded_in_period; summary's other counts are of
// direct referees). For affiliate keys, referee group keys, other users'
// code group keys and referral ids are masked like every other id they
// see, referrals carry no country, and referral cursors carry no id. GET /v1/reports/tax gives payout
// totals per affiliate and calendar year in the reporting currency (the
// current year by default), with over_threshold=true only those above the
// fraud rules' tax_threshold without a tax id on file.
//
// # Events
//
// events.go serves the feed of package events (GET /v1/events) and renders
// its events: an entry as newEntryJSON (the recorded content of GET
// /v1/entries/{id}; its status, which changes later, is not part of the
// event), an accrual as newAccrualJSON (masked for affiliate keys), a
// configuration change as its audit record, a payout decision as the
// batch, its new state and the record (an affiliate: its own lines, no
// actor). "Own data" (accessReadScoped) admits affiliate keys with a
// holder and leaves the scoping to the handler, which passes the holder to
// the feed. events_stream.go is the same feed as Server-Sent Events: a
// producer goroutine polls the feed into a bounded buffer, the handler
// writes it with a deadline per write (the server's WriteTimeout is lifted
// through http.ResponseController), heartbeats keep it alive, and a client
// that does not keep up is disconnected. webhooks.go is thin over
// events.Webhooks; EventBody is the rendering the dispatcher (run by folio
// serve) delivers.
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
// Payout batches (one row per line, the batch's columns repeated, flags as
// "rule: detail" joined by "; "), the reconciliation report (a "currency"
// row per currency, then a "discrepancy" row each), statistics (a "total"
// row, then "series" and "group" rows), the tax report and every list are
// CSV too, each with a header row. The lists — entries (one row per
// posting, the entry's columns repeated, metadata as JSON text), the audit
// log (before and after as JSON text), an affiliate's accruals, codes,
// referees (milestones as columns; the per-level counts are JSON only) and
// referrals — are written by one helper, writeListCSV: a column per JSON
// field, in order, with the same values as the JSON, masked the same way
// for affiliate keys. A CSV page of a list cannot carry next_cursor: the
// next page is announced by an RFC 8288 header, Link:
// </v1/...?cursor=...>; rel="next".
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
