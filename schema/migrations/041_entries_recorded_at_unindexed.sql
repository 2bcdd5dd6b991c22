-- No index of entries by recorded time. Within a shard recorded_at never
-- goes back along seq (the writer takes the later of the clock and its
-- head's time; verify reports an entry recorded before its predecessor),
-- so a read as of a recorded time bisects each shard's seq through
-- entries_position (ledger.sqlCutByRecorded: ~log2(n) point reads a
-- shard) and a listing by recorded time bounds its positions the same
-- way (ledger.seqsRecordedIn). The index cost two index entries a trade
-- (~150 B of WAL in `folio bench`); on CockroachDB it was hash-sharded,
-- every insert writing a range of its own.
DROP INDEX IF EXISTS entries_recorded_at;
