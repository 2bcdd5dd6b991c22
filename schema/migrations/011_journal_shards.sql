-- The parallel journal (ledger/doc.go, "Shards"): the journal is S
-- independent shards, each with its own head (last seq, hash, recorded_at),
-- its own gapless seq and its own hash chain. An entry's position is
-- (shard, seq). The number of shards is the number of active rows; it is
-- stored with the database and changed only by `folio journal-shards N`.
-- Shard 0 continues the single journal of earlier versions.
CREATE TABLE IF NOT EXISTS journal_shards (
    shard       BIGINT PRIMARY KEY,
    seq         BIGINT NOT NULL,
    hash        BYTEA NOT NULL,
    recorded_at TIMESTAMPTZ NOT NULL,
    active      BOOLEAN NOT NULL DEFAULT true
);

INSERT INTO journal_shards (shard, seq, hash, recorded_at)
SELECT 0, seq, hash, recorded_at FROM journal_head
ON CONFLICT (shard) DO NOTHING;

DROP TABLE IF EXISTS journal_head;

ALTER TABLE entries ADD COLUMN IF NOT EXISTS shard BIGINT NOT NULL DEFAULT 0;

-- Position order (seq, shard) is the journal's listing order.
CREATE UNIQUE INDEX IF NOT EXISTS entries_position ON entries (seq, shard);

DROP INDEX IF EXISTS entries_seq;

ALTER TABLE postings ADD COLUMN IF NOT EXISTS shard BIGINT NOT NULL DEFAULT 0;

ALTER TABLE postings DROP CONSTRAINT postings_pkey, ADD CONSTRAINT postings_pkey PRIMARY KEY (seq, shard, idx);

-- An account's postings per shard, in seq order: as-of reads take the last
-- one at or before a point in each shard.
CREATE INDEX IF NOT EXISTS postings_account_shard_seq ON postings (account, shard, seq, idx);

DROP INDEX IF EXISTS postings_account_seq;

-- A balance row per (account, shard) that wrote to it: an account's balance
-- is the sum of its rows. Accounts with a balance rule have one row, in
-- shard 0, where the rule is checked.
ALTER TABLE balances ADD COLUMN IF NOT EXISTS shard BIGINT NOT NULL DEFAULT 0;

ALTER TABLE balances DROP CONSTRAINT balances_pkey, ADD CONSTRAINT balances_pkey PRIMARY KEY (account, shard);
