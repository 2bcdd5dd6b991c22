-- Payouts (docs/CONTRACT.md §3): batches built from accruals, lines per (affiliate,
-- currency), review and exactly-once execution.

CREATE TABLE IF NOT EXISTS payout_batches (
    id          TEXT PRIMARY KEY,
    status      TEXT NOT NULL CHECK (status IN ('draft', 'approved', 'executed', 'rejected')),
    created_by  TEXT NOT NULL,
    cutoff      TIMESTAMPTZ NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    approved_by TEXT,
    approved_at TIMESTAMPTZ,
    executed_at TIMESTAMPTZ,
    entry_id    UUID,
    rejected_by TEXT,
    rejected_at TIMESTAMPTZ
);

CREATE INDEX IF NOT EXISTS payout_batches_created ON payout_batches (created_at, id);

CREATE TABLE IF NOT EXISTS payout_lines (
    id          UUID PRIMARY KEY,
    batch_id    TEXT NOT NULL,
    holder      TEXT NOT NULL,
    currency    TEXT NOT NULL,
    amount      NUMERIC(38,18) NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('ok', 'held', 'rejected', 'released', 'paid')),
    flags       JSONB NOT NULL DEFAULT '[]',
    forfeited   BOOLEAN NOT NULL DEFAULT false,
    decided_by  TEXT,
    decided_at  TIMESTAMPTZ,
    entry_id    UUID
);

CREATE INDEX IF NOT EXISTS payout_lines_batch ON payout_lines (batch_id, holder, currency);

CREATE INDEX IF NOT EXISTS payout_lines_holder ON payout_lines (holder, currency, status);

-- Which accruals a line pays. An accrual is in at most one active link:
-- links are deactivated when their batch is rejected or their line is
-- released or rejected without forfeit.
CREATE TABLE IF NOT EXISTS payout_accruals (
    accrual_id UUID NOT NULL,
    line_id    UUID NOT NULL,
    batch_id   TEXT NOT NULL,
    active     BOOLEAN NOT NULL,
    PRIMARY KEY (accrual_id, line_id)
);

CREATE UNIQUE INDEX IF NOT EXISTS payout_accruals_active ON payout_accruals (accrual_id) WHERE active;

CREATE INDEX IF NOT EXISTS payout_accruals_line ON payout_accruals (line_id);

-- Scheduled runs claimed by one server (several may run the scheduler).
CREATE TABLE IF NOT EXISTS scheduler_runs (
    job        TEXT NOT NULL,
    period     TEXT NOT NULL,
    claimed_by TEXT NOT NULL,
    claimed_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (job, period)
);

-- Outbox of executed batches to hand to the exchange's transfer API.
CREATE TABLE IF NOT EXISTS payout_outbox (
    batch_id        TEXT PRIMARY KEY,
    url             TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'refused')),
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL,
    last_error      TEXT NOT NULL DEFAULT '',
    entry_id        UUID NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL
);

CREATE INDEX IF NOT EXISTS payout_outbox_due ON payout_outbox (status, next_attempt_at);
