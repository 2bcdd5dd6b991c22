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

-- The referrer's own traded volume (eligibility.min_volume) is read per
-- trader; trades_user was dropped by 025 when no read used it.
CREATE INDEX IF NOT EXISTS trades_user_volume ON trades (user_id, volume_currency);
