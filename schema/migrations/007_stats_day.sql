-- The daily statistics rollup gets the hourly rollup's key (affiliate × day
-- × level × market × code × currency × program × country) instead of one row
-- per dimension value: one row per hourly row's day rather than six per
-- accrual, which was the largest single cost of booking a trade. A 30-day
-- dashboard grouped by any dimension still reads a few rows per day.
CREATE TABLE IF NOT EXISTS affiliate_stats_day (
    affiliate_id         TEXT NOT NULL,
    day                  TIMESTAMPTZ NOT NULL,
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
    PRIMARY KEY (affiliate_id, day, level, market, code, currency, program_id, country)
);

-- Existing statistics carry over: the hourly rows summed per UTC day.
INSERT INTO affiliate_stats_day (affiliate_id, day, level, market, code, currency, program_id, country,
    commission, commission_reporting, fees, fees_reporting, volume_reporting, trades, accruals)
SELECT affiliate_id, date_trunc('day', hour AT TIME ZONE 'UTC') AT TIME ZONE 'UTC', level, market, code, currency, program_id, country,
    sum(commission), sum(commission_reporting), sum(fees), sum(fees_reporting), sum(volume_reporting), sum(trades), sum(accruals)
FROM affiliate_stats_hourly
GROUP BY 1, 2, 3, 4, 5, 6, 7, 8
ON CONFLICT (affiliate_id, day, level, market, code, currency, program_id, country) DO NOTHING;

DROP TABLE IF EXISTS affiliate_stats_daily;
