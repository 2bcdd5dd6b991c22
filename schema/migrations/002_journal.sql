-- The journal (docs/CONTRACT.md §1.3): entries, postings, balances and the chain head.

-- One row: the last assigned seq and hash. Every committed batch updates it
-- once; it is what orders commits, without advisory locks.
CREATE TABLE IF NOT EXISTS journal_head (
    id          BIGINT PRIMARY KEY CHECK (id = 1),
    seq         BIGINT NOT NULL,
    hash        BYTEA NOT NULL,
    recorded_at TIMESTAMPTZ NOT NULL
);

INSERT INTO journal_head (id, seq, hash, recorded_at)
VALUES (1, 0, decode('0000000000000000000000000000000000000000000000000000000000000000', 'hex'), '1970-01-01T00:00:00Z')
ON CONFLICT (id) DO NOTHING;

-- phase: posted (ordinary), pending (two-phase, counts in pending balances),
-- post_pending (completes a pending entry, counts as posted),
-- void_pending (voids a pending entry, no postings).
CREATE TABLE IF NOT EXISTS entries (
    id              UUID PRIMARY KEY,
    seq             BIGINT NOT NULL,
    kind            TEXT NOT NULL,
    description     TEXT NOT NULL DEFAULT '',
    phase           TEXT NOT NULL CHECK (phase IN ('posted', 'pending', 'post_pending', 'void_pending')),
    effective_at    TIMESTAMPTZ NOT NULL,
    recorded_at     TIMESTAMPTZ NOT NULL,
    idempotency_key TEXT NOT NULL,
    content_hash    BYTEA NOT NULL,
    parent_id       UUID,
    reverses        UUID,
    completes       UUID,
    expires_at      TIMESTAMPTZ,
    batch_id        TEXT,
    metadata        JSONB NOT NULL DEFAULT '{}',
    prev_hash       BYTEA NOT NULL,
    hash            BYTEA NOT NULL
);

CREATE UNIQUE INDEX IF NOT EXISTS entries_seq ON entries (seq);

CREATE UNIQUE INDEX IF NOT EXISTS entries_idempotency_key ON entries (idempotency_key);

CREATE UNIQUE INDEX IF NOT EXISTS entries_reverses ON entries (reverses) WHERE reverses IS NOT NULL;

CREATE UNIQUE INDEX IF NOT EXISTS entries_completes ON entries (completes) WHERE completes IS NOT NULL;

CREATE INDEX IF NOT EXISTS entries_recorded_at ON entries (recorded_at, seq);

CREATE INDEX IF NOT EXISTS entries_parent ON entries (parent_id) WHERE parent_id IS NOT NULL;

CREATE INDEX IF NOT EXISTS entries_kind_seq ON entries (kind, seq);

CREATE INDEX IF NOT EXISTS entries_batch ON entries (batch_id) WHERE batch_id IS NOT NULL;

CREATE INDEX IF NOT EXISTS entries_pending_expiry ON entries (expires_at) WHERE phase = 'pending' AND expires_at IS NOT NULL;

-- balance_after is the account's posted balance on its normal side right
-- after this posting (debits_after and credits_after its running totals), so
-- a past balance is one indexed read.
CREATE TABLE IF NOT EXISTS postings (
    entry_id      UUID NOT NULL,
    idx           BIGINT NOT NULL,
    seq           BIGINT NOT NULL,
    account       TEXT NOT NULL,
    currency      TEXT NOT NULL,
    side          TEXT NOT NULL CHECK (side IN ('debit', 'credit')),
    amount        NUMERIC(38,18) NOT NULL CHECK (amount > 0),
    pending       BOOLEAN NOT NULL,
    balance_after NUMERIC(38,18) NOT NULL,
    debits_after  NUMERIC(38,18) NOT NULL,
    credits_after NUMERIC(38,18) NOT NULL,
    effective_at  TIMESTAMPTZ NOT NULL,
    recorded_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (entry_id, idx)
);

CREATE INDEX IF NOT EXISTS postings_account_seq ON postings (account, seq, idx);

CREATE INDEX IF NOT EXISTS postings_account_effective ON postings (account, effective_at);

CREATE INDEX IF NOT EXISTS postings_seq ON postings (seq);

-- Current balances, maintained in the same transaction as the postings.
CREATE TABLE IF NOT EXISTS balances (
    account         TEXT PRIMARY KEY,
    code            TEXT NOT NULL,
    currency        TEXT NOT NULL,
    holder          TEXT NOT NULL DEFAULT '',
    debits          NUMERIC(38,18) NOT NULL DEFAULT 0,
    credits         NUMERIC(38,18) NOT NULL DEFAULT 0,
    pending_debits  NUMERIC(38,18) NOT NULL DEFAULT 0,
    pending_credits NUMERIC(38,18) NOT NULL DEFAULT 0,
    balance         NUMERIC(38,18) NOT NULL DEFAULT 0,
    last_seq        BIGINT NOT NULL DEFAULT 0
);

CREATE INDEX IF NOT EXISTS balances_currency ON balances (currency, account);
