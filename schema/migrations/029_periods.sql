-- Accounting periods and month-end close (package periods). Both tables are
-- append-only: a period's state is its last event, and a close stores the
-- period's reconciliation once, as exact bytes, with the journal cut it was
-- computed at. Nothing is ever updated or deleted (schema/grants.sql).

-- One row per state change of a period (YYYY-MM): close_requested, closed,
-- reopen_requested, reopened. n numbers a period's events from 1, so two
-- concurrent changes of one period cannot both commit. actor is the key id
-- (or "bootstrap"), person the person it counts as for four-eyes, label the
-- key's person label.
CREATE TABLE IF NOT EXISTS period_events (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    period TEXT NOT NULL,
    n BIGINT NOT NULL,
    action TEXT NOT NULL,
    at TIMESTAMPTZ NOT NULL,
    actor TEXT NOT NULL,
    person TEXT NOT NULL,
    label TEXT NOT NULL DEFAULT '',
    reason TEXT NOT NULL DEFAULT '',
    UNIQUE (period, n)
);

-- The reconciliation stored when a close is confirmed (event_id is that
-- "closed" event): the report's JSON bytes exactly as served by GET
-- /v1/periods/{period}/reconciliation, the per-shard journal cut it was
-- computed at (cut[i] = shard i's last seq included) and the cut of the
-- previous closed period it started after (NULL when none).
CREATE TABLE IF NOT EXISTS period_snapshots (
    event_id UUID PRIMARY KEY,
    period TEXT NOT NULL,
    cut BIGINT[] NOT NULL,
    late_cut BIGINT[],
    reconciliation BYTEA NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);

CREATE INDEX IF NOT EXISTS period_snapshots_period ON period_snapshots (period, created_at);
