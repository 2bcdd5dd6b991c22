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
// # Overlap
//
// With [Options].Overlap (`folio serve --overlap`) a shard's writer is
// two goroutines: one collects the next group and prepares its trades
// (affiliate.Service.PrepareTrades: the booked-id lookup, programs,
// users, fee schedules, tiers, eligibility volumes, FX rates) in a
// read-only snapshot (schema.DB.SnapshotTx) while the other writes the
// group before it; the hand-over waits for the writer, so at most one
// group is prepared ahead. The write transaction then only locks the
// shard's head and books the prepared batch (BookPreparedTx: the ledger's
// inserts, trades, accruals, milestones).
//
// Overlapping only pays when it does not split groups. A group stays open
// while the previous group's statements run; it is prepared ahead only if
// the previous group is still being written and this one is as large (or
// full). Otherwise it is written as without Overlap: it keeps collecting
// until the previous group is answered and MaxWait after, and is prepared
// in its write transaction. The case this avoids is the bench's 64
// clients × 1 trade, each client waiting for its answer before it sends
// again: prepared ahead, the clients of a shard split into two cohorts
// and each group halves, with a transaction's fixed cost twice as often
// (measured: 17% fewer trades a second, locally and behind ~3 ms of
// round trip alike). With deep queues — large requests, more clients than
// a group holds, bursts — groups are full either way and the
// preparation's reads leave the shard's critical path.
//
// The snapshot may miss the shard's previous groups (it began before they
// committed). Of what the preparation reads, a booked trade changes three
// things: whether a trade id is booked, an affiliate's referred volume
// (volume tiers) and a trader's own volume (eligibility). The writer
// keeps what its last groups changed (affiliate.Touched) and, under the
// shard's lock, checks the prepared batch against every group committed
// since its snapshot began (affiliate.Prepared.Stale); if one touched what
// it read — or the log no longer reaches back that far, or the attempt is
// a retry, or the snapshot failed — the batch is prepared again inside
// the write transaction, as without Overlap. So a trade is booked exactly
// as if prepared after the shard's earlier groups. Configuration (users,
// programs, rates) is read as of the snapshot, which begins after every
// request of the group has arrived: a change committed before a request
// is always seen; one committing while the group is in flight may or may
// not be, as without Overlap (its reads are not under any lock either).
// Writers of other shards and processes are not in the log; they never
// write the same trade's rows (a trade belongs to its trader's shard)
// and, as without Overlap, their trades count toward a tier once
// committed before the read. A duplicate trade id that reaches two shards
// or two servers at once fails one transaction on the unique key; its
// retry (in both modes: schema.DB.GroupWriterTx retries a unique
// violation) prepares again in the write transaction and answers "exists"
// or "rejected".
//
// folio_ingest_trade_groups_total{prepared="ahead"|"again"} counts the
// groups of each kind, and `folio bench` reports the share ahead
// (prepared_ahead).
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
