-- What a trade costs the database (README, "Measured figures"): every
-- trade updates balance rows (each affiliate's 208 row of its shard, the
-- hot 101 and 605 rows) and its shard's head. With pages full, an update
-- cannot stay on its page, so it writes a new index entry in every index of
-- the table (a non-HOT update); free space on each page keeps these
-- updates heap-only. CockroachDB accepts and ignores fillfactor.
ALTER TABLE balances SET (fillfactor = 70);

ALTER TABLE journal_shards SET (fillfactor = 50);

-- entries (kind, seq) served the kinds that few entries have (payouts,
-- forfeits, bounties, manual kinds); trades write two entries each of the
-- two trade kinds, whose lookups go by position or trade. Leaving those out
-- of the index saves an index entry per trade entry.
CREATE INDEX IF NOT EXISTS entries_kind_position ON entries (kind, seq, shard) WHERE kind NOT IN ('trade_fee', 'commission');

DROP INDEX IF EXISTS entries_kind_seq;
