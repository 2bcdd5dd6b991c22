-- CockroachDB overlay of 028_seals.sql (schema.StepsFor): the same tables,
-- with the Merkle log's sequential keys (storage index, leaf index) in
-- hash-sharded indexes so that a seal's appends spread over ranges. Seals
-- themselves are few (one every few seconds) and keep plain keys.
CREATE TABLE IF NOT EXISTS seals (
    n          BIGINT PRIMARY KEY,
    sealed_at  TIMESTAMPTZ NOT NULL,
    prev_hash  BYTEA NOT NULL,
    tree_size  BIGINT NOT NULL UNIQUE,
    root       BYTEA NOT NULL,
    hash       BYTEA NOT NULL,
    checkpoint TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS seal_heads (
    seal  BIGINT NOT NULL,
    shard BIGINT NOT NULL,
    seq   BIGINT NOT NULL,
    hash  BYTEA NOT NULL,
    PRIMARY KEY (seal, shard)
);

CREATE TABLE IF NOT EXISTS merkle_hashes (
    idx  BIGINT NOT NULL,
    hash BYTEA NOT NULL,
    PRIMARY KEY (idx) USING HASH
);

CREATE TABLE IF NOT EXISTS merkle_leaves (
    entry_id UUID PRIMARY KEY,
    leaf     BIGINT NOT NULL,
    seal     BIGINT NOT NULL
);

CREATE UNIQUE INDEX IF NOT EXISTS merkle_leaves_leaf ON merkle_leaves (leaf) USING HASH;
