-- The daily statistics rollup is folded from closed hours instead of from
-- every accrual (affiliate/doc.go, "Statistics: folded off the writer"):
-- affiliate_stats_day holds, per day, the hourly rows of the hours before
-- stats_day_marks.hour, and the folder moves that mark once an hour has
-- closed, summing its hourly rows into their day in one upsert per row.
-- An accrual whose hour is before the mark (a late trade, a reversal, a
-- revaluation) is folded into both. Until then the day table cost a second
-- upsert per accrual, as many rows as the hourly one.
--
-- Rolling an hour reads that hour's rows across affiliates: an index on
-- hour, whose entries (a new hourly row's) append at its right edge.
CREATE INDEX IF NOT EXISTS affiliate_stats_hourly_hour ON affiliate_stats_hourly (hour);

-- One row; none means no hour was rolled (the epoch): the daily rollup is
-- empty and every read takes the hourly rows.
CREATE TABLE IF NOT EXISTS stats_day_marks (
    id        BOOLEAN PRIMARY KEY DEFAULT true CHECK (id),
    hour      TIMESTAMPTZ NOT NULL,
    rolled_at TIMESTAMPTZ NOT NULL
);

-- A database migrated with statistics had every hour folded into its day:
-- its mark is past the last hourly row.
INSERT INTO stats_day_marks (id, hour, rolled_at)
SELECT true, max(hour) + interval '1 hour', now() FROM affiliate_stats_hourly HAVING count(*) > 0
ON CONFLICT (id) DO NOTHING;
