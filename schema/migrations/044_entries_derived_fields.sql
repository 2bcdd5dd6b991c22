-- A trade's two entries without the fields that follow from others
-- (ledger/store.go, entryColumns): ~175 B of a trade's ~1.07 KB of entry
-- rows (pg_walinspect, 8 × 500).
--
-- description NULL: the entry's key gives it ("trade:<id>" → "Trade fee
-- <id>", "commission:<id>" → "Commission split of trade <id>"; ledger
-- derivedDescriptions). metadata NULL: it is the parent's, which is stored
-- (the writer leaves it out only for a child written in the same batch as
-- its parent, with the same metadata). The entry hash covers the fields as
-- read, so a changed key, parent or parent's metadata breaks the chain.
ALTER TABLE entries ALTER COLUMN description DROP NOT NULL;
ALTER TABLE entries ALTER COLUMN metadata DROP NOT NULL;

-- (Dropped first so that the step can run again.)
ALTER TABLE entries DROP CONSTRAINT IF EXISTS entries_derived_description;
ALTER TABLE entries ADD CONSTRAINT entries_derived_description
    CHECK (description IS NOT NULL OR idempotency_key LIKE 'trade:%' OR idempotency_key LIKE 'commission:%');
ALTER TABLE entries DROP CONSTRAINT IF EXISTS entries_derived_metadata;
ALTER TABLE entries ADD CONSTRAINT entries_derived_metadata CHECK (metadata IS NOT NULL OR parent_id IS NOT NULL);
