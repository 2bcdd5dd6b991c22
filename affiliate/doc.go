// Package affiliate is Folio's affiliate-commission engine (docs/CONTRACT.md §2–§4):
// users and the referral tree, referral codes, commission programs and
// their rules, fee schedules, FX rates, lifecycle events and bounties, and
// the real-time split of every trade fee into balanced journal entries.
//
// # Users, codes and the tree
//
// A user has at most one referrer, fixed at signup by the referral code it
// joined with (codes: 6–12 characters of an alphabet without 0/O/1/I,
// stored upper-case, matched case-insensitively; at most MaxCodes per
// affiliate). Self-referral and cycles are refused. An admin may re-parent a
// user (Service.SetReferrer): the change applies to trades recorded after
// it; accruals already booked are never recalculated. Every configuration
// change — programs, rates and their clamps, kickback overrides, referrers,
// codes, revenue-share tables, FX rates, fee schedules — is written to the
// audit log with actor, time, before and after, in the same transaction.
//
// # Programs and rules
//
// Every user resolves to one trade program: its own assignment, else its
// group's (ProgramSpec.Groups), else the default. Bounty programs apply to
// every user or, when they list groups, only to the users of those groups
// (the user whose event it is). The commission basis is the fee, minus
// base_fee_rate × volume when the program sets one (never below zero). A Rule turns (program,
// chain, basis) into exact shares; Split rounds each share down to the fee
// currency's precision, drops zero shares and leaves the remainder to the
// platform, so Σ shares + remainder = fee exactly. A rule returning a
// negative share or more than the basis is an error, never a posting.
//
// The built-in kinds: levels (rate r_k to the k-th ancestor), differential
// (each ancestor earns its rate minus the next one down; the direct referrer
// its full rate; an ancestor without an assigned rate ends the paying chain;
// rates are clamped non-increasing down the chain when applied), kickback
// (direct referrer R − k, trader k, where R is the affiliate's override,
// else its volume tier, else the program rate, and k the kickback of the
// code the trader joined with — only while the code's owner is still the
// trader's referrer), table (the operator's revenue-share table of the
// trader) and bounty (fixed or percentage rewards per level for lifecycle
// events, once per user, event and beneficiary for one-off events).
//
// Differential rates: Service.SetRate validates P ≤ X ≤ X_referrer against
// the program the user resolves to. An increase changes only that user; a
// decrease to X' clamps every descendant and their codes' default rates to
// max(P, min(X_child, X'_parent)), level by level, each clamp audit-logged.
//
// # Codes, rates and notes
//
// Affiliates manage their own codes and referees (the API admits their
// own key; the service applies the admins' validation and audit log, the
// calling key as actor): Service.CreateCode, Service.UpdateCode (rate,
// kickback, note, disabled), Service.SetRefereeRate (a direct referee's
// custom rate, within [P, own rate]) and Service.SetReferralNote.
//
// Orderly's default-rate semantics: a referee that joined with a code
// that has a default rate gets that rate and follows the code
// (User.RateFollowsCode): when the owner changes the code's rate, every
// follower still referred by the owner moves to it in the same
// transaction — one UPDATE, one user-cache invalidation, one
// "user.rate.follow" audit row each — so an increase reaches them at their
// next trade while the trade path keeps reading one rate per user from the
// cache, with no join to the codes. A custom rate (SetRate,
// SetRefereeRate) pins the referee: code changes no longer move it.
// Decreases cascade as before: a lower code rate clamps each follower's
// subtree, and an owner's decrease clamps codes and referees alike (a
// follower clamped with its code keeps following it). Migration 030 made
// the existing referees whose rate equals their code's followers.
//
// users and referral_codes hold the current state, updated in place (only
// the columns grants.sql lists): the trade path reads it through the user
// cache and must find one row per user and code. Their history is the
// audit log, append-only, which records every change (creation, edits,
// follows, clamps, disables) with before, after, actor and time in the
// same transaction; accruals snapshot the rates each trade paid. A
// disabled code keeps its row (disabled_at) and its referees. Notes are
// history themselves (referral_notes, appended, the newest wins); the audit
// log records only that a note was set or cleared, since auditors read
// the log and a note is the affiliate's.
//
// # The referral list
//
// Service.ListReferrals lists an affiliate's referees at one level of its
// tree (or every level down to DefaultMaxLevels) with what each generated
// for it, ever: filters by country, code, registration and milestone
// ranges run in SQL, the search q (an id prefix, a whole id for affiliate
// keys whose ids are masked, or a word of the affiliate's note) and the
// order (registration, commission or volume, largest first; ties newest
// first, then by id) in memory, so a page costs the affiliate's matching
// referees (at most 100,000; a larger tree is asked to narrow the level)
// and figures are read for the page only when ordering by registration.
// The dashboard's default — direct referees, newest first, no search — is
// paged by SQL instead and costs one page whatever the tree.
// The cursor names no referee: it holds the last one's order figure and
// registration time and how many with exactly those were listed
// (pageReferrals), so paging is stable through ties. Commission is in the
// reporting currency; what no FX rate converted yet is given per referee
// and currency (Referral.Unpriced), never silently counted as 0. A referee
// whose code returns it a kickback above zero is "shared", else "rebate".
// Each referee shows its current VIP level and the product lines it
// traded, ever (Referral.Products, one query over trades_user for the
// page): a list, not commission per product, because the list's figures
// cover all time and a per-product split of a period is what Stats grouped
// by product answers. The filters vip_level and product (a referee that
// traded it; an EXISTS over trades_user) run in SQL like the others, so
// the dashboard's default stays paged by SQL. The signup-risk flag is
// payouts' (it owns signup_risk, and affiliate does not import payouts):
// the API reads it for the page with payouts.SignupRisks.
// The top referees of a period are Stats grouped by referee, sorted.
//
// # Custom rules
//
// An integrator adds a commission model by implementing Rule and
// registering it under a new kind in its own main:
//
//	type flatRule struct{}
//
//	// Validate accepts every program of this kind.
//	func (flatRule) Validate(p *affiliate.Program) error { return nil }
//
//	// Depth: the trade path loads and hands Shares one ancestor.
//	func (flatRule) Depth(p *affiliate.Program) int { return 1 }
//
//	// Inputs: nothing beyond the chain (no revenue-share table, no kickback).
//	func (flatRule) Inputs(p *affiliate.Program) affiliate.Inputs { return 0 }
//
//	// Shares pays the direct referrer 1% of the basis.
//	func (flatRule) Shares(p *affiliate.Program, c *affiliate.Chain, basis *apd.Decimal) ([]affiliate.Share, error) {
//		if len(c.Ancestors) == 0 {
//			return nil, nil
//		}
//		var amt apd.Decimal
//		if _, err := apd.BaseContext.WithPrecision(60).Mul(&amt, basis, apd.New(1, -2)); err != nil {
//			return nil, err
//		}
//		return []affiliate.Share{{Beneficiary: c.Ancestors[0].ID, Level: 1, Rate: *apd.New(1, -2), Amount: amt}}, nil
//	}
//
//	func main() {
//		svc := affiliate.NewService(db, ledger.New(db))
//		svc.Rules.Register("flat", flatRule{})
//		// PUT /v1/programs/flat1 {"kind": "flat"} now validates and pays with flatRule.
//	}
//
// # The journal of a trade
//
// PostTrades books up to MaxTradesPerBatch trades in one SERIALIZABLE
// transaction: for each new trade a trade_fee entry (Dr 202:C:trader / Cr
// 101:C, idempotency key "trade:<id>", effective at executed_at) and a
// commission entry (Dr 101:C / Cr 208:C:beneficiary per share / Cr 605:C
// remainder, parent = the fee entry, key "commission:<id>"), posted through
// the ledger's batch engine together with the trade and accrual rows — so
// 101 never holds a processed fee. Accruals snapshot trade, beneficiary,
// level, program, kind, rate, basis, amount, currency, the FX rate into the
// reporting currency in force at the trade's executed_at (business time)
// and the converted amount (NULL when no rate was in force then: see
// "Unpriced amounts"), the business time, and the journal position (shard,
// seq) of the commission entry. A trade id booked again
// with the same content answers "exists" with the original entry ids; with
// other content it is "rejected" (idempotency_conflict); an invalid trade is
// rejected alone. A trade without a fee is priced from the fee schedule
// (group+market, group, market, default row; maker or taker rate), rounded
// down.
//
// # The write path of trades
//
// PostTrades runs BookTradesTx in ledger.JournalTx (retried as a whole
// on serialization failures); the ingester's group commit calls
// BookTradesTx inside its own transaction. Both hand the booked accruals
// to the statistics folder once that transaction has committed
// (Booked.Committed, foldmem.go); PostTradesTx is BookTradesTx for callers
// that do not. The steps, one function each, called in this order by
// BookTradesTx (their SQL is in trades_store.go):
//
//  1. Read the clock once — every later step uses that time: the checks
//     and volume tiers (FX rates and statistics buckets use each trade's
//     executed_at; entries take the ledger's clock, and trade rows and
//     their compact accruals are recorded at their entries' time, see
//     below) — and
//     load the chart; check every trade in memory (no SQL), spread over
//     the cores (check). An invalid trade is rejected; a trade id repeated
//     in the batch with other content is rejected, and with the same
//     content waits for step 8.
//  2. Look the batch's trade ids up among the booked trades with one
//     query (skipBooked): a trade booked with the same content (compared
//     by its content hash) is "exists" with the original entry ids, with
//     other content "rejected".
//  3. Load the programs, and the traders with their referral chains as
//     many levels up as the deepest program's rule asks for (Rule.Depth),
//     through the user cache (loadTradeContext).
//  4. Prepare each trade (prepareTrades): price a trade without a fee from
//     the fee schedule, resolve its program and rule, compute the base
//     fee, build its chain to the rule's depth, read what the rule needs
//     beyond the chain (Rule.Inputs: revenue-share table, volume tier and
//     code kickback, each read once per batch), and split the fee (Split).
//     A trade that fails here is rejected alone.
//  5. Read the FX rates into the reporting currency that step 7 converts
//     with, in force at each trade's executed_at, one window of rate
//     history per currency (readRates, rateWindow): from step 6 on a pipe
//     holds the transaction, and nothing can be read.
//  6. Post every prepared trade's trade_fee and commission entries through
//     ledger.ApplyTx as one atomic batch (postEntries; Options Fresh,
//     Owner, and Writes = a schema.Pipe): the ledger sends its inserts
//     without waiting for them. If it refuses some items, their trades are
//     rejected and the others posted again (nothing is written until a
//     batch is accepted).
//  7. Behind the ledger's inserts, in the same pipe: one multi-row insert
//     of the trades, one of the accrual rows (both with the commission
//     entry's position) and the first-trade milestones; then close the
//     pipe, waiting for all (writeBooked). The statistics rollups and the
//     referred volume are not written here: the folder folds them later.
//  8. Fill in the results (report): the posted trades are "created" with their entry
//     ids, and each repeat of a trade in the batch gets its first
//     occurrence's outcome.
//
// A trade rejected at any step writes nothing.
//
// A trade's accrual rows are compact (migration 042): each stores what is
// its own — id, beneficiary, level, rate, amount and reporting amount,
// recorded time, trade id — and leaves NULL the fifteen columns its trade
// shares (commission entry, trader, program and kind, basis, fee and
// currency, market, code, country, FX rate, fee and volume in the
// reporting currency), which the trade row stores once (~110 B less a
// row; 2.8 rows a trade in the bench). Every reader reads the view
// accruals_whole, which fills a compact row (the only rows without a
// trader) from its trade and reads any other row as stored; a read that
// needs none of those columns does not join the trade (PostgreSQL removes
// the join). Only this package's writer names the table accruals
// (schema's TestAccrualsReadThroughView). Reversals and bounties, and every
// row written before 042, are stored whole. Likewise the trade row's
// explanation leaves out program, kind and basis when they are its
// columns' (storedExplanation, ~60 B a trade; GetTrade puts them back).
//
// Since migration 049 a compact accrual stores no recorded time either,
// and has no entry in the beneficiary index (~330 B of WAL a trade): its
// trade row is recorded at the time the journal recorded the trade's
// entries (one time per ledger batch), and the view takes the trade's.
// A compact accrual is the credit of its beneficiary's 208 account in its
// trade's commission entry — the k-th share is posting k + 1, and the
// accrual's id is the entry's with k for its last byte (compactAccrualID)
// — so the reads by beneficiary find them through the ledger's account
// index (ledger.AccountLinesSQL: the beneficiary's 208 account of each
// currency, each shard's lines in seq order, each line joined to its
// accrual by that id) and read the rows stored with a recorded time
// (whole rows, and compact rows written before 049) from the partial index
// accruals_beneficiary_stored. ListAccruals keeps its (recorded_at, id)
// pages: within a shard recorded time never goes back along seq, so a
// cursor's time is a cut of every shard (ledger.CutBefore), and a shard's
// lines of one recorded time, not in id order, are all read before the
// page is sorted (compactAccruals). Product and campaign statistics
// (accrualGroups) read both paths; the folder's tails read by position,
// GetTrade and reversals by trade, payouts every payable accrual: none of
// them used the index. Measured: see the README's dated rows of
// 2026-12-07 (ninth session).
//
// Steps 1 to 5 only read, 6 to 8 only write: BookTradesTx is
// PrepareTrades (1–5) and BookPreparedTx (6–8) in one transaction. The
// ingester's shard writers can run them in two (see "Overlap" in the
// ingest package): PrepareTrades in a read-only snapshot while the
// shard's previous group is written, BookPreparedTx under the shard's
// lock, after checking that no group booked since the snapshot changed
// what the preparation read (Prepared.Stale, prepared.go: the batch's
// trade ids, the referred volume behind a volume tier it read, the own
// volume behind an eligibility check); a stale batch is prepared again in
// the write transaction. Step 1's clock is then the preparation's.
//
// ReverseTrade reverses the commission entry and then the fee entry and
// adds negative accrual rows; commissions already paid out leave 208
// negative, a clawback carried forward.
//
// The engine's entries are its own: NewService reserves their kinds
// (EntryKinds: trade_fee, commission, bounty, payout, forfeit) on its
// ledger, and the engine writes with ledger.Options.Owner = Owner. Clients
// can neither write entries of those kinds nor reverse, post or void the
// engine's entries through the journal; the refusal names what does it
// (a trade's entries move only with POST /v1/trades/{id}/reverse).
//
// # Statistics: folded off the writer
//
// The statistics rollups (affiliate_stats_hourly, affiliate_stats_day,
// affiliate_referee_daily) and the referred volume of volume tiers
// (referred_volume_daily) used to be upserted inside the journal writer's
// transaction: several hot rows per trade, about a quarter of the writer's
// database time, and rows that the writers of different journal shards
// would all update. They are now folded by a background folder
// (Service.RunFolder, started by `folio serve`; FoldStats is one round).
// The folder runs a round every second, and back to back only while a
// shard is more than one batch (DefaultFoldBatch) behind: a round costs
// about a dozen statements per shard whatever it folds, so chasing every
// group commit (as it first did) folded a few dozen trades a round when
// 64 clients sent one trade each, and the fixed cost per round was a large
// part of each trade's cost. Reads add the unfolded tail, so a second of
// lag changes no answer.
//
//   - Position. Every trade row carries the journal position of its
//     commission entry (shard, seq), and its accruals share it (and its
//     executed_at as business time) through the trade row; the accruals
//     without a trade row — bounties and reversals — carry their entry's
//     position and their business time themselves. Within a shard seqs are
//     gapless and commit-ordered, so once a shard's head is at seq H every
//     row with seq ≤ H is committed and visible.
//
//   - Watermark. stats_fold_marks holds, per shard, the last folded seq. A
//     fold transaction (SERIALIZABLE, retried as a whole) reads the mark,
//     reads the rows of (mark, through] — through is the seq of the
//     DefaultFoldBatch-th accrual past the mark, never beyond the shard's
//     head, and always all rows of a seq — aggregates them in memory and
//     writes each touched rollup row once, then moves the mark only from
//     the value it read (INSERT … ON CONFLICT … WHERE seq = old). Two
//     `folio serve` processes folding at once: one commits, the other
//     fails serialization, finds the mark moved, or finds a rollup row it
//     meant to insert already there, and rolls back, so nothing is folded
//     twice or lost.
//
//   - Rollup writes (rollupSQL). One UPDATE … FROM unnest … RETURNING adds
//     the figures to the rows that exist, then one INSERT writes the ones
//     it did not find, each planned for its arguments. An upsert (INSERT …
//     ON CONFLICT DO UPDATE) wrote two WAL records a row — a lock before
//     each update, a confirmation after each speculative insert — about six
//     records a trade in `folio bench` (README, "Measured figures, dated").
//
//   - From the writer's memory (foldmem.go). Reading the accruals back
//     (trades joined to accruals and revaluations, every figure parsed)
//     was the folder's costliest statement. The trade writer hands what it
//     wrote to the folder once its transaction has committed
//     (Booked.Committed): per shard, the accruals of a run of positions
//     (from, to] that its transaction wrote alone, exactly as the read
//     would return them. A fold round walks the shard from its watermark:
//     a run of segments that starts where it has got to is folded from
//     memory; anything else is read back up to the next held segment, in
//     the same round, so a gap costs a read, not a round (at most 64
//     reads and takes a round). Read back: the gap before a segment
//     (manual entries, bounties and reversals, another process's trades),
//     a segment another process's fold cut into, a segment with an
//     unpriced accrual (a revaluation recorded before the fold must reach
//     the rollups, and only the read joins it), segments dropped past
//     40,000 held rows, and every position after a restart. A segment
//     also carries its trades' volumes
//     with each trader's referrer at booking, for the referred and own
//     volume. The referred volume takes the referrer at folding (below),
//     which is the one at booking only if no user changed since, so those
//     volumes are used only while the users' cache version is the one the
//     segment was booked under; otherwise its trades are read back.
//     TestFoldFromMemoryMatchesDatabase folds the same activity, with a
//     re-parenting between bookings, both ways and finds every rollup row
//     equal.
//
//   - Exact reads. Stats, the referral list (refereeFigures) and the volume
//     tier add the tail — the rows past each shard's mark — read in the
//     same snapshot as the rollups (tailWhere: one seq range per shard, on
//     the (shard, seq) indexes). Answers are exact whatever the folder's
//     lag; a lagging folder only makes reads scan a longer tail.
//
//   - Referred volume (volume tiers) is folded from the trade rows: the
//     trader's referrer when the trade is folded (or read in the tail),
//     its volume converted at the rate in force at executed_at. Before,
//     the writer took the referrer and the rate at booking; a re-parenting
//     in the seconds between booking and folding now moves that trade's
//     volume to the new referrer.
//
//   - Milestones. first_trade_at stays on the writer: it updates only the
//     trader's own row (in the trader's shard) and only on a first trade,
//     so it costs no WAL on other trades, and every read of users is exact.
//     The other milestones (KYC, deposits) come from events, not trades.
//
//   - Cost per trade on the writer: the trade row with two more columns
//     and one trades_position index entry (appended at its right edge);
//     accrual rows unchanged (NULL position columns cost no byte). The
//     hourly, daily, referee and referred-volume upserts (one to three rows
//     per trade, each with its row lock) are gone from its transaction.
//     Index dropped because no read needs it: trades_user (user_id,
//     executed_at) — nothing lists a trader's trades by time — so a trade
//     writes as many index entries as before. accruals_position is partial
//     (bounties and reversals only). Kept: accruals_beneficiary (the
//     accrual list; since migration 049 only of rows stored with a
//     recorded time, accruals_beneficiary_stored: compact ones are found
//     through their 208 lines), accruals_trade (reversals, and the fold's
//     join from trades to their accruals; since migration 042 only of
//     whole rows, accruals_trade_whole: compact ones are found by their
//     ids). Measured on a private
//     PostgreSQL 15 (4,000 trades in batches of 500, 300 affiliates with
//     one trader each plus a 3-level tree, 3 accruals per trade, WAL from
//     pg_current_wal_insert_lsn, records from pg_walinspect): writer 6.0 KB
//     and 54 WAL records per trade before, 5.3 KB and 46 after (heap
//     updates 2.5 → 1.0, row locks 6.2 → 2.2 per trade); the folder then
//     writes about 0.12 KB per trade, many accruals into one row update.
//
//   - The daily rollup from closed hours. affiliate_stats_day holds the
//     hourly rows of the hours before the day mark (stats_day_marks), summed
//     per day. The folder upserts an accrual into its hourly row, and into
//     its daily row only when its hour is before the mark (a late trade, a
//     reversal or revaluation of an old one); every round it moves the mark
//     to the last hour that ended ten minutes before (dayRollLag), summing
//     the hours in between — read through the hour index — into their days,
//     at most a day of hours a transaction, the mark moving only from the
//     value read (two folders roll each hour once). A whole-day read takes
//     the daily rows of the days before the mark's day and the hourly rows
//     from there on (statsSource), so it stays exact and reads a day at most
//     of hourly rows more. Before, every fold round upserted as many daily
//     rows as hourly ones (the rows of one round share their hour and day):
//     measured over 100k trades of `folio bench` (8 × 500), the writer and
//     folder went from 10.26 KB and 86.7 WAL records a trade to 9.90 KB and
//     78.8 (the new hour index: 26 B a trade), PostgreSQL's CPU from 469 to
//     434 µs a trade. An empty database has no mark (the epoch): the first
//     round sets it; migration 037 put an existing one's past its last hour.
//
// # Business time
//
// Statistics bucket accruals by business time (accruals.business_at): a
// trade's executed_at, a bounty's event time, a reversal's reversed
// accrual's business time (a busted trade nets out in the hour it was
// executed). A trade booked late lands in its own hour and day, and since
// folding adds to whatever row its business time names, rollups stay
// exact. The FX rate of an accrual is the rate in force at its business
// time. Migration 025 set the business time of existing accruals (the
// trade's executed_at; a reversal's original's; recorded_at otherwise) and
// rebuilt the rollups from the accruals by business time; their reporting
// amounts stay those converted when they were recorded.
//
// # Unpriced amounts
//
// An accrual in a currency with no rate in force at its business time has
// no reporting amount. It counts 0 in the reporting-currency figures and
// its amount and fee count in the rollups' unpriced_commission and
// unpriced_fees, so every statistics answer reports, per accrual currency,
// what it could not price (Stats.Unpriced, "unpriced" in JSON and CSV).
// When a rate in force at its business time arrives (a back-dated PUT
// /v1/rates), the folder's revaluation pass records the conversion in
// accrual_revaluations (accruals are append-only history) and, for an
// accrual already folded, moves its figures from unpriced to priced in
// the rollups in the same transaction; reads of the tail use the
// revaluation too. The accrual list and payouts still show the accrual's
// own (null) reporting amount.
//
// Amounts in texts (an ineligible trade's reason, payouts' flags) are shown
// at their currency's precision by FormatAt ("137.00"); amounts in JSON,
// audit records and the journal keep their exact canonical text.
//
// # Product lines, VIP levels and campaigns
//
// A trade carries a product line (NewTrade.Product: spot, futures, margin
// or any identifier the operator uses; spot when omitted), stored in
// trades.product. A program's by_product gives one product line rates of
// its own with the fields of the program's kind, validated by the kind's
// rule; other products use the program's own rates. Spot trades hash as
// before products existed, so their replays stay "exists".
//
// Eligibility decides who may earn under a program, and is checked on the
// trader's direct referrer (the affiliate, as in Orderly's prerequisite to
// become one): its VIP level must be one of eligibility.vip_levels, and
// its own traded volume (the volume of its trades in min_volume's
// currency, booked before the trade's batch: no conversion, and a batch
// does not count its own trades) must reach eligibility.min_volume. An
// ineligible trade pays no one — the whole fee goes to the platform —
// and its explanation says why ("ineligible": vip_level, min_volume,
// program_disabled or program_not_valid, with a "reason"), which GET
// /v1/trades/{id} shows. Own volume is folded off the writer into
// user_volume (per user and volume currency) with the other statistics, and
// read with the unfolded tail added (exact whatever the folder's lag), so
// booking a trade writes no row and no index entry more for it; only
// programs with a min_volume read it, memoized per batch.
//
// A user's VIP level is set at signup or by SetVIPLevel; users.vip_level
// holds the current level (a cached field: changes invalidate the user
// cache) and user_vip_levels every level it had. Signup also takes the
// campaign (utm source, medium, campaign; at most 100 bytes each, fixed
// at signup). Statistics group by product and by campaign from the
// affiliate's accruals in the range (joined to their trades and traders),
// not from the rollups: neither is a rollup dimension, so booking a trade
// writes nothing more for them; such a read costs in proportion to the
// affiliate's accruals in the range. A program's max_codes (default: the
// service's MaxCodes, 20) bounds its affiliates' referral codes.
//
// # Program versions and validity
//
// Every PUT of a program (and every change of the default it causes) and
// every DELETE appends the whole configuration to program_versions;
// programs holds the latest. A version claims the trades executed from
// its valid_from on, or every trade when it has none, so a PUT without
// valid_from applies to every trade booked afterwards, as before
// versions existed. A trade uses the newest version that claims its
// executed time, and earns nothing when that version is disabled or its
// valid_to is at or before the trade's time. DELETE is a disable: a new
// version with the same configuration, disabled and valid from the
// DELETE's time, so trades executed before it keep the version they had.
// Which program applies to a user (assignment, group, default) is read
// from the latest versions; only the rates, eligibility and validity come
// from the version claiming the trade. A bounty pays under the version
// claiming its event's time, in the same way.
//
// FX: a pair's rate is the average over sources of each source's latest
// rate at or before the moment asked; when only the opposite pair exists
// its inverse is used (rounded half-even to 18 places, the only rounding
// besides the round-down of shares).
package affiliate
