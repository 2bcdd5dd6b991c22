-- The Merkle log without its five lowest levels (seal/doc.go, "The
-- Merkle log's low levels"). A seal stored every hash tlog.StoredHashes
-- gives, ~2 a leaf (~140 B of WAL a trade, 2 entries); the hashes of
-- levels 0 to 4 (31 of every 32) are now recomputed from the entries
-- when a proof or the next seal needs them: an entry's leaf is its
-- position and chain hash (seal.LeafBytes), and a node of level l < 5 is
-- the hash of at most 16 leaves.
--
-- merkle_upper_runs: the hashes of level 5 and up, in runs like
-- merkle_hash_runs (035), by their storage index in the tree whose leaves
-- are the level-5 nodes (the hash of level l and index n is at
-- tlog.StoredHashIndex(l - 5, n) there). merkle_hash_runs keeps what
-- seals wrote before this migration, and proofs read it for those hashes
-- (the storage indexes below the end of its last run); nothing is moved.
CREATE TABLE IF NOT EXISTS merkle_upper_runs (
    first_idx BIGINT PRIMARY KEY,
    hashes    BYTEA NOT NULL
);

-- A leaf's entry is found from the seal that appended it: the first seal
-- whose tree is larger than the leaf's index.
CREATE INDEX IF NOT EXISTS seals_tree_size ON seals (tree_size);
