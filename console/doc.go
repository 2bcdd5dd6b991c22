// Package console is Folio's web console: server-rendered html/template
// pages, served by `folio serve` at / beside the API at /v1, with their
// stylesheet embedded in the binary and no JavaScript.
//
// # Over the API
//
// The console has no SQL and no rules of its own. Every page asks the
// API's own handler (Config.API, in process: an http.Request served into a
// recorder) with the session's API key and renders the JSON answer. So
// every figure on a page is the API's answer to the same question, the
// roles' access is the API's (a 403 from the API is the console's "your
// role may not see this"), and an affiliate key sees exactly what the API
// shows it, masked as the API masks. Amounts are the API's decimal strings,
// decoded with json.Number so that nothing passes through a float; the
// bar charts' heights are computed with rationals.
//
// # Sessions
//
// POST /signin exchanges an API key (checked by Config.Identify, which is
// api.Server.Identify) for a session: a random 256-bit id in an HttpOnly,
// SameSite=Strict cookie (Secure under TLS). The key stays in the server's
// memory, in the session, and is never sent back to the browser. Sessions
// end at sign-out, after Config.SessionTTL, when the server restarts, or
// as soon as the API answers 401 (the key was revoked). Every request that
// is not a GET needs the session's CSRF token (a hidden field of every
// form) and, when the browser sends one, an Origin of this host; without a
// session a GET is sent to the sign-in page and anything else is 403.
//
// # Pages
//
//	/                                  who you are, and the sections of your role
//	/journal?from_seq=&to_seq=&kind=&account=&batch_id=&from=&to=&cursor=
//	/journal/{id}                      postings, links, metadata, hashes
//	/verify                            the API's verification, first bad seq
//	/accounts?as_of=                   chart of accounts with balances per currency
//	/accounts/{account}?from=&to=&as_of=  statement, balance as of; statement.csv
//	/trial-balance?as_of=&currency=    per currency, balanced or not; .csv
//	/reconciliation?from=&to=          roll-forward per currency, discrepancies; .csv
//	/payouts, /payouts/{id}            batches, lines, holds; build, clear/reject,
//	                                   approve (four eyes), execute after a confirmation,
//	                                   outbox state and review trail; .csv
//	/affiliates/{id}                   user, upline chain, downline by level, codes, referees
//	/affiliates/{id}/dashboard?from=&to=&interval=&group_by=
//	/programs, /programs/{id}          programs; the edit form, its audit log
//
// Filters are query parameters, so every page has a stable URL; lists
// follow the API's cursors.
package console
