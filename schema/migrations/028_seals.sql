-- Seals, the Merkle log over the journal and its signed checkpoints
-- (seal/doc.go). All four tables are history: the app role may read and
-- append, never update or delete (schema/grants.sql).

-- A seal: the heads of every journal shard at one consistent cut, linked to
-- the previous seal by hash. n is the previous seal's n + 1 (1 for the
-- first): two sealers racing for the same n collide on the primary key, so
-- the seal chain never forks. tree_size and root are the Merkle log's after
-- the seal appended the entries new since the previous one; checkpoint is
-- the signed note of (origin, tree_size, root). hash covers every column
-- but checkpoint (which carries its own signature) and the seal's heads.
CREATE TABLE IF NOT EXISTS seals (
    n          BIGINT PRIMARY KEY,
    sealed_at  TIMESTAMPTZ NOT NULL,
    prev_hash  BYTEA NOT NULL,
    tree_size  BIGINT NOT NULL UNIQUE,
    root       BYTEA NOT NULL,
    hash       BYTEA NOT NULL,
    checkpoint TEXT NOT NULL
);

-- A seal's record of one shard's head: (seq, hash) of its last entry, or
-- (0, genesis hash) for a shard that has written nothing.
CREATE TABLE IF NOT EXISTS seal_heads (
    seal  BIGINT NOT NULL,
    shard BIGINT NOT NULL,
    seq   BIGINT NOT NULL,
    hash  BYTEA NOT NULL,
    PRIMARY KEY (seal, shard)
);

-- The Merkle log's stored hashes, by tlog storage index
-- (tlog.StoredHashIndex): what tlog.StoredHashes returns for each leaf.
CREATE TABLE IF NOT EXISTS merkle_hashes (
    idx  BIGINT PRIMARY KEY,
    hash BYTEA NOT NULL
);

-- Each sealed entry's leaf index in the Merkle log, and the seal that
-- appended it.
CREATE TABLE IF NOT EXISTS merkle_leaves (
    entry_id UUID PRIMARY KEY,
    leaf     BIGINT NOT NULL UNIQUE,
    seal     BIGINT NOT NULL
);
