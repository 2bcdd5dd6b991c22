-- Applied after every migration run (idempotent). The server's role gets
-- exactly what the code needs, table by table: history is read and
-- appended, never changed; working tables are updated only in the columns
-- the code updates; rows are deleted only where the code deletes them;
-- TRUNCATE nowhere. A table missing here has no privileges at all, and
-- TestAppRoleGrants (schema/grants_test.go) fails until it is listed both
-- here and in the test's table. One transaction: a running server never
-- sees the role without the privileges it had and still needs.
BEGIN;

REVOKE ALL ON ALL TABLES IN SCHEMA public FROM folio_app;

-- Migration bookkeeping: read by the readiness probe.
GRANT SELECT ON schema_migrations, schema_lock TO folio_app;

-- History: the journal, the configuration audit log, what happened to
-- users, trades and commissions. Corrections are new rows (reversals,
-- trade_reversals, accruals with negative amounts), never updates.
GRANT SELECT, INSERT ON entries, postings, audit_log, user_events, bounty_awards, trades, trade_reversals, accruals, scheduler_runs TO folio_app;

-- The journal's lines, stored as postings rows or inline in entries
-- (migration 040): views, read only.
GRANT SELECT ON lines, inline_lines TO folio_app;

-- Accruals as every reader reads them, compact trade accruals filled
-- from their trade (migration 042): a view, read only.
GRANT SELECT ON accruals_whole TO folio_app;

-- Seals and the Merkle log (seal/doc.go): history, appended by sealers.
GRANT SELECT, INSERT ON seals, seal_heads, merkle_hash_runs, merkle_upper_runs TO folio_app;

-- The journal head: every journal writer updates it and locks the table
-- (LOCK TABLE needs the table-level UPDATE privilege); its row is inserted
-- by the migration.
GRANT SELECT, INSERT, UPDATE ON journal_shards TO folio_app;

-- Balances: inserted and updated by the journal's writer; the account and
-- its key columns never change. balances_current (migration 048) is the
-- view every reader reads: read only.
GRANT SELECT, INSERT ON balances TO folio_app;
GRANT UPDATE (debits, credits, pending_debits, pending_credits, balance, last_seq, row_seq) ON balances TO folio_app;
GRANT SELECT ON balances_current TO folio_app;

-- Chart of accounts and currencies: upserted by admins (audit-logged).
GRANT SELECT, INSERT ON currencies, account_codes TO folio_app;
GRANT UPDATE (precision, enabled, updated_at) ON currencies TO folio_app;
GRANT UPDATE (name, type, normal_side, per_holder, balance_rule, updated_at) ON account_codes TO folio_app;

-- API keys: revoked, never deleted (audit-log actors stay resolvable).
GRANT SELECT, INSERT ON api_keys TO folio_app;
GRANT UPDATE (revoked_at) ON api_keys TO folio_app;

-- Users: re-parenting, program, rates and tax id (audit-logged) and the
-- lifecycle times; id, signup data and registration stay as written.
GRANT SELECT, INSERT ON users TO folio_app;
GRANT UPDATE (referrer_id, program_id, rate, kickback_rate, tax_id, kyc_verified_at, first_deposit_at, first_trade_at, rate_follows_code) ON users TO folio_app;
-- A user's VIP level (admin, audit-logged; each change is a row of
-- user_vip_levels).
GRANT UPDATE (vip_level) ON users TO folio_app;
-- History of VIP levels and of program versions: appended, never changed.
GRANT SELECT, INSERT ON user_vip_levels, program_versions TO folio_app;
-- Users' own traded volume: upserted by the statistics folder.
GRANT SELECT, INSERT ON user_volume TO folio_app;
GRANT UPDATE (volume, trades) ON user_volume TO folio_app;

-- Referral codes: their rate is clamped when the owner's rate drops; the
-- owner (or an admin) edits rate, kickback and note and disables them
-- (audit-logged with before and after). Code and owner never change.
GRANT SELECT, INSERT ON referral_codes TO folio_app;
GRANT UPDATE (rate, kickback, note, disabled_at) ON referral_codes TO folio_app;

-- Notes on referees: history, the newest row is the note.
GRANT SELECT, INSERT ON referral_notes TO folio_app;

