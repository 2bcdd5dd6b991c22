-- The accruals' rates column without its default. Created with the table
-- (004) as JSONB NOT NULL DEFAULT '{}' for per-level rate snapshots that
-- nothing writes or reads: every row stored '{}', 5 B (~14 B of WAL a
-- trade, 2.8 rows). New rows store NULL; the view reads '{}' for it, as
-- every row read before. Written by no statement, so nothing else changes.
ALTER TABLE accruals ALTER COLUMN rates DROP DEFAULT;
ALTER TABLE accruals ALTER COLUMN rates DROP NOT NULL;

CREATE OR REPLACE VIEW accruals_whole AS
    SELECT a.id, a.source, a.trade_id, a.event_id,
        CASE WHEN a.trader_id IS NULL THEN t.commission_entry_id ELSE a.entry_id END AS entry_id,
        a.beneficiary,
        CASE WHEN a.trader_id IS NULL THEN t.user_id ELSE a.trader_id END AS trader_id,
        a.level,
        CASE WHEN a.trader_id IS NULL THEN t.program_id ELSE a.program_id END AS program_id,
        CASE WHEN a.trader_id IS NULL THEN t.program_kind ELSE a.kind END AS kind,
        a.rate, coalesce(a.rates, '{}'::jsonb) AS rates,
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
