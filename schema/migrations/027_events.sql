-- Events out (events/doc.go): the feed's position in the configuration
-- audit log, and webhook subscriptions with their cursor, delivery outbox
-- and append-only attempt log.

-- The audit log's position: gapless and commit-ordered. audit.Write takes
-- the next position from the audit_head row (UPDATE … RETURNING), whose row
-- lock makes concurrent appenders wait for each other's commit, so a
-- reader's snapshot holds every record up to its largest position and the
-- event feed can resume from a position without missing a late commit.
-- Existing records are numbered in (at, id) order.
ALTER TABLE audit_log ADD COLUMN IF NOT EXISTS pos BIGINT;

UPDATE audit_log SET pos = r.n
FROM (SELECT id, row_number() OVER (ORDER BY at, id) AS n FROM audit_log) AS r
WHERE audit_log.id = r.id AND audit_log.pos IS NULL;

ALTER TABLE audit_log ALTER COLUMN pos SET NOT NULL;

CREATE UNIQUE INDEX IF NOT EXISTS audit_log_pos ON audit_log (pos);

-- One row: the audit log's last position.
CREATE TABLE IF NOT EXISTS audit_head (
    id  BIGINT PRIMARY KEY CHECK (id = 1),
    pos BIGINT NOT NULL
);

INSERT INTO audit_head (id, pos) SELECT 1, coalesce(max(pos), 0) FROM audit_log
ON CONFLICT (id) DO NOTHING;

-- A webhook subscription: where to POST which event types, signed with its
-- secret. Disabled, never deleted: its deliveries stay readable.
CREATE TABLE IF NOT EXISTS webhook_subscriptions (
    id          UUID PRIMARY KEY,
    url         TEXT NOT NULL,
    types       JSONB NOT NULL DEFAULT '[]',
    secret      TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    disabled_by TEXT,
    disabled_at TIMESTAMPTZ
);

-- Each subscription's position in the event feed: the cursor past the last
-- event copied into its outbox. A working position, not history (the
-- deliveries are): moved forward by compare-and-set in the transaction
-- that inserts the deliveries.
CREATE TABLE IF NOT EXISTS webhook_cursors (
    subscription_id UUID PRIMARY KEY,
    cursor          TEXT NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL
);

-- The outbox: one row per event to deliver to a subscription (a manual
-- redelivery is a new row naming the one it repeats). Its status, attempt
-- count and due time move; a server claims a due row by pushing its due
-- time past a lease.
CREATE TABLE IF NOT EXISTS webhook_deliveries (
    id              UUID PRIMARY KEY,
    subscription_id UUID NOT NULL,
    event_id        TEXT NOT NULL,
    event_type      TEXT NOT NULL,
    body            BYTEA NOT NULL,
    redelivery_of   UUID,
    created_at      TIMESTAMPTZ NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL,
    claimed_by      TEXT NOT NULL DEFAULT '',
    updated_at      TIMESTAMPTZ NOT NULL
);

CREATE INDEX IF NOT EXISTS webhook_deliveries_subscription ON webhook_deliveries (subscription_id, created_at, id);

CREATE INDEX IF NOT EXISTS webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);

-- The attempt log: every HTTP attempt of a delivery, appended, never changed.
CREATE TABLE IF NOT EXISTS webhook_attempts (
    id          UUID PRIMARY KEY,
    delivery_id UUID NOT NULL,
    n           BIGINT NOT NULL,
    at          TIMESTAMPTZ NOT NULL,
    server      TEXT NOT NULL,
    status_code BIGINT NOT NULL,
    ok          BOOLEAN NOT NULL,
    detail      TEXT NOT NULL DEFAULT ''
);

CREATE INDEX IF NOT EXISTS webhook_attempts_delivery ON webhook_attempts (delivery_id, n);
