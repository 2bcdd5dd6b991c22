-- Product lines, VIP levels and campaigns (issue 15 items 3 and 8).

-- The product line of a trade (operator-defined identifier: spot, futures,
-- margin, ...). Existing trades were spot trades. No index: statistics
-- grouped by product join a beneficiary's accruals to their trades by id.
ALTER TABLE trades ADD COLUMN IF NOT EXISTS product TEXT NOT NULL DEFAULT 'spot';

-- A user's VIP level (current value; every change is a row of
-- user_vip_levels) and the campaign it signed up through (fixed at signup).
ALTER TABLE users ADD COLUMN IF NOT EXISTS vip_level BIGINT NOT NULL DEFAULT 0;

ALTER TABLE users ADD COLUMN IF NOT EXISTS utm_source TEXT NOT NULL DEFAULT '';

ALTER TABLE users ADD COLUMN IF NOT EXISTS utm_medium TEXT NOT NULL DEFAULT '';

ALTER TABLE users ADD COLUMN IF NOT EXISTS utm_campaign TEXT NOT NULL DEFAULT '';

-- Append-only history of VIP levels: the signup's level and every change.
-- n numbers a user's changes from 1.
CREATE TABLE IF NOT EXISTS user_vip_levels (
    user_id     TEXT NOT NULL,
    n           BIGINT NOT NULL,
    vip_level   BIGINT NOT NULL,
    actor       TEXT NOT NULL,
    recorded_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (user_id, n)
);

INSERT INTO user_vip_levels (user_id, n, vip_level, actor, recorded_at)
SELECT id, 1, vip_level, 'migration', created_at FROM users
WHERE NOT EXISTS (SELECT 1 FROM user_vip_levels v WHERE v.user_id = users.id);

-- Append-only history of programs: every PUT and DELETE adds a version
-- with the whole configuration (validity window and disabled flag
-- included); programs holds the latest one. A trade uses the latest
-- version whose window contains its executed time.
CREATE TABLE IF NOT EXISTS program_versions (
    program_id  TEXT NOT NULL,
    version     BIGINT NOT NULL,
    config      JSONB NOT NULL,
    actor       TEXT NOT NULL,
    recorded_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (program_id, version)
);

INSERT INTO program_versions (program_id, version, config, actor, recorded_at)
SELECT id, 1, config, 'migration', updated_at FROM programs
WHERE NOT EXISTS (SELECT 1 FROM program_versions v WHERE v.program_id = programs.id);

-- A user's own traded volume per volume currency (eligibility.min_volume),
-- folded off the journal writer like the referred volume (affiliate/fold.go):
-- booking a trade writes nothing more. Reads add the unfolded tail.
CREATE TABLE IF NOT EXISTS user_volume (
    user_id  TEXT NOT NULL,
    currency TEXT NOT NULL,
    volume   NUMERIC(38,18) NOT NULL,
    trades   BIGINT NOT NULL,
    PRIMARY KEY (user_id, currency)
);

-- The trades folded so far (at or below their shard's watermark); the
-- others are the tail, which the folder adds when it reaches them.
INSERT INTO user_volume (user_id, currency, volume, trades)
SELECT t.user_id, t.volume_currency, sum(t.volume_amount), count(*) FROM trades t
WHERE t.volume_amount IS NOT NULL AND t.seq <= coalesce((SELECT m.seq FROM stats_fold_marks m WHERE m.shard = t.shard), 0)
GROUP BY 1, 2
ON CONFLICT (user_id, currency) DO NOTHING;
