-- CockroachDB overlay of 011_journal_shards.sql (schema.StepsFor): the same
-- tables, with the journal's sequential keys in hash-sharded indexes. Each
-- shard's seq grows by one per entry, so (seq, shard) keys would all land at
-- the end of one range — the hot range every writer would share. Hash
-- sharding spreads them over buckets (and ranges, and nodes); position-order
-- scans then merge the buckets, which CockroachDB does for USING HASH
-- indexes (see ledger/doc.go, "A three-node CockroachDB deployment").
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

CREATE UNIQUE INDEX IF NOT EXISTS entries_position ON entries (seq, shard) USING HASH;

DROP INDEX IF EXISTS entries_seq;

DROP INDEX IF EXISTS entries_recorded_at;

CREATE INDEX IF NOT EXISTS entries_recorded_at ON entries (recorded_at, seq) USING HASH;

ALTER TABLE postings ADD COLUMN IF NOT EXISTS shard BIGINT NOT NULL DEFAULT 0;

ALTER TABLE postings ALTER PRIMARY KEY USING COLUMNS (seq, shard, idx) USING HASH;

CREATE INDEX IF NOT EXISTS postings_account_shard_seq ON postings (account, shard, seq, idx);

DROP INDEX IF EXISTS postings_account_seq;

ALTER TABLE balances ADD COLUMN IF NOT EXISTS shard BIGINT NOT NULL DEFAULT 0;

ALTER TABLE balances ALTER PRIMARY KEY USING COLUMNS (account, shard);
