// Package events is Folio's events out: a durable, ordered feed of what
// the books recorded — journal entries, the accruals they booked, payout
// state changes and configuration changes — read with a resumable cursor
// (GET /v1/events), streamed as Server-Sent Events (GET /v1/events/stream,
// served by the api package over [Feed]), and pushed to webhook
// subscriptions (tables webhook_subscriptions, webhook_cursors,
// webhook_deliveries, webhook_attempts, which this package owns).
//
// # Sources, and nothing added to the write path
//
// The feed has no table of its own: it reads its sources through their
// owners' functions, so the journal's writers do not write one row more.
//
//   - Each journal shard (ledger.Heads, ledger.ShardEntries): an entry's
//     event is entry.posted; the accruals it booked follow it as
//     accrual.created (affiliate.AccrualsAt: a trade's accruals carry its
//     commission entry's position).
//   - The configuration audit log (audit.After): payout decisions
//     (payout.build, approve, reject, execute, line decisions, delivery to
//     the exchange) become payout.<state> events (payout.draft,
//     payout.approved, payout.rejected, payout.executed,
//     payout.lines_cleared, payout.lines_rejected, payout.delivered,
//     payout.refused); every other change is config.<action>
//     (config.program.put, config.key.revoke, …).
//
// # The cursor
//
// A cursor is a vector of positions, one per source: for each journal
// shard the last (seq, sub) read — sub 0 is the entry, 1…n its accruals,
// so a page may stop between an entry and its accruals — and for the
// audit log the last position read. It is shown as an opaque base64url
// string; a cursor the feed did not make is refused (invalid_request).
// Every event carries the cursor just after it, so a consumer can resume
// from any event it has processed (the SSE stream's id: field).
//
// # Order, and what a resumed read guarantees
//
// Within a source the order is total and final: a shard's seqs are gapless
// and commit-ordered (a shard's writers serialize on its head row), and
// the audit log's positions are too (see package audit, "Position"). A
// read takes one snapshot, which therefore holds a prefix of every source;
// it resumes each source after the position in the cursor. Hence:
//
//   - no event is missed and none is repeated when reading on from a
//     cursor, however writers run concurrently;
//   - a trader's entries and accruals come in the order they were booked
//     (a trader's entries always go to the same shard);
//   - across sources, a page merges the sources' next events by recorded
//     time, ties broken by source (shards in order, then the audit log).
//     This interleaving is a presentation, not a promise: an entry
//     committed late by a slow writer in another shard may appear after
//     events recorded later. Consumers that need a global order sort by
//     the time field; consumers that need completeness rely on the cursor.
//
// The stable event id ("entry:<uuid>", "accrual:<uuid>", "audit:<uuid>")
// is the same whichever way and however often the event is read: it is
// what a consumer de-duplicates by. (The cursor is not an id: the same
// event can be reached through different vectors.)
//
// # Scoped reads
//
// An affiliate's read (Filter.Holder) keeps its own accruals and the
// payout events of batches in which it has a line, with that holder's
// lines as they are when read; entries and configuration changes are not
// shown. The cursor still advances over everything it skipped.
//
// # Webhooks
//
// A subscription (POST /v1/webhooks) starts at the feed's end when it is
// created. The [Dispatcher], run by every `folio serve`, makes rounds:
//
//  1. Copy: for each enabled subscription, read the feed after its cursor
//     (webhook_cursors) with its types, render each event as GET
//     /v1/events shows it to an admin, and in one transaction insert one
//     delivery per event (webhook_deliveries, the outbox) and move the
//     cursor — by compare-and-set on the value read, so when two servers
//     copy the same stretch only one commits it.
//  2. Deliver: claim due deliveries (status pending, next_attempt_at
//     passed, subscription enabled) in one serializable transaction that
//     pushes their due time past a lease (30 s): a second server's claim of
//     the same rows conflicts and, retried, finds them no longer due; a
//     server that dies mid-delivery leaves them due again after the lease.
//     POST each; append the attempt to webhook_attempts (never changed);
//     mark the delivery delivered on a 2xx, else due again after a backoff
//     of 1 s doubling per attempt, capped at 10 min, and failed after 20
//     attempts (a manual redelivery sends it again).
//
// Delivery is at least once: an attempt whose answer was lost (timeout,
// crash after the receiver's 2xx) is sent again. Each POST carries
//
//	Folio-Webhook-Id: <delivery id>          (a redelivery has its own)
//	Folio-Event-Id: <event id>               (stable: de-duplicate by it)
//	Folio-Webhook-Timestamp: <Unix seconds>  (when this attempt was signed)
//	Folio-Signature: v1=<hex HMAC-SHA256(secret, timestamp + "." + body)>
//
// Verification recipe (receivers): recompute the HMAC-SHA256 of the
// timestamp header, a dot and the raw body bytes with the subscription's
// secret, hex-encode it, prefix "v1=", compare in constant time with
// Folio-Signature, and refuse a timestamp more than 5 minutes from your
// clock (the replay window: a captured delivery cannot be replayed later,
// and within the window the event id de-duplicates it). [Verify] is the
// recipe in Go; in a shell:
//
//	{ printf '%s.' "$TIMESTAMP"; cat body.json; } | openssl dgst -sha256 -hmac "$SECRET" -r | cut -d' ' -f1
//
// The secret is stored in the clear (the server must sign with it) and
// shown once, on creation. Disabling (DELETE) keeps the subscription and
// its log; nothing more is copied or delivered for it.
//
// # Webhooks and internal networks
//
// A webhook makes the server send requests to a URL someone typed into
// the API: a stolen or careless admin key must not turn it into a probe of
// the operator's network (server-side request forgery). So, unless the
// operator starts `folio serve --webhook-allow-private`:
//
//   - deliveries (payouts/webhook.EventSender) refuse to connect to the
//     addresses [RefusedAddress] names — loopback, private (RFC 1918,
//     fc00::/7), link-local (169.254.0.0/16, where cloud metadata services
//     answer, and fe80::/10), unspecified, 0.0.0.0/8, broadcast and
//     multicast. The check runs on the address being dialled
//     (net.Dialer.Control), after the name was resolved, so a name that
//     resolves — or is rebound between the check and the connection — to
//     such an address is refused too; the attempt fails with the reason in
//     the delivery log ("webhook address refused: 127.0.0.1 is a loopback
//     address…"), and is retried with backoff like any failure, in case
//     the name moves. No proxy from the environment is used (a proxy
//     would connect for us, out of the check's sight);
//   - POST /v1/webhooks refuses with 400 a URL whose host is literally
//     such an address, or localhost: the subscription could never
//     deliver. Other names are not resolved at creation (the answer could
//     change); delivery decides.
//
// Redirects are never followed: a 3xx answer is a failed attempt, logged
// with its Location, so a receiver cannot send a delivery (and its signed
// body) elsewhere — inside the network, say.
//
// The payout outbox (payouts.Service.Deliver, payouts/webhook.Post) shares
// the sending code but not these limits, on purpose: its URL is the
// exchange's own transfer API, set by the operator on serve's command line
// (--payout-webhook), not through the API, and it is typically internal.
//
// Mutable rows, justified: webhook_cursors is a working position, not
// history (the deliveries it produced are the history); a delivery's
// status, attempt count, due time and claimant move as the outbox works
// (like payouts' payout_outbox), while every attempt is appended to
// webhook_attempts and never changed. Subscriptions change only to be
// disabled.
package events
