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
// too-precise amount is invalid_amount. Entries get a gapless seq in commit
// order, an id (a UUID v4, generated unless an internal caller chose it in
// NewEntry.ID so that a later entry of the same batch can name it as its
// parent; an id already used fails that item with conflict), a kind, a
// description, an effective time
// (business time, which may be back-dated up to 100 years or lie up to 24
// hours ahead) and a recorded time (the ledger's clock, never decreasing
// along seq). All times are kept at microsecond precision, as the database
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
// Each account has one balance row: posted debit and credit totals, the
// posted balance on the account's normal side, pending debits and credits,
// and the last seq that touched it. [Balance.Pending] is the pending amount
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
// # The write path
//
// [Ledger.Apply] (and [Ledger.Post] for new entries only) commits a batch of
// operations in one SERIALIZABLE transaction, retried as a whole on
// serialization failures and deadlocks by schema.DB.JournalTx; [Ledger.ApplyTx]
// runs the same steps inside the caller's transaction, so that the
// affiliate engine's rows commit with the entries. The steps:
//
//  1. Read the clock once; load the chart; validate every new entry in
//     memory (no SQL), spread over the cores ([Parallel]): the database
//     has nothing to do meanwhile.
//  2. Lock the journal head row (SELECT … FOR UPDATE): it orders commits
//     and holds the last seq and hash.
//  3. Look up all the batch's idempotency keys, the targets of reverse,
//     post and void operations, their existing reversals and completions,
//     and the ids callers chose, with a few set-based queries (not one per
//     item). A caller that guarantees the batch's ids and keys are unused
//     ([Options].Fresh: the trade engine, whose ids are new random UUIDs
//     and whose keys carry its reserved prefixes for trades it found
//     unbooked under the same lock) skips the id and key look-ups; the
//     unique indexes still refuse a broken guarantee, failing the
//     transaction rather than writing an entry twice.
//  4. Read the balance rows of every touched account (missing rows are
//     accounts never posted to, and start at zero). No row locks: only
//     batches write balances, and each holds the head's row lock (step 2).
//  5. Apply the items in order in memory: each sees the balances left by
//     the ones before it, balance rules and the 20-digit bound of the
//     NUMERIC(38,18) columns are enforced, and each posting records the
//     account's running posted balance, debits and credits after it. An
//     item that fails is left out and changes nothing.
//  6. Assign seq head+1, head+2, …; with [Options].Atomic any failed
//     item rejects the whole batch ([ErrBatchRejected], nothing written).
//  7. Chain the hashes and insert the entries and the postings with
//     multi-row INSERT … SELECT FROM unnest(…) statements; upsert every
//     touched balance once, in sorted order, with one more; update the
//     head once. Through a pipe ([Options].Writes, schema.Pipe) the
//     entries go in chunks of 500: PostgreSQL inserts a chunk while the
//     next is hashed and encoded.
//
// A failed item gets its own error in [Result]; the others commit. Every
// writer serializes on the head row. Callers run the engine in
// schema.DB.JournalTx, which on PostgreSQL queues writers on a table lock
// taken before the snapshot (so they do not fail with 40001 and retry);
// batching — and coalescing concurrent requests into shared batches
// (affiliate.Ingester, group commit in `folio serve`) — is how throughput
// is reached, not parallel transactions.
//
// # Hot platform accounts
//
// Every trade touches 101:C twice and 605:C once. Within a batch the
// engine already aggregates them: each touched balance row is read once
// (without a row lock: the writer already holds the journal head's row
// lock, see step 4) and written once per transaction, in sorted order,
// however many postings the batch has — so on PostgreSQL, where writers
// are serialized by the head anyway, a hot account costs one row update
// per transaction and splitting it would not pay (it is not implemented).
//
// On CockroachDB the single head row still orders commits, but balance rows
// live in ranges that may sit on other nodes, and a hot row becomes the
// contention point once several gateways commit groups back to back. The
// design for that case: a code may be marked hot with N shards; its balance
// is then kept in N rows keyed (account, shard), shard = hash(entry id) mod
// N, each carrying its own debits/credits/balance and last seq; a posting's
// balance_after is then the running balance of its shard, and a read of the
// account (now or as of a seq) sums the N shards' rows (N indexed reads,
// still independent of journal length). Verify and the trial balance sum
// shards the same way. The non_negative rule cannot be checked on one
// shard alone, so only unconstrained codes (101, 605) may be sharded — which
// is exactly the hot set. The CockroachDB-only parts (hash-sharded indexes
// on postings(seq) and entries(recorded_at) to spread sequential inserts)
// belong in .crdb.sql overlays (not yet supported by the migrator).
//
// # Hash chain and Verify
//
// Each entry's hash is SHA-256(prev_hash ‖ [CanonicalBytes]), the first
// entry's prev_hash being 32 zero bytes ([GenesisHash]). The canonical bytes
// length-prefix every column of the entry — since format v2 its content
// hash too, which replays of its key are compared with — and each
// posting's index, account, side, amount, pending flag and running totals,
// with times in UTC at microsecond precision and metadata in canonical JSON
// ([CanonicalMetadata]: sorted keys, numbers in plain decimal notation),
// which reads back from JSONB unchanged. Entries written before v2 carry v1
// hashes (no content hash); Verify accepts v1 up to the first v2 entry.
//
// The columns outside the hash are copies, and [Ledger.Verify] checks each
// against its source: a posting's entry_id, effective_at and recorded_at
// against its entry's (statements and balances as of an effective time
// read the posting's), its currency against its account's; a balance row's
// figures, last_seq (the last entry that posted to the account or released
// a pending amount of it) and code, currency and holder against the
// postings and the account; the head's seq, hash and recorded_at against
// the last entry. Verify walks the journal in seq order, 5,000 entries and
// their postings (read by seq range, so a posting of no entry is found) at
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
// [Ledger.GetBalance] answers the current balance from the balance row, and
// past balances as of a seq or a recorded time from the last posting of the
// account at or before that point (its balance_after, debits_after and
// credits_after): one read on the (account, seq) index. As of an effective
// time it takes the current balance and subtracts the account's posted
// postings effective after that time, read through the (account,
// effective_at) index, so back-dated entries count as of their effective
// time; the cost is the number of postings after that time, not the
// journal's length. Past balances are posted figures only.
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
package ledger
