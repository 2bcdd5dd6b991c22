// Package ingest is Folio's write queue: group commit of the trades and
// journal entries that clients send (docs/CONTRACT.md §8). It feeds two engines, the
// affiliate engine (trades, through a [TradePoster] such as
// *affiliate.Service) and the ledger (plain entries, through an
// [EntryPoster] such as *ledger.Ledger); neither of them knows it exists.
//
// # Group commit
//
// Every journal write serializes on the heads of the journal shards it
// writes (see the ledger package), so throughput comes from writing many
// items per transaction, and from the shards' writers running at once. An
// [Ingester] runs one trade writer per journal shard ([Options].Shards)
// and one writer for plain entries. [Ingester.SubmitTrades] splits a
// request's trades by their trader's shard (ledger.ShardOf) and queues each
// part for that shard's writer; [Ingester.SubmitEntries] queues for the
// entries writer. Each writer commits what queued for it together, in one
// ledger.GroupJournalTx transaction per group (a JournalTx whose prepared
// statements run their generic plans, prepared per size generation: see
// schema.GroupWriterTx and schema.Sized), written in this order:
//
//   - one BookTradesTx for all the group's trades (a shard writer, which
//     first locks its shard's head),
//   - one ledger batch for all its non-atomic entries (the entries
//     writer),
//   - one atomic ledger batch per atomic entry request, so each stays
//     all-or-nothing inside the shared transaction: its rejection
//     (ledger.ErrBatchRejected) is that request's answer and does not fail
//     the group.
//
// A request whose trades fall in several shards is answered once every
// part has committed; the parts commit independently (a part refused as a
// whole leaves the others booked, and resending the request books what is
// missing, see "Exactly once").
//
// Each request then gets its own per-item results, in its own order, once
// the transaction that holds it has committed. An item the engines refuse
// (invalid, conflicting) is refused in its result, as without group
// commit; the others commit.
//
// # How requests are grouped
//
// Each writer takes the first waiting request, then keeps taking requests
// until the group holds [Options].MaxItems trades and entries (default
// 2000) or [Options].MaxWait has passed since it took the first one
// (default 2 ms), whichever comes first, and writes the group. Under light
// load a request waits up to MaxWait for company; under load groups fill
// at once, and requests arriving meanwhile queue for the next group.
// Many one-trade requests never fill a group: with 64 clients × 1 trade on
// 2 shards a group is what arrives within MaxWait (~23 trades). Not
// waiting at all (take what is queued and go), and waiting only until a
// group is as large as the previous one, both made groups smaller and each
// trade dearer, and a longer wait made them larger at the same cost a
// trade: the fixed 2 ms stays (README, "Measured figures, dated").
//
// # The queue bound and 503
//
// At most [Options].QueueSize requests (default 1024) wait for each writer.
// A request that finds the queue full is refused at once with [ErrBusy]
// (folio.EUNAVAILABLE: HTTP 503 with Retry-After) instead of growing
// memory; the client resends it later.
//
// # Failures
//
// The transaction runner retries a group on serialization failures, as any
// transaction. If a group still fails as a whole, there are two cases:
//
//   - The database is unavailable (schema.IsUnavailable: unreachable,
//     connection lost, shutting down, out of connections). That is no
//     request's fault, so every request of the group gets that error (503)
//     at once; they are not retried one by one against a database that is
//     down.
//   - Any other error: each request of the group is written again in a
//     transaction of its own, so one bad request cannot fail its
//     neighbours; a request that fails alone gets its error.
//
// A caller whose context ends before its answer gets the context's error,
// but its items may still commit. At shutdown ([Ingester.Run]'s context
// done) the group being written is finished and answered, and requests
// still queued are answered unavailable.
//
// # Exactly once
//
// When a group fails on its COMMIT the outcome is unknown: it may have
// committed. Every item written here is idempotent, so the client simply
// resends the same request: a trade by its trade id (its entries are
// stored under the idempotency keys trade:<id> and commission:<id>), an
// entry by its idempotency key. What had committed comes back as exists (a
// trade) or a replay (an entry) with the original ids, the rest is booked:
// each item exactly once. The same holds for two requests carrying the same
// trade or key in one group.
package ingest
