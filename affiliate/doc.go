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
// the ledger's batch engine together with the accrual rows and the referred
// volume rollup — so 101 never holds a processed fee. Accruals snapshot
// trade, beneficiary, level, program, kind, rate, basis, amount, currency,
// the FX rate into the reporting currency in force when recorded and the
// converted amount (NULL when no rate is known). A trade id booked again
// with the same content answers "exists" with the original entry ids; with
// other content it is "rejected" (idempotency_conflict); an invalid trade is
// rejected alone. A trade without a fee is priced from the fee schedule
// (group+market, group, market, default row; maker or taker rate), rounded
// down.
//
// # The write path of trades
//
// PostTrades runs PostTradesTx in ledger.JournalTx (retried as a whole
// on serialization failures); the ingester's group commit calls
// PostTradesTx inside its own transaction. The steps, one function each,
// called in this order by PostTradesTx (their SQL is in trades_store.go):
//
//  1. Read the clock once — every later step uses that time: the checks,
//     volume tiers, FX rates, the statistics buckets and the recorded_at
//     of trade and accrual rows (entries take the ledger's clock) — and
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
//     with (readRates): from step 6 on a pipe holds the transaction, and
//     nothing can be read.
//  6. Post every prepared trade's trade_fee and commission entries through
//     ledger.ApplyTx as one atomic batch (postEntries; Options Fresh,
//     Owner, and Writes = a schema.Pipe): the ledger sends its inserts
//     without waiting for them. If it refuses some items, their trades are
//     rejected and the others posted again (nothing is written until a
//     batch is accepted).
//  7. Behind the ledger's inserts, in the same pipe: one multi-row insert
//     of the trades, one of the accrual rows, the statistics rollups, the
//     first-trade milestones and the referred volume, each touched row
//     once; then close the pipe, waiting for all (writeBooked).
//  8. Fill in the results (report): the posted trades are "created" with their entry
//     ids, and each repeat of a trade in the batch gets its first
//     occurrence's outcome.
//
// A trade rejected at any step writes nothing.
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
// FX: a pair's rate is the average over sources of each source's latest
// rate at or before the moment asked; when only the opposite pair exists
// its inverse is used (rounded half-even to 18 places, the only rounding
// besides the round-down of shares).
package affiliate
