-- Period checkpoints (package periods): at a close's confirmation, the
-- Merkle tree of every account's closing balance, its root in a signed
-- period checkpoint, and the leaves needed to prove any of them again.
-- Both tables are append-only (schema/grants.sql): a new close of a
-- reopened period writes new rows under its new "closed" event.

-- One row per confirmed close (event_id is the "closed" event of
-- period_events): the balance tree's size and root, the seal that sealed
-- the journal at the close (NULL when the server had no sealing service)
-- the signed period checkpoint note (text, C2SP signed-note), as served, and
-- that seal's journal checkpoint ('' for both without a sealing service).
CREATE TABLE IF NOT EXISTS period_checkpoints (
    event_id UUID PRIMARY KEY,
    period TEXT NOT NULL,
    size BIGINT NOT NULL,
    root BYTEA NOT NULL,
    seal BIGINT,
    checkpoint TEXT NOT NULL,
    journal_checkpoint TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);

CREATE INDEX IF NOT EXISTS period_checkpoints_period ON period_checkpoints (period, created_at);

-- The balance tree's leaves in tree order (idx from 0): account key,
-- currency and the amount exactly as hashed (TEXT, not NUMERIC, so that its
-- digits come back as they were hashed).
CREATE TABLE IF NOT EXISTS period_balances (
    event_id UUID NOT NULL,
    idx BIGINT NOT NULL,
    account TEXT NOT NULL,
    currency TEXT NOT NULL,
    amount TEXT NOT NULL,
    PRIMARY KEY (event_id, idx),
    UNIQUE (event_id, account, currency)
);
