// Package periods owns accounting periods and month-end close (tables
// period_events and period_snapshots, migration 029).
//
// # Periods and their states
//
// A period is a calendar month in UTC, named YYYY-MM. Its state is its
// last event; events are only appended (the app role cannot update or
// delete them):
//
//	open ──close──▶ closing ──close (another person)──▶ closed
//	closed ──reopen + reason──▶ reopening ──reopen (another person)──▶ reopened
//	reopened ──close──▶ closing …
//
// Every step is one event (who: key, person, label; when; a reopen's
// reason) and one audit-log record ("period.close_requested",
// "period.closed", "period.reopen_requested", "period.reopened"; object
// "period:YYYY-MM"). Four-eyes is by person, as for payouts (package
// keys): the confirming key must belong to another person than the
// requesting key, and a key minted by a key counts as its minter's person,
// so minting a fresh key does not make a second person.
//
// # Closing in order
//
// Only a month that has ended can be closed, and periods close in order:
// the period to close is the month after the latest closed one (closed or
// reopening); when none is closed, any ended month — the first close
// decides where the closed books start; while a period is closing, no
// later one can be closed. Only the latest closed period can be reopened
// (checked at the request and again at the confirmation). So the closed periods are always consecutive months, and
// their close cuts grow with the month.
//
// # The snapshot
//
// Confirming a close computes the period's reconciliation by business time
// (package reconcile) in one read-only snapshot, and stores the report's
// JSON bytes with that snapshot's journal cut (each shard's last seq). GET
// /v1/periods/{YYYY-MM}/reconciliation serves the stored bytes exactly
// while the period is closed; reopening keeps them (a new close stores a
// new snapshot), and no close or reopen touches another period's snapshot.
//
// # Post-close rule
//
// The journal's write path knows nothing of periods: an entry or trade
// dated in a closed period is accepted like any other and keeps its
// effective time. Which period it belongs to is derived at read time from
// its effective time, its position in the journal (shard, seq) and the
// close cuts:
//
//   - Let F be the earliest closed period at or after an entry's month M.
//     If there is none, or F's close cut holds the entry (it was recorded
//     before F's close), the entry belongs to M. Otherwise it is a
//     post-close adjustment of F and belongs to the first period after F
//     that is either closed with a cut holding it or not closed. (F is M
//     when M is closed; an entry dated before the first closed period and
//     recorded after that period's close is that period's adjustment:
//     closing a month closes the business time before it too.)
//   - In particular an entry dated in closed March and recorded after
//     March's close belongs to April while April is open; once April is
//     closed with it in its cut, it stays in April; if it is recorded after
//     April's close too, it belongs to May.
//   - The reconciliation of a period P whose predecessor is closed at cut L
//     holds the entries effective in P and the entries effective before P
//     recorded after L (reconcile.RunAfterClose); its opening balances are
//     those of the entries effective before P up to L — the predecessor's
//     stored closing balances — and its closing balances those of every
//     entry effective before P's end, so the roll-forward holds.
//   - The adjustments of a closed period M (GET
//     /v1/periods/{YYYY-MM}/adjustments) are the entries beyond M's cut
//     effective in M (and, for the first of the consecutive closed
//     periods, effective before it), each with the period it is booked in.
//
// The plain reconciliation report (GET /v1/reports/reconciliation) is
// unchanged: it bounds a period by effective or recorded time only. The
// period view is GET /v1/periods/{YYYY-MM}/reconciliation.
package periods
