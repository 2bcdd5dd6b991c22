-- Statistics folded off the journal writer's transaction (affiliate/fold.go):
-- trades, and the accruals without a trade row, carry the journal position
-- of the entry that booked them (shard, seq); a background folder folds
-- them into the rollups past a watermark per journal shard, in the same
-- transaction as the rollup upserts. Existing rows get position (0, 0):
-- they are folded by this migration, which rebuilds the rollups by
-- business time.

-- A trade's accruals take the position and business time of their trade
-- row (trades.shard, seq, executed_at); only the accruals without a trade
-- row of their own — bounties and reversals — carry them (NULL otherwise),
-- so booking a trade writes no column and no index entry more per accrual.
ALTER TABLE accruals ADD COLUMN IF NOT EXISTS shard BIGINT;

ALTER TABLE accruals ADD COLUMN IF NOT EXISTS seq BIGINT;

-- Business time of a bounty (the event's time) or a reversal (the reversed
-- trade's executed_at).
ALTER TABLE accruals ADD COLUMN IF NOT EXISTS business_at TIMESTAMPTZ;

ALTER TABLE trades ADD COLUMN IF NOT EXISTS shard BIGINT NOT NULL DEFAULT 0;

ALTER TABLE trades ADD COLUMN IF NOT EXISTS seq BIGINT NOT NULL DEFAULT 0;

ALTER TABLE trades ALTER COLUMN shard DROP DEFAULT;

ALTER TABLE trades ALTER COLUMN seq DROP DEFAULT;

UPDATE accruals SET shard = 0, seq = 0 WHERE source <> 'trade' AND seq IS NULL;

UPDATE accruals SET business_at = t.executed_at FROM trades t
WHERE accruals.business_at IS NULL AND accruals.source = 'reversal' AND t.id = accruals.trade_id;

UPDATE accruals SET business_at = recorded_at WHERE business_at IS NULL AND source <> 'trade';

-- What the folder and the unfolded tail of statistics reads scan: one
-- shard's rows past a seq, appended at the index's right edge. Trades
-- carry the position of their accruals; the partial index holds only the
-- accruals without a trade row.
CREATE INDEX IF NOT EXISTS trades_position ON trades (shard, seq);

CREATE INDEX IF NOT EXISTS accruals_position ON accruals (shard, seq) WHERE source <> 'trade';

-- No read uses it (a trader's trades are never listed by time); one index
-- entry less per trade.
DROP INDEX IF EXISTS trades_user;

-- Accruals without an FX rate (reporting_amount null): the folder's
-- revaluation pass finds them here; rare, so the partial index is small.
CREATE INDEX IF NOT EXISTS accruals_unpriced ON accruals (currency, id) WHERE reporting_amount IS NULL;

-- The last folded seq of each journal shard (a missing row is 0).
CREATE TABLE IF NOT EXISTS stats_fold_marks (
    shard     BIGINT PRIMARY KEY,
    seq       BIGINT NOT NULL,
    folded_at TIMESTAMPTZ NOT NULL
);

-- Revaluations of unpriced accruals once a rate in force at their business
-- time exists (accruals are append-only history; statistics read this).
CREATE TABLE IF NOT EXISTS accrual_revaluations (
    accrual_id       UUID PRIMARY KEY,
    fx_rate          NUMERIC(38,18) NOT NULL,
    reporting_amount NUMERIC(38,18) NOT NULL,
    fee_reporting    NUMERIC(38,18),
    revalued_at      TIMESTAMPTZ NOT NULL
);

-- Unpriced figures in the accrual currency (rows whose reporting amount is
-- null count here, and 0 in the *_reporting columns).
ALTER TABLE affiliate_stats_hourly ADD COLUMN IF NOT EXISTS unpriced_commission NUMERIC(38,18) NOT NULL DEFAULT 0;

ALTER TABLE affiliate_stats_hourly ADD COLUMN IF NOT EXISTS unpriced_fees NUMERIC(38,18) NOT NULL DEFAULT 0;

ALTER TABLE affiliate_stats_day ADD COLUMN IF NOT EXISTS unpriced_commission NUMERIC(38,18) NOT NULL DEFAULT 0;

ALTER TABLE affiliate_stats_day ADD COLUMN IF NOT EXISTS unpriced_fees NUMERIC(38,18) NOT NULL DEFAULT 0;

ALTER TABLE affiliate_referee_daily ADD COLUMN IF NOT EXISTS unpriced_commission NUMERIC(38,18) NOT NULL DEFAULT 0;

ALTER TABLE affiliate_referee_daily ADD COLUMN IF NOT EXISTS unpriced_fees NUMERIC(38,18) NOT NULL DEFAULT 0;

-- The rollups rebuilt by business time from the accruals (they were
-- bucketed by recorded time). Reporting amounts stay those converted when
-- each accrual was recorded.
DELETE FROM affiliate_stats_hourly;

DELETE FROM affiliate_stats_day;

DELETE FROM affiliate_referee_daily;

INSERT INTO affiliate_stats_hourly (affiliate_id, hour, level, market, code, currency, program_id, country,
    commission, commission_reporting, fees, fees_reporting, volume_reporting, trades, accruals, unpriced_commission, unpriced_fees)
SELECT a.beneficiary, date_trunc('hour', coalesce(a.business_at, t.executed_at, a.recorded_at) AT TIME ZONE 'UTC') AT TIME ZONE 'UTC',
    a.level, a.market, a.code, a.currency, a.program_id, a.country,
    sum(a.amount), coalesce(sum(a.reporting_amount), 0), coalesce(sum(a.trade_fee), 0), coalesce(sum(a.fee_reporting), 0), coalesce(sum(a.volume_reporting), 0),
    sum(CASE a.source WHEN 'trade' THEN 1 WHEN 'reversal' THEN -1 ELSE 0 END), sum(CASE a.source WHEN 'reversal' THEN -1 ELSE 1 END),
    coalesce(sum(a.amount) FILTER (WHERE a.reporting_amount IS NULL), 0), coalesce(sum(a.trade_fee) FILTER (WHERE a.reporting_amount IS NULL), 0)
FROM accruals a LEFT JOIN trades t ON a.source = 'trade' AND t.id = a.trade_id
GROUP BY 1, 2, 3, 4, 5, 6, 7, 8;

INSERT INTO affiliate_stats_day (affiliate_id, day, level, market, code, currency, program_id, country,
    commission, commission_reporting, fees, fees_reporting, volume_reporting, trades, accruals, unpriced_commission, unpriced_fees)
SELECT affiliate_id, date_trunc('day', hour AT TIME ZONE 'UTC') AT TIME ZONE 'UTC', level, market, code, currency, program_id, country,
    sum(commission), sum(commission_reporting), sum(fees), sum(fees_reporting), sum(volume_reporting), sum(trades), sum(accruals),
    sum(unpriced_commission), sum(unpriced_fees)
FROM affiliate_stats_hourly
GROUP BY 1, 2, 3, 4, 5, 6, 7, 8;

INSERT INTO affiliate_referee_daily (affiliate_id, referee_id, day, currency,
    commission, commission_reporting, fees, fees_reporting, volume_reporting, trades, accruals, unpriced_commission, unpriced_fees)
SELECT a.beneficiary, a.trader_id, date_trunc('day', coalesce(a.business_at, t.executed_at, a.recorded_at) AT TIME ZONE 'UTC') AT TIME ZONE 'UTC', a.currency,
    sum(a.amount), coalesce(sum(a.reporting_amount), 0), coalesce(sum(a.trade_fee), 0), coalesce(sum(a.fee_reporting), 0), coalesce(sum(a.volume_reporting), 0),
    sum(CASE a.source WHEN 'trade' THEN 1 WHEN 'reversal' THEN -1 ELSE 0 END), sum(CASE a.source WHEN 'reversal' THEN -1 ELSE 1 END),
    coalesce(sum(a.amount) FILTER (WHERE a.reporting_amount IS NULL), 0), coalesce(sum(a.trade_fee) FILTER (WHERE a.reporting_amount IS NULL), 0)
FROM accruals a LEFT JOIN trades t ON a.source = 'trade' AND t.id = a.trade_id
GROUP BY 1, 2, 3, 4;
