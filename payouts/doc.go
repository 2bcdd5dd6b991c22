// Package payouts pays affiliates what the commission engine (package
// affiliate) accrued to them (docs/CONTRACT.md §3): it groups payable accruals into
// batches, holds suspicious lines, has a second person approve, executes
// each batch exactly once as one journal entry and hands it to the
// exchange's transfer API through an outbox.
//
// A Service is wired by plain assignment: NewService(a) takes the database,
// the ledger and the clock of the affiliate service a; Webhook and
// HTTPClient configure the outbox. It owns the tables payout_batches,
// payout_lines, payout_accruals, payout_outbox and signup_risk and the
// fraud_rules and signup_hash_key settings, reads the journal through ledger functions (the 208 balance of
// a line) and the engine's users, programs and trades through affiliate
// functions (affiliate/for_payouts.go). Its entries are the engine's kinds
// (affiliate.EntryPayout, affiliate.EntryForfeit), written with
// ledger.Options.Owner = affiliate.Owner, so clients cannot write, reverse,
// post or void them through the journal.
//
// # Batches
//
// BuildBatch takes every payable accrual recorded up to the cut-off: not in
// an active batch (payout_accruals.active; the database allows one), older
// than its program's hold period (affiliate.PayoutPolicy). One Line per
// (affiliate, currency) sums them; a line whose sum is not positive, is
// below the program minimum, or whose affiliate's 208 balance is not
// positive is left out and its accruals stay payable. The batch id is a
// hash of the cut-off and the accrual ids, so building the same batch
// again answers the existing one (after a rejection the same accruals form
// a new batch, its id suffixed with a generation). RunSchedules builds the
// batches of programs on a daily, weekly or realtime schedule, each (program,
// period) claimed once in scheduler_runs across servers.
//
// # Real-time payouts
//
// A program whose payout policy has schedule "realtime" is built by the
// scheduler once per affiliate.RealtimeEvery (10 s; folio serve ticks at
// that interval), so small lines are paid within seconds of accruing,
// not as each accrual is written: a trade's transaction stays short and
// the fraud rules see a line's sum, as for any batch. With
// auto_approve_below (per currency; realtime only) the run splits the
// lines after the fraud rules ran: those no rule flagged and strictly
// below the limit of their currency form a batch built by AutoBuilder,
// which payAuto approves as AutoApprover (the policy; audit
// "payout.auto_approve" with the limits) and executes at once. The other
// lines (at or above the limit, in a currency without a limit, or flagged)
// form the usual draft batch built by "scheduler", which waits for an
// admin: four-eyes is unchanged for them, and flagged lines stay held
// until cleared. payAuto checks the policies again as they stand when it
// approves; if a line no longer qualifies (the policy changed in between)
// the auto batch is left a draft for an admin (audit "payout.auto_hold").
// An auto batch a crash left unexecuted is finished at the next tick.
//
// # Destinations
//
// A policy's destination "201" (main balance) or "202" (trading balance)
// pays inside the exchange's books: the line's Cr goes to that account of
// the affiliate in an entry posted at once (idempotency key
// "payout:<batch>:direct"), with no outbox message even when a transfer
// API is configured: the journal is the exchange's balance. Without a
// destination a line credits 201 and, with a Webhook, goes through the
// outbox in the pending entry "payout:<batch>". A line whose accruals come
// from programs with different destinations takes the default; the
// destination is recorded on the line when the batch is built.
//
// # Fraud checks
//
// Each line is checked against FraudRules (stored as the fraud_rules
// setting, DefaultFraudRules until an operator puts others): self-referral,
// referral farms, wash trading, missing KYC when the program requires it,
// an amount spike over the affiliate's paid history, and a missing tax id
// once the year's payouts pass the tax threshold. The rules themselves
// (checkFraud) are pure computation over lineFacts; batches.go gathers the
// facts. A flagged line is held, with its flags on record, until an admin
// clears it (ClearLines) or rejects it (RejectLines: its accruals return to
// the pool, or with forfeit its amount moves from 208 to 606 in a forfeit
// entry). TaxTotals reports each affiliate's payouts of a calendar year in
// the reporting currency.
//
// Texts people read — flag details, the auto-hold reason — show amounts at
// their currency's precision (formatAt, affiliate.FormatAt: "137.00" for
// USD, rounded half-even where a figure such as an average has more
// places); the stored and JSON amounts stay exact (ledger.Format).
//
// # Signup risk
//
// NewService installs CheckSignup as the affiliate service's SignupCheck:
// every new user with signals (POST /v1/users ip, device, user_agent; the
// older signup_ip and device_id stand in for a missing ip or device) is
// scored in the transaction that creates it. Flags: same IP or device as
// the referrer (same_ip_as_referrer, same_device_as_referrer) or as a user
// of its upline up to 15 levels (same_ip_as_upline, same_device_as_upline),
// and signup_farm: this signup makes farm_referees signups under one
// referrer from one IP or device within farm_window (the fraud rules'
// farm thresholds, shared with the batch-time farm rule). The score is the
// sum of the flags' weights (device of the referrer 60, its IP 40, farm
// 50, device of the upline 40, its IP 30), at most 100; the user agent is
// stored but not scored: alone it says little. The fraud rules'
// signup_risk decides: refuse (403 forbidden naming the flags; the
// transaction writes nothing, not even the user), flag (the default: the
// assessment is recorded), or hold (recorded, and every payout line
// paying an accrual of the user's trades or events is held with flag
// signup_risk until an admin clears it; the action is fixed when the user
// signs up). One append-only signup_risk row per assessed user, read by
// GET /v1/users/{id} (not for affiliate keys) and by SignupRisks for lists.
//
// The signals are personal data: only HMAC-SHA256 hashes keyed by a random
// 32-byte key (the settings row signup_hash_key, created on first use so
// every server hashes alike) are stored, enough to test equality, never
// the values. The key sits in the same database: someone with the database
// and the key can still test guesses (the IPv4 space is small), so the
// hashes are pseudonyms, not anonymity; dropping the key row makes every
// stored hash useless for new comparisons. IPs are canonicalized first
// (netip: IPv4-mapped IPv6 is the IPv4 address). A signup registered again
// with the same data answers the existing user and is not re-assessed.
//
// # Four eyes, by person
//
// Every decision records its Actor: the audit actor (a key id, "bootstrap",
// "scheduler"), the person it counts as and that person's label. Approval
// compares people, not keys: ApproveBatchAs refuses (forbidden) an approver
// that is the builder's key or any key of the builder's person.
//
// # Execution exactly once
//
// ExecuteBatchAs pays an approved batch in one payout entry (Dr 208:C:A /
// Cr 201:C:A per ok line, batch_id = the batch, idempotency key
// "payout:<batch id>") in the same transaction as the status change; lines
// still held are released and their accruals return to the pool.
// Concurrent executions serialize on the batch row: one executes, every
// other call answers the executed batch with replayed = true and writes
// nothing.
//
// # Outbox
//
// With a Webhook, the payout entry is created pending and the batch queued
// in payout_outbox in the same transaction. DeliverOutbox (RunOutbox in a
// loop) POSTs each due message outside any transaction, header
// Idempotency-Key: the batch id, and records the outcome in one: a 2xx
// posts the entry, a 4xx voids it and returns the lines' accruals to the
// pool, anything else is retried with backoff (1 s doubling, capped at
// 10 min). This package, not affiliate, holds the HTTP client. A message
// to an endpoint with a secret in WebhookSecrets is signed (headers
// Folio-Timestamp and Folio-Signature: v1=hex(HMAC-SHA256(secret,
// timestamp + "." + body))); package signing documents the verification,
// in Go and with openssl. ToPeatio maps a message onto an openware/Peatio
// management API transfer (peatio.go documents the JSON mapping) for an
// exchange that runs that API.
package payouts
