-- Balance rows written only when a postings row cannot give them. A
-- postings row carries its account's running figures in its shard
-- (debits_after, credits_after, balance_after), so the balance row of an
-- account whose lines since the row's last_seq are all posted postings
-- rows (every holder account's lines in the trade engine: 202, 208) is
-- the row as stored with those figures of its last postings row. The
-- writer (ledger/balances.go) leaves such a row as it is: an UPDATE of
-- ~3.4 balance rows a trade (~120 B of WAL each) fewer. It still writes a
-- row when the batch inserts it, changes its pending figures (a pending
-- line, a release) or puts a line inline (lines.go): what no postings
-- row records.
--
-- balances stays the stored table, which only the writer and Verify
-- name; balances_current is what every reader reads: the stored figures
-- as of last_seq, replaced by those of the account's last postings row
-- in the shard after it. Pending figures and the key columns are always
-- the stored ones.
CREATE OR REPLACE VIEW balances_current AS
    SELECT b.account, b.code, b.currency, b.holder,
        coalesce(p.debits_after, b.debits) AS debits, coalesce(p.credits_after, b.credits) AS credits,
        b.pending_debits, b.pending_credits, coalesce(p.balance_after, b.balance) AS balance,
        greatest(b.last_seq, coalesce(p.seq, 0)) AS last_seq, b.shard, greatest(b.row_seq, coalesce(p.seq, 0)) AS row_seq
    FROM balances b LEFT JOIN LATERAL (
        SELECT q.seq, q.debits_after, q.credits_after, q.balance_after FROM postings q
        WHERE q.account = b.account AND q.shard = b.shard AND q.seq > b.last_seq
        ORDER BY q.seq DESC, q.idx DESC LIMIT 1) AS p ON true;
