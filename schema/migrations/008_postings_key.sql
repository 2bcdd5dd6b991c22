-- Postings are keyed by the journal position (seq, idx) instead of
-- (entry_id, idx). Entry ids are random UUIDs, so every batch of postings
-- landed on random pages of the primary-key index (a page write and, after
-- each checkpoint, a full-page image per posting), and a separate index on
-- seq was kept for range scans. seq is assigned by the journal head, so the
-- new key appends at the right edge and serves seq ranges by itself; an
-- entry's postings are found through its seq (entries_seq).
-- On CockroachDB a sequential key concentrates writes on one range; the
-- journal head serializes commits anyway (see ledger/doc.go), and a
-- hash-sharded key is the documented alternative there.
ALTER TABLE postings DROP CONSTRAINT postings_pkey, ADD CONSTRAINT postings_pkey PRIMARY KEY (seq, idx);

DROP INDEX IF EXISTS postings_seq;
