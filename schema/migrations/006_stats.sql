-- Statistics rollups (docs/CONTRACT.md §4), maintained in the same transaction as the
-- accruals so dashboards never scan accrual rows.

ALTER TABLE accruals ADD COLUMN IF NOT EXISTS trade_fee NUMERIC(38,18);

ALTER TABLE accruals ADD COLUMN IF NOT EXISTS fee_reporting NUMERIC(38,18);

ALTER TABLE accruals ADD COLUMN IF NOT EXISTS volume_reporting NUMERIC(38,18);

ALTER TABLE accruals ADD COLUMN IF NOT EXISTS country TEXT NOT NULL DEFAULT '';

-- Per affiliate × hour × level × market × code × currency (× program ×
-- referee country), by accrual recorded time.
CREATE TABLE IF NOT EXISTS affiliate_stats_hourly (
    affiliate_id         TEXT NOT NULL,
    hour                 TIMESTAMPTZ NOT NULL,
    level                BIGINT NOT NULL,
    market               TEXT NOT NULL,
    code                 TEXT NOT NULL,
    currency             TEXT NOT NULL,
    program_id           TEXT NOT NULL,
    country              TEXT NOT NULL,
    commission           NUMERIC(38,18) NOT NULL,
    commission_reporting NUMERIC(38,18) NOT NULL,
    fees                 NUMERIC(38,18) NOT NULL,
    fees_reporting       NUMERIC(38,18) NOT NULL,
    volume_reporting     NUMERIC(38,18) NOT NULL,
    trades               BIGINT NOT NULL,
    accruals             BIGINT NOT NULL,
    PRIMARY KEY (affiliate_id, hour, level, market, code, currency, program_id, country)
);

-- Per affiliate × referee × day × currency, for grouping by referee.
CREATE TABLE IF NOT EXISTS affiliate_referee_daily (
    affiliate_id         TEXT NOT NULL,
    referee_id           TEXT NOT NULL,
    day                  TIMESTAMPTZ NOT NULL,
    currency             TEXT NOT NULL,
    commission           NUMERIC(38,18) NOT NULL,
    commission_reporting NUMERIC(38,18) NOT NULL,
    fees                 NUMERIC(38,18) NOT NULL,
    fees_reporting       NUMERIC(38,18) NOT NULL,
    volume_reporting     NUMERIC(38,18) NOT NULL,
    trades               BIGINT NOT NULL,
    accruals             BIGINT NOT NULL,
    PRIMARY KEY (affiliate_id, referee_id, day, currency)
);

-- Per affiliate × day × one dimension (total, level, market, code, country,
-- program) × currency: what day/week/month queries read, so a 30-day
-- dashboard reads a few rows per day however many accruals there are.
CREATE TABLE IF NOT EXISTS affiliate_stats_daily (
    affiliate_id         TEXT NOT NULL,
    day                  TIMESTAMPTZ NOT NULL,
    dim                  TEXT NOT NULL,
    value                TEXT NOT NULL,
    currency             TEXT NOT NULL,
    commission           NUMERIC(38,18) NOT NULL,
    commission_reporting NUMERIC(38,18) NOT NULL,
    fees                 NUMERIC(38,18) NOT NULL,
    fees_reporting       NUMERIC(38,18) NOT NULL,
    volume_reporting     NUMERIC(38,18) NOT NULL,
    trades               BIGINT NOT NULL,
    accruals             BIGINT NOT NULL,
    PRIMARY KEY (affiliate_id, dim, day, value, currency)
);
