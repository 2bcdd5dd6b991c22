// Package periods owns accounting periods and month-end close (tables
// period_events and period_snapshots, migration 029; period_checkpoints
// and period_balances, migration 033).
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
// # Balance trees and period checkpoints
//
// Confirming a close also builds, before it writes, a Merkle tree of every
// account's closing balance (seal.NewBalanceTree) and publishes its root
// in a signed period checkpoint:
//
//   - Which balance: each account's posted balance on its normal side by
//     business time — the postings effective before the period's end —
//     counting exactly the entries within the close's cut (the cut stored
//     with the reconciliation; ledger.ClosingBalancesAt). These are the
//     closing balances the stored reconciliation's roll-forward ends at:
//     post-close adjustments recorded later are not in them (they are
//     booked in a later period and do not change a published tree).
//     Pending postings are not counted. One leaf per account that has such
//     a posting, zero balances included; the account is the full key
//     (208:USDT:aff1) and the currency its currency; the amount is
//     ledger.Format's text (exact), hashed as stored.
//
//   - The journal is sealed at the close (seal.Service.Seal, after the
//     reconciliation's snapshot, so the seal covers the cut) and the period
//     checkpoint is a C2SP signed note, signed with the journal's key:
//
//     <origin>/period/YYYY-MM
//     <number of balance leaves>
//     <base64 balance root>
//     cut <seq of shard 0> <seq of shard 1> …
//     seal <n> <journal tree size> <base64 journal root>
//
//     The first three lines have the tlog-checkpoint shape (origin, size,
//     root); the last two are extension lines: the cut the balances were
//     computed at, and the seal made at the close, whose own journal
//     checkpoint is stored beside (the same size and root).
//
//   - Stored append-only: the checkpoint, root and size in
//     period_checkpoints and every leaf, in tree order, in period_balances
//     (amount as TEXT, so the hashed digits come back). Both keyed by the
//     "closed" event: a reopened period closed again gets a new tree and
//     checkpoint, the old ones stay. A proof is recomputed from the stored
//     leaves, and refused when they do not give the stored root.
//
//   - GET /v1/audit/proofs/balance?account=&period= serves the proof
//     (index, size, leaf bytes, hashes) with the period and journal
//     checkpoints; anyone holding the verifier key checks it with
//     note.Open and tlog.CheckRecord. An affiliate key gets proofs of its
//     holder's accounts only. Without a sealing service (Service.Seals nil)
//     the tree is stored with no seal and no checkpoint, and no proof is
//     served.
//
//   - Cost: the balances are one scan of the postings within the cut
//     (grouped by account); the tree is built in memory, and rebuilt in
//     memory for each proof from the stored leaves (a few MB per hundred
//     thousand accounts).
//
// The plain reconciliation report (GET /v1/reports/reconciliation) is
// unchanged: it bounds a period by effective or recorded time only. The
// period view is GET /v1/periods/{YYYY-MM}/reconciliation.
package periods
