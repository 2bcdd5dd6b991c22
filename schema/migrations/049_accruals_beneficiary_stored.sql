-- Compact accruals found by beneficiary through their 208 lines. The index
-- accruals_beneficiary (beneficiary, recorded_at, id) had an entry for every
-- accrual: ~330 B of WAL a trade (2.8 accruals), the largest index a trade
-- wrote that no other index could stand in for. A trade's accrual is a line
-- of its commission entry: the k-th share is the entry's posting k + 1, a
-- credit of 208:<currency>:<beneficiary>, and the compact accrual's id is
-- the entry's id with its last byte replaced by k (042). The postings'
-- (account, shard, seq) index already lists those lines in each shard in
-- journal order, so a beneficiary's compact accruals are found from it
-- (ledger.AccountLinesSQL, affiliate.ListAccruals), in recorded order: a
-- shard's recorded_at never goes back along its seq.
--
-- For that order to be the accruals', a trade is now recorded when the
-- journal recorded its entries (the commission entry's recorded_at; it
-- was the clock read when the batch started, a few milliseconds earlier),
-- and its compact accruals store no recorded time: the view takes their
-- trade's. Rows stored with a recorded time (whole rows: bounties,
-- reversals, a trade's beyond 256; compact rows written before this
-- migration) keep an entry in the index, now partial, and are read from
-- it as before.
ALTER TABLE accruals ALTER COLUMN recorded_at DROP NOT NULL;
ALTER TABLE accruals DROP CONSTRAINT IF EXISTS accruals_recorded;
ALTER TABLE accruals ADD CONSTRAINT accruals_recorded CHECK (recorded_at IS NOT NULL OR trader_id IS NULL);

CREATE INDEX IF NOT EXISTS accruals_beneficiary_stored ON accruals (beneficiary, recorded_at, id) WHERE recorded_at IS NOT NULL;
DROP INDEX IF EXISTS accruals_beneficiary;

CREATE OR REPLACE VIEW accruals_whole AS
    SELECT a.id, a.source, a.trade_id, a.event_id,
        CASE WHEN a.trader_id IS NULL THEN t.commission_entry_id ELSE a.entry_id END AS entry_id,
        a.beneficiary,
        CASE WHEN a.trader_id IS NULL THEN t.user_id ELSE a.trader_id END AS trader_id,
        a.level,
        CASE WHEN a.trader_id IS NULL THEN t.program_id ELSE a.program_id END AS program_id,
        CASE WHEN a.trader_id IS NULL THEN t.program_kind ELSE a.kind END AS kind,
        a.rate, a.rates,
        CASE WHEN a.trader_id IS NULL THEN t.basis ELSE a.basis END AS basis,
        a.amount,
        CASE WHEN a.trader_id IS NULL THEN t.fee_currency ELSE a.currency END AS currency,
        CASE WHEN a.trader_id IS NULL THEN t.fx_rate ELSE a.fx_rate END AS fx_rate,
        a.reporting_amount,
        CASE WHEN a.trader_id IS NULL THEN t.reporting_currency ELSE a.reporting_currency END AS reporting_currency,
        CASE WHEN a.trader_id IS NULL THEN t.market ELSE a.market END AS market,
        CASE WHEN a.trader_id IS NULL THEN t.code ELSE a.code END AS code,
        a.reverses, coalesce(a.recorded_at, t.recorded_at) AS recorded_at,
        CASE WHEN a.trader_id IS NULL THEN t.fee_amount ELSE a.trade_fee END AS trade_fee,
        CASE WHEN a.trader_id IS NULL THEN t.fee_reporting ELSE a.fee_reporting END AS fee_reporting,
        CASE WHEN a.trader_id IS NULL THEN t.volume_reporting ELSE a.volume_reporting END AS volume_reporting,
        CASE WHEN a.trader_id IS NULL THEN t.country ELSE a.country END AS country,
        a.shard, a.seq, a.business_at
    FROM accruals a LEFT JOIN trades t ON a.trader_id IS NULL AND t.id = a.trade_id;
