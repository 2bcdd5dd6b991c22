-- The idempotency-key index without the keys of a trade's two entries,
-- "trade:<id>" and "commission:<id>" (affiliate.KeyPrefixTrade and
-- KeyPrefixCommission). Those entries are written only by the trade
-- engine's fresh batches (ledger.Options.Fresh), in the transaction that
-- inserts the trade's row, whose primary key (the trade id) already makes
-- them unique: two writers booking one trade id collide on trades_pkey
-- and the loser's retry finds the trade. No read looks them up by key. The
-- full index cost two index entries a trade on random keys (~270 B of WAL
-- in `folio bench`). ledger.unindexedKeyPrefixes mirrors the predicate, and
-- every look-up by key repeats it so that it can use this index.
CREATE UNIQUE INDEX IF NOT EXISTS entries_idempotency_key_indexed ON entries (idempotency_key)
    WHERE idempotency_key NOT LIKE 'trade:%' AND idempotency_key NOT LIKE 'commission:%';

DROP INDEX IF EXISTS entries_idempotency_key;
