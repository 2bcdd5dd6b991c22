-- No content hash on the trade engine's entries (keys "trade:<id>" and
-- "commission:<id>", ledger unindexedKeyPrefixes). An entry's content hash
-- is what a replay of its key is compared with; those keys are never
-- looked up (the key index leaves them out, migration 039): the trade's
-- row, unique by trade id and with its own content hash, answers replays.
-- The entry hash covers the absent content hash as empty. 2 × 33 B a trade.
ALTER TABLE entries ALTER COLUMN content_hash DROP NOT NULL;

-- (Dropped first so that the step can run again.)
ALTER TABLE entries DROP CONSTRAINT IF EXISTS entries_engine_content_hash;
ALTER TABLE entries ADD CONSTRAINT entries_engine_content_hash
    CHECK (content_hash IS NOT NULL OR idempotency_key LIKE 'trade:%' OR idempotency_key LIKE 'commission:%');
