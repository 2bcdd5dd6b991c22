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
package events
