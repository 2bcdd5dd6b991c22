// Package ledger is Folio's journal: balanced, append-only, hash-chained
// entries, the balances they maintain, point-in-time reads, statements,
// the trial balance and the tamper check (docs/CONTRACT.md §1.3, §1.4, §7).
//
// # Accounting model
//
// An [Entry] is one balanced journal entry: two or more [Posting]s, each a
// debit or credit of a positive amount on one account
// (accounts.Key: CODE:CURRENCY or CODE:CURRENCY:HOLDER). For every currency
// in an entry the debits equal the credits; an entry may span currencies
// only if each balances on its own. Amounts are exact decimals (apd) with at
// most the currency's precision and 20 integer digits, never rounded: a
// too-precise amount is invalid_amount. Entries get a position (shard,
// seq), the seq gapless in commit order within the shard (see Shards), an id (a UUID v4, generated unless an internal caller chose it in
// NewEntry.ID so that a later entry of the same batch can name it as its
// parent; an id already used fails that item with conflict), a kind, a
// description, an effective time
// (business time, which may be back-dated up to 100 years or lie up to 24
// hours ahead) and a recorded time (the ledger's clock, never decreasing
// along a shard's seq). All times are kept at microsecond precision, as the database
// stores them.
//
// An entry has a [Phase]:
//
//   - posted: its postings move the accounts' posted balances.
//   - pending (two-phase): its postings count only in the accounts' pending
//     debits and credits, until it is completed exactly once, by
//   - post_pending: an entry that posts the pending amounts, or smaller ones
//     (each at most the pending posting's, per currency balanced), with the
//     pending entry's effective time, and releases the whole pending amount;
//   - void_pending: an entry without postings that releases it.
//
// A pending entry may carry an expiry: after it, posting it is refused
// (conflict) and [Ledger.ExpirePending] voids it (under the key
// expire:ID, so concurrent sweepers do not void it twice).
//
// Each account has a balance row per shard that wrote to it (see Shards):
// posted debit and credit totals, the
// posted balance on the account's normal side, pending debits and credits,
// and the last seq that touched it. A row is stored as of its last_seq and
// read through the view balances_current (migration 048): when the
// account has postings rows in the shard after last_seq, the figures of
// the last of them (debits_after, credits_after, balance_after) replace
// the stored ones, so the writer leaves a row as it is when a batch moved
// it only by posted postings rows — every holder account of the trade
// engine (the trader's 202, the affiliates' 208): ~3.4 row updates and
// ~350 B of WAL a trade fewer. It writes the row when the batch inserts
// it, changes a pending figure (pending lines and releases are in no
// postings row's running figures) or puts a line of it inline (lines.go:
// an inline line is no postings row). A reader of a row pays one probe of
// the (account, shard, seq) index for it: nothing for one account's
// balance, ~3.5 µs a row for a read of every row (the trial balance by
// effective time: 0.55 → 0.85 s over 82k balance rows; README, dated rows). [Balance.Pending] is the pending amount
// against the normal side and [Balance.Available] the posted balance minus
// it; pending amounts on the normal side do not count until posted. An
// account code may carry a balance rule: non_negative refuses
// (insufficient_balance) an entry that would leave the available balance of
// an account of that code below zero and lower than before; a pending debit
// therefore reserves funds and blocks later postings beyond what is left.
//
// Entries are never updated or deleted (the server's database role cannot),
// so mistakes are corrected by reversals: a reversal mirrors every posting
// of a posted or post_pending entry (debits become credits), references it
// (Reverses) and is linked from it ([EntryLinks].ReversedBy). An entry is
// reversed at most once (already_reversed); a reversal, a pending entry (void
// it instead) or a void cannot be reversed (conflict).
//
// # Idempotency
//
// Every entry has a unique idempotency key and stores a hash of the request
// that created it. A request whose key is already used returns the original
// entry, marked Replayed, if its content is the same (amounts compared by
// value, metadata in canonical form), and otherwise fails with
// idempotency_conflict, whose folio.Error.Fields name the differing fields
// (kind, description, pending, effective_at, expires_at, parent_id,
// batch_id, metadata, postings; "operation" for reverse, post and void).
// Nothing is ever written twice. Within a batch, an item whose key an
// earlier, accepted item of the batch used is likewise a replay of, or a
// conflict with, that item. Requests are validated before the key is looked up, so a
// replay that no longer validates (say, its expires_at is now in the past)
// fails validation.
//
// The database enforces the keys' uniqueness with a unique index, except
// for the trade engine's "trade:<id>" and "commission:<id>", two a trade,
// which the index leaves out (migration 039, two index entries a trade
// fewer): only fresh batches ([Options].Fresh) may use them, and
// the engine inserts the trade's row, unique by trade id, in the same
// transaction, so a trade's entries are written once all the same (a
// second writer booking the same trade id fails on that row and its retry
// finds the trade). They are never looked up by key. Nor are such
// entries in the index of entries by parent (migration 047): an entry
// under those keys with a parent is written right after it in the same
// shard (ApplyTx refuses it elsewhere, Verify checks it), and its parent's
// links ([Ledger.GetEntry]) find it at that position.
//
// Reverse, post and void operations may carry a key, with the same replay
// semantics. Without one they are stored under a key derived from the target
// (reversal:ID, post:ID, void:ID), and finding it used is not a replay: a
// second reversal is already_reversed, a second completion a conflict.
//
// # Kinds
//
// An entry's kind is free text (a-z, 0-9, _), manual by default. The
// ledger's own kinds (reversal, post_pending, void_pending) are refused to
// new entries: reverse, post and void write them. An engine built on the
// ledger reserves the kinds it writes ([Ledger.Reserve], a [Reservation];
// affiliate.NewService reserves trade_fee, commission, bounty, payout and
// forfeit): from then on only batches with that [Options].Owner write
// entries of those kinds, or reverse, post or void them or the entries that
// reverse or complete them. Any other batch — a client's — gets
// invalid_request for such a new entry and conflict for such an operation,
// with the owner's word on what to do instead. The expiry sweeper voids any
// expired pending entry.
//
// # Shards
//
// The journal is S independent shards (journal_shards; `folio serve
// --journal-shards` sets the count of a fresh database, `folio
// journal-shards N` changes it). Each shard has its own head (last seq,
// hash and recorded_at), its own gapless seq and its own hash chain; an
// entry's position is ([Entry].Shard, [Entry].Seq). Writers of different
// shards commit at the same time, in different transactions, and never
// write the same row: each shard's entries, postings, head and balance
// rows are its own.
//
// Routing (routeOp): an entry goes to the shard of its [NewEntry].Route —
// the trade engine routes a trade's fee, commission and bounty entries by
// the trader, so one trader's entries stay in one chain's order — or,
// without one, of its idempotency key (ShardOf: FNV-1a modulo S). A
// reversal, post or void goes to its target's shard, so that it moves the
// balance rows its target moved. An entry that touches an account with a
// balance rule (non_negative; code 230 in the built-in chart) goes to shard
// 0: every such account lives in shard 0, its single balance row is there
// and its rule is checked there, so a rule never needs two shards. An
// account without a rule (101, 605, 420, 606, every affiliate's 208) keeps
// one balance row per (account, shard) that wrote to it; its balance is the
// sum of its rows, a posting's balance_after is its shard's running figure,
// and reads as of a seq or recorded time sum the per-shard reads at a
// [Cut] (for each shard, the last seq included). One batch may hold entries
// of several shards (a batch of manual entries routed by their keys); it
// locks those shards' heads in shard order, so writers taking several never
// deadlock (`folio bench` counts such batches: multi_shard_batches; the
// trade writers lock one). Changing S retires or adds shards (a retired
// shard keeps its chain, verified, and receives nothing); a running server
// whose shard was retired gets ErrShardsChanged and must restart, and
// servers route by the count they read at start, so restart them after.
//
// Order. Positions are totally ordered by (seq, shard): the listing order
// of [Ledger.ListEntries] and the journal's CSV, stable because positions
// never change. It is not commit order across shards: a shard that lags
// commits seq 10 after another shard's seq 50, so a cursor over (seq,
// shard) in the live tail can pass a position that a lagging shard fills
// later. What must see every entry exactly once keeps a cursor per shard
// (the events feed). Package seal records every shard's (seq, hash) in
// seals and defines the tamper-evident global order over all shards,
// entries by (seal, shard, seq): the order of its Merkle log, whose signed
// checkpoints and proofs pin the journal outside the database.
//
// # Transactions
//
// On PostgreSQL a journal writer runs at READ COMMITTED (schema.ModePostgres):
// its first statement locks its shards' heads (SELECT … FOR UPDATE, in
// shard order) and waits for their previous writer; every later statement
// takes a fresh snapshot, so it sees everything that writer committed. This
// keeps the journal's invariants because every row a writer reads and then
// writes is its shards' own (heads, balance rows, chains), other writers'
// rows are never read to decide anything, and what two shards could both
// insert — a trade id, an idempotency key — is guarded by a unique index:
// the loser of such a race fails with 23505, and [JournalTx] retries the
// whole transaction, which then finds the winner's row (a replay or
// idempotency_conflict). SERIALIZABLE would add nothing for these rows and
// would abort writers of different shards on index-page predicate locks.
// On CockroachDB (and on PostgreSQL with `--db-mode cockroach` /
// FOLIO_DB_MODE=cockroach, which takes exactly that code path: no table
// lock, SERIALIZABLE, row locks, whole-transaction retries on 40001 —
// schema.ModeCockroach) writers run SERIALIZABLE; the crash, concurrency
// and two-server tests run in both modes.
//
// # The write path
//
// [Ledger.Apply] (and [Ledger.Post] for new entries only) commits a batch of
// operations in one transaction ([JournalTx], retried as a whole);
// [Ledger.ApplyTx] runs the same steps inside the caller's transaction, so
// that the affiliate engine's rows commit with the entries. The steps:
//
//  1. Read the clock once; load the chart; validate every new entry in
//     memory (no SQL), spread over the cores (internal/parallel): the database
//     has nothing to do meanwhile. Read the targets of reverse, post and void
//     operations (committed entries never change) and route every item to
//     its shard.
//  2. Lock the heads of those shards (SELECT … FOR UPDATE, in shard order).
//  3. Look up all the batch's idempotency keys, the targets' existing
//     reversals and completions, and the ids callers chose, with a few
//     set-based queries (not one per item). A caller that guarantees the
//     batch's ids and keys are unused ([Options].Fresh: the trade engine,
//     whose ids are new random UUIDs and whose keys carry its reserved
//     prefixes for trades it found unbooked) skips the id and key look-ups;
//     the unique indexes (for a trade's keys, the trade's own row; see
//     Idempotency) still refuse a broken guarantee, failing the
//     transaction rather than writing an entry twice.
//  4. Read the balance rows of every touched (account, shard) (missing rows
//     start at zero). No row locks: only the holder of a shard's head lock
//     writes that shard's rows. Rows the writer itself wrote come from its
//     memory when the head it locked is the one it left (same seq and
//     hash, so the same chain and the same rows; balcache.go): only rows it
//     has not seen, or every row of a shard another server or a rolled-back
//     transaction moved since, are read from the database.
//  5. Apply the items in order in memory: each sees the balances left by
//     the ones before it, balance rules and the 20-digit bound of the
//     NUMERIC(38,18) columns are enforced, and each posting records its
//     row's running posted balance, debits and credits after it. An item
//     that fails is left out and changes nothing.
//  6. Assign each shard's seqs head+1, head+2, …; with [Options].Atomic any
//     failed item rejects the whole batch ([ErrBatchRejected], nothing
//     written).
//  7. Chain each shard's hashes and insert the entries and the postings
//     with multi-row INSERT … SELECT FROM unnest(…) statements; write every
//     touched balance row that needs it once (see above: not those moved
//     only by posted postings rows), in sorted order: one UPDATE … FROM unnest
//     of the rows step 4 found (sent unnamed, so that it is planned for its
//     arguments: a cached generic plan made while balances was small
//     seq-scanned the table on every batch; schema.Pipe) and one INSERT of
//     the new ones (an upsert
//     wrote two WAL records a row: a lock and the update, or a speculative
//     insert and its confirmation); update each
//     written shard's head once. Through a pipe ([Options].Writes,
//     schema.Pipe) the entries go in chunks of 500: PostgreSQL inserts a
//     chunk while the next is hashed and encoded.
//
// A failed item gets its own error in [Result]; the others commit. Group
// commit (ingest.Ingester) runs one writer per shard, each coalescing the
// trades of its shard's traders into shared transactions that lock the
// shard first ([LockShard]); manual entries have a writer of their own.
//
// # A three-node CockroachDB deployment
//
// Three nodes, replication factor 3, S = 8 to 16 shards, one or more
// `folio serve` per node behind a load balancer (every server runs a writer
// per shard; writers of the same shard on different servers queue on its
// head row). What is written where: each shard's head is one row in its own
// range (journal_shards is small; CockroachDB splits it by load), and the
// leaseholders of those ranges spread over the nodes, so S shards are S
// independent serialization points instead of one. Entries and postings
// are keyed by position in hash-sharded indexes (the .crdb.sql overlay of
// migration 011: USING HASH), so the inserts of all shards spread over
// buckets and ranges instead of appending to the last range; balance rows
// are keyed (account, shard), so the hot 101 and 605 accounts are S rows
// in as many places; accruals, trades and rollups are keyed by random ids
// or by affiliate. A trade's transaction writes to its shard's head, its
// balance rows and its rows — a few ranges, at most one of which (the head)
// other writers contend for, and only writers of the same shard. That is
// why throughput grows with nodes: adding nodes adds leaseholders for more
// shard heads and more range capacity for the inserts, while no row is
// written by every commit. Each statement there is a network round trip,
// so a shard's writer overlaps them (package ingest, "Overlap"): the next
// group's reads (booked ids, users, programs, rates) run in a read-only
// transaction while the previous group's writes and COMMIT are in flight
// (when the queue is deep enough not to split groups), and then its write
// transaction holds the shard's head only for its writes.
// What does not scale: a reconciliation or verify
// reads every shard (fine: reads), and an entry touching a balance-rule
// account (code 230) goes to shard 0 — keep such flows away from the
// trade path.
//
// # Where the lines are stored
//
// A line (a posting) is a postings row, keyed by position (seq, shard,
// idx) and indexed by (account, shard, seq), or, for the accounts that
// every trade posts to (101 and 605, without a holder: [InlineCodes]),
// inline in its entry's row, in one of two slots (entries.l1_*, l2_*;
// migration 040, lines.go). A line is inline when its entry is prompt (not
// late, see Reads), it is not pending, a slot is free, and its account
// already has a postings row in the same shard and block of [InlineBlock]
// (64) positions; otherwise it is a row. So the first line of 101 in each
// block of a shard is a row and the next ones are inline: about one row
// per 32 trades a shard instead of two a trade, and likewise for 605. A
// postings row with its two index entries was ~11 µs of PostgreSQL's time
// and ~400 B of WAL; 3 of a trade's ~6.8 lines are 101 and 605 lines.
//
// The view lines (postings and the slots, with the postings' columns) is
// what every reader by position reads: an entry's lines, Verify, the
// reconciliation, the audit bundle. A read by account reads a balance
// row's rows through the account index as before; for an inline account it
// also reads the entries of the blocks in which that index found a row of
// the account in the range (linesBetween), or, as of a position, the rest
// of the block of the last row at or before it (lineAsOf): at most 64
// positions of the shard more than before, whatever the journal's length,
// and a rare currency's 101 (a line every few thousand positions) is all
// rows. The hash does not depend on where a line is stored, and Verify
// checks where the inline lines are (an inline account, a prompt entry, a
// row of the account earlier in the block) and each balance row's row_seq
// (the writer's memory of the last row) against the postings.
//
// # Fields a row does not store
//
// A trade's two entries repeat what their key and their parent give
// (migration 044): their descriptions are their keys' ("trade:<id>" gives
// "Trade fee <id>", "commission:<id>" "Commission split of trade <id>"),
// and the commission entry's metadata is its fee entry's. The writer
// stores NULL for such a description (any entry whose description is what
// its key gives: engineKeys) and for the metadata of an entry
// whose parent is in the same batch with the same metadata (its own
// stored whole); readers get them back: the description in SQL
// (descriptionSQL), the metadata from the parent (fillMetadata: among the
// entries read, else one read by id). CHECK constraints keep a NULL
// description to those keys and a NULL metadata to entries with a
// parent. The hash covers the fields as read, so changing a key, a parent
// or a parent's metadata breaks the chain where a reader would see the
// change. ~175 B of WAL a trade (1.05 of 6.8 KB of the entries' rows in a
// pg_walinspect profile of 60k trades at 8 × 500).
//
// Two more columns are left empty (migrations 045 and 046): the trade
// engine's entries have no content hash (see Hash chain), and no entry
// written since 046 stores its prev_hash, which is the hash of the entry
// before it in its shard: readers take it from that row (fillPrevHashes;
// a read in position order has it among its rows but for the first of
// each shard, which one statement by position reads). Another 2 × 33 B a
// trade each; the entries' rows went from ~1,045 to ~700 B of WAL a trade.
//
// # Hash chain and Verify
//
// Each entry's hash is SHA-256(prev_hash ‖ [CanonicalBytes]), the first
// entry's prev_hash being 32 zero bytes ([GenesisHash]) and every other's
// the hash of the entry before it in its shard (stored in the row before
// migration 046, read from that entry since). The canonical bytes
// length-prefix every column of the entry — since format v2 its content
// hash too, which replays of its key are compared with — and each
// posting's index, account, side, amount, pending flag and running totals,
// with times in UTC at microsecond precision and metadata in canonical JSON
// ([CanonicalMetadata]: sorted keys, numbers in plain decimal notation),
// which reads back from JSONB unchanged. Entries written before v2 carry v1
// hashes (no content hash); Verify accepts v1 up to the first v2 entry.
// The trade engine's entries (keys under the unindexed prefixes, see
// Idempotency) have no content hash since migration 045: their keys are
// never looked up, the trade's row answers replays; the hash covers it as
// empty.
//
// The columns outside the hash are copies, and [Ledger.Verify] checks each
// against its source: a posting's entry_id, effective_at and recorded_at
// against its entry's (statements and balances as of an effective time
// read the posting's), its currency against its account's; a balance row's
// figures as read (balances_current), last_seq (the last entry that posted
// to the account or released a pending amount of it) and code, currency
// and holder against the postings and the account, and its figures as
// stored against the lines up to its stored last_seq (a superseded figure
// that was changed is still found); the head's seq, hash and recorded_at against
// the last entry. Verify walks the journal in seq order, 5,000 entries and
// their lines (read by seq range, so a posting of no entry is found) at
// a time, reporting seq gaps, broken prev_hash links, hashes that do not
// match the stored contents, copies that differ from their source and
// running totals that do not match the postings before them, then
// recomputes every balance row with one aggregate query. Its cost is
// linear in the journal and its memory one page plus a running total per
// account. Problems come in seq order, so the first is the first bad seq.
// What it cannot detect — a consistent rewrite of the whole chain by
// someone who can write the database — is in the README.
//
// # Reads
//
// [Ledger.GetBalance] answers the current balance from the balance row as
// balances_current reads it, and
// past balances as of a seq or a recorded time from the last posting of the
// account at or before that point (its balance_after, debits_after and
// credits_after): one read on the (account, shard, seq) index (and for an
// inline account the rest of that row's block). As of an effective
// time t it takes the balance as of the last entry recorded at or before
// t + LateAfter, subtracts the prompt postings of the window since
// t - LateAfter that are effective after t, and moves the late ones
// (recorded more than LateAfter away from their effective time, either
// way) to the right side of t: those of the cut effective after t through
// the late index on (account, effective_at), those after the cut
// effective at or before t through the (account, shard, seq) index
// (effective.go). The cost is the window and the late postings, plus,
// for the last term, the account's postings rows after the cut (for an
// inline account one a block of 64 positions), not the journal's length.
// Past balances are posted figures only.
//
// A recorded time becomes a cut without an index by recorded time: within
// a shard recorded_at never goes back along seq (the writer records at the
// later of its clock and its head's time; verify reports an entry recorded
// before its predecessor as a seq_gap), so each shard's last seq recorded
// at or before t is found by bisection over entries_position, one
// recursive query for all shards (sqlCutByRecorded: ~23 point reads a
// shard of 8M entries, well under a millisecond). Entry listings by
// recorded period bound their positions the same way (seqsRecordedIn).
// The index it replaces cost two index entries a trade (migration 041).
//
// [Ledger.Statement] lists an account's posted postings by effective time
// in [from, to), in (effective time, seq) order, each with its entry's kind
// and description, the accounts on the other side and the running balance,
// between the opening balance (as of effective time from) and the closing
// one.
//
// [Ledger.TrialBalance] gives every account's posted debits, credits and
// balance, grouped by currency with totals, as of now, a seq or a recorded
// time: one indexed read of the last posting at or before that seq per
// account. In every currency the debits equal the credits (Balanced); a
// mismatch would be a bug.
//
// # Reads for the packages above
//
// The ledger is the only package whose SQL names the journal's tables
// (entries, postings, balances, journal_head; schema.Owners). What other
// packages need of them they get from functions that take the caller's
// schema.Querier, so they read in the caller's transaction:
// [JournalTx] for every journal writer, [InUse] for the chart's "has this
// code or currency been posted to", [EntryIDsByKey], [Counts], and the
// period reads of the reconciliation report ([SeqBefore], [Flows],
// [CodeBalancesAt], [AccountEntryIDs], [CodeEntryIDsExcept],
// [ParentsWithoutOneChild], [BatchTotals], [EntryIDsWithoutBatch]).
// A few are SQL fragments for a package that joins the journal with its
// own tables in one statement: [LinesAtSQL] and [MemberSQL] (the
// reconciliation's accruals check), [AccountShardsSQL] and
// [AccountLinesSQL] (an account's postings rows per shard in seq order
// within a [Cut]: the affiliates' compact accruals found through their
// 208 lines, migration 049). They name the tables here, so their layout
// stays this package's business.
package ledger
