-- Compact trade accruals. A trade's accruals (2.8 a trade in the bench)
-- repeated fifteen columns of their trade on every row: its commission
-- entry, trader, program and kind, basis, fee and its currency, market,
-- the trader's code and country, the FX rate of the fee currency and the
-- fee and volume in the reporting currency (~110 B a row, ~300 B of heap
-- and WAL a trade). A trade's accrual is now stored with only what is its
-- own (id, beneficiary, level, rate, amount and its reporting amount,
-- recorded time, trade id); the trade row carries the rest once.
--
-- accruals stays the stored table, which only the writer names;
-- accruals_whole is the view every reader reads, with the table's columns
-- in its order. A compact row is one without a trader (trader_id IS NULL:
-- a stored row always had one); its trade's columns fill the view. Rows
-- written before this migration, and accruals of bounties and reversals,
-- are stored whole and read as stored.

ALTER TABLE accruals ALTER COLUMN entry_id DROP NOT NULL;
ALTER TABLE accruals ALTER COLUMN trader_id DROP NOT NULL;
ALTER TABLE accruals ALTER COLUMN program_id DROP NOT NULL;
ALTER TABLE accruals ALTER COLUMN kind DROP NOT NULL;
ALTER TABLE accruals ALTER COLUMN currency DROP NOT NULL;
ALTER TABLE accruals ALTER COLUMN reporting_currency DROP NOT NULL;
ALTER TABLE accruals ALTER COLUMN market DROP NOT NULL;
ALTER TABLE accruals ALTER COLUMN code DROP NOT NULL;
ALTER TABLE accruals ALTER COLUMN country DROP NOT NULL;

-- What a trade's accruals share, set when the trade has accruals (NULL
-- otherwise, and on trades booked before this migration).
ALTER TABLE trades ADD COLUMN IF NOT EXISTS code TEXT;
ALTER TABLE trades ADD COLUMN IF NOT EXISTS country TEXT;
ALTER TABLE trades ADD COLUMN IF NOT EXISTS fx_rate NUMERIC(38,18);
ALTER TABLE trades ADD COLUMN IF NOT EXISTS fee_reporting NUMERIC(38,18);
ALTER TABLE trades ADD COLUMN IF NOT EXISTS volume_reporting NUMERIC(38,18);
ALTER TABLE trades ADD COLUMN IF NOT EXISTS reporting_currency TEXT;

-- A query that reads none of the trade's columns does not join the trade
-- (PostgreSQL removes the left join to a unique key).
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
        a.reverses, a.recorded_at,
        CASE WHEN a.trader_id IS NULL THEN t.fee_amount ELSE a.trade_fee END AS trade_fee,
        CASE WHEN a.trader_id IS NULL THEN t.fee_reporting ELSE a.fee_reporting END AS fee_reporting,
        CASE WHEN a.trader_id IS NULL THEN t.volume_reporting ELSE a.volume_reporting END AS volume_reporting,
        CASE WHEN a.trader_id IS NULL THEN t.country ELSE a.country END AS country,
        a.shard, a.seq, a.business_at
    FROM accruals a LEFT JOIN trades t ON a.trader_id IS NULL AND t.id = a.trade_id;

-- A compact row is a trade's, and a whole row has every column a reader
-- of the view needs. (Dropped first so that the step can run again.)
ALTER TABLE accruals DROP CONSTRAINT IF EXISTS accruals_compact;
ALTER TABLE accruals ADD CONSTRAINT accruals_compact CHECK (trader_id IS NOT NULL OR (source = 'trade' AND trade_id IS NOT NULL));
ALTER TABLE accruals DROP CONSTRAINT IF EXISTS accruals_whole_row;
ALTER TABLE accruals ADD CONSTRAINT accruals_whole_row CHECK (trader_id IS NULL OR (entry_id IS NOT NULL AND program_id IS NOT NULL
    AND kind IS NOT NULL AND currency IS NOT NULL AND reporting_currency IS NOT NULL AND market IS NOT NULL AND code IS NOT NULL AND country IS NOT NULL));

-- A trade's compact accruals are found from its trade row by their ids,
-- the id of its commission entry with the last byte replaced by the
-- accrual's index in the trade (affiliate/accruals.go, compactAccrualID):
-- the index of every accrual by trade id (~10 µs of PostgreSQL's time and
-- ~300 B of WAL a trade) keeps only the whole rows.
CREATE INDEX IF NOT EXISTS accruals_trade_whole ON accruals (trade_id) WHERE trader_id IS NOT NULL;
DROP INDEX IF EXISTS accruals_trade;
