-- The Merkle log in runs (seal/doc.go, "What it costs"): one row per run of
-- consecutive stored hashes instead of one row per hash, and no row per
-- entry at all (an entry's leaf index follows from the seals' heads).
-- merkle_hashes' hashes move here; merkle_leaves, derivable, is dropped.
--
-- A run: the Merkle log's stored hashes at tlog storage indexes first_idx,
-- first_idx+1, …, their 32 bytes each, concatenated. A seal's new hashes
-- are consecutive storage indexes; it writes them in runs of at most
-- seal.MaxRunHashes. Runs are append-only like the rest of the log: the
-- hash at storage index i is in the run with the greatest first_idx <= i.
CREATE TABLE IF NOT EXISTS merkle_hash_runs (
    first_idx BIGINT PRIMARY KEY,
    hashes    BYTEA NOT NULL
);

-- An entry's leaf index is found from the first seal whose head of the
-- entry's shard reached its seq (seal.Service.ProveInclusion).
CREATE INDEX IF NOT EXISTS seal_heads_position ON seal_heads (shard, seq, seal);

-- Dropped first: a sealer of an older version still running writes
-- merkle_leaves last in its transaction, so once this DROP has waited for
-- such transactions, every one of them either committed (its hashes are
-- copied below) or fails from now on; none can add hashes after the copy.
DROP TABLE IF EXISTS merkle_leaves;

-- Here only so that the copy below can run again once the table is gone
-- (a rerun of this file's steps, see schema/doc.go): it then copies
-- nothing, and the table is dropped again.
CREATE TABLE IF NOT EXISTS merkle_hashes (
    idx  BIGINT PRIMARY KEY,
    hash BYTEA NOT NULL
);

-- The stored hashes, 1024 storage indexes a run (the same bound as new
-- runs), where the block holds every index from its first to its last
-- (always, unless the table was tampered with); the hashes of any other
-- block are copied one a run by the next statement, as they were.
INSERT INTO merkle_hash_runs (first_idx, hashes)
SELECT min(idx), string_agg(hash, ''::BYTEA ORDER BY idx)
FROM merkle_hashes
GROUP BY idx - idx % 1024
HAVING count(*) = max(idx) - min(idx) + 1
ON CONFLICT (first_idx) DO NOTHING;

INSERT INTO merkle_hash_runs (first_idx, hashes)
SELECT idx, hash
FROM merkle_hashes
WHERE idx - idx % 1024 IN (SELECT idx - idx % 1024 FROM merkle_hashes GROUP BY idx - idx % 1024 HAVING count(*) <> max(idx) - min(idx) + 1)
ON CONFLICT (first_idx) DO NOTHING;

DROP TABLE IF EXISTS merkle_hashes;
