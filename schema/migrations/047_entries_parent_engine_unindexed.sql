-- The parent index leaves out the trade engine's children (keys under
-- "trade:" and "commission:", as the key index does since 039): a trade's
-- commission entry is always the entry right after its fee entry in the
-- same shard (ledger ApplyTx refuses it anywhere else), so the fee
-- entry's links find it by position (Ledger.GetEntry). One index entry
-- (~88 B of WAL) a trade.
CREATE INDEX IF NOT EXISTS entries_parent_indexed ON entries (parent_id)
    WHERE parent_id IS NOT NULL AND idempotency_key NOT LIKE 'trade:%' AND idempotency_key NOT LIKE 'commission:%';
DROP INDEX IF EXISTS entries_parent;