-- Programs: upserted by admins (audit-logged).
GRANT SELECT, INSERT ON programs TO folio_app;
GRANT UPDATE (kind, is_default, config, updated_at) ON programs TO folio_app;

-- A user's revenue-share table is replaced as a whole: delete, insert.
GRANT SELECT, INSERT, DELETE ON revenue_shares TO folio_app;

-- FX rates are history, but a rate put again for the same source and
-- instant corrects it (audit-logged with before and after).
GRANT SELECT, INSERT ON fx_rates TO folio_app;
GRANT UPDATE (rate) ON fx_rates TO folio_app;

-- Fee schedules and settings: upserted by admins (audit-logged).
GRANT SELECT, INSERT ON fee_schedules, settings TO folio_app;
GRANT UPDATE (maker_rate, taker_rate) ON fee_schedules TO folio_app;
GRANT UPDATE (value) ON settings TO folio_app;

-- Payouts: batches and lines move through their statuses, links are
-- deactivated, the outbox records delivery attempts. Amounts, holders and
-- which accruals a line pays never change.
GRANT SELECT, INSERT ON payout_batches, payout_lines, payout_accruals, payout_outbox TO folio_app;
GRANT UPDATE (status, approved_by, approved_by_person, approved_by_label, approved_at, executed_at, executed_by, executed_by_person, executed_by_label, entry_id, rejected_by, rejected_at) ON payout_batches TO folio_app;
GRANT UPDATE (status, forfeited, decided_by, decided_at, entry_id) ON payout_lines TO folio_app;
GRANT UPDATE (active) ON payout_accruals TO folio_app;
GRANT UPDATE (status, attempts, next_attempt_at, last_error, updated_at) ON payout_outbox TO folio_app;

-- Signup risk: one assessment per signup, history (never changed).
GRANT SELECT, INSERT ON signup_risk TO folio_app;

-- Rollups: their figures are upserted by the statistics folder
-- (affiliate/fold.go), which also moves its watermark per journal shard and
-- the hour up to which the daily rollup holds the hourly rows.
GRANT SELECT, INSERT ON referred_volume_daily, affiliate_stats_hourly, affiliate_stats_day, affiliate_referee_daily TO folio_app;
GRANT UPDATE (volume, trades) ON referred_volume_daily TO folio_app;
GRANT UPDATE (commission, commission_reporting, fees, fees_reporting, volume_reporting, trades, accruals, unpriced_commission, unpriced_fees) ON affiliate_stats_hourly, affiliate_stats_day, affiliate_referee_daily TO folio_app;
GRANT SELECT, INSERT ON stats_fold_marks TO folio_app;
GRANT UPDATE (seq, folded_at) ON stats_fold_marks TO folio_app;
GRANT SELECT, INSERT ON stats_day_marks TO folio_app;
GRANT UPDATE (hour, rolled_at) ON stats_day_marks TO folio_app;

-- Revaluations of unpriced accruals: history, appended once per accrual.
GRANT SELECT, INSERT ON accrual_revaluations TO folio_app;

-- Cache version counters: incremented; their rows come from migrations.
GRANT SELECT ON cache_versions TO folio_app;
GRANT UPDATE (version) ON cache_versions TO folio_app;

-- Accounting periods: state changes are events, closes store snapshots;
-- all append-only (the balance trees and checkpoints of closes too).
GRANT SELECT, INSERT ON period_events, period_snapshots, period_checkpoints, period_balances TO folio_app;
-- The audit log's position counter (audit/doc.go, "Position").
GRANT SELECT ON audit_head TO folio_app;
GRANT UPDATE (pos) ON audit_head TO folio_app;

-- Webhooks (events): subscriptions are disabled, never deleted; the feed
-- cursor moves; the delivery outbox moves through its statuses; the
-- attempt log is history.
GRANT SELECT, INSERT ON webhook_subscriptions, webhook_cursors, webhook_deliveries, webhook_attempts TO folio_app;
GRANT UPDATE (disabled_by, disabled_at) ON webhook_subscriptions TO folio_app;
GRANT UPDATE (cursor, updated_at) ON webhook_cursors TO folio_app;
GRANT UPDATE (status, attempts, next_attempt_at, claimed_by, updated_at) ON webhook_deliveries TO folio_app;
-- Dead letters of the message-bus consumers: history, appended once.
GRANT SELECT, INSERT ON ingest_dead_letters TO folio_app;

COMMIT;
