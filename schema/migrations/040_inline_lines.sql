-- Inline lines (ledger/lines.go): the lines of the accounts posted by
-- every trade (codes 101 and 605, no holder) are kept in their entry's
-- row, in up to two slots (l1_*, l2_*), instead of a postings row each.
-- A postings row with its two index entries cost ~11 µs of PostgreSQL's
-- time and ~400 B of WAL; 3 of a trade's ~6.8 lines are these.
--
-- The first line of such an account in each block of 64 positions of its
-- shard stays a postings row (balances.row_seq remembers the last row), so
-- the account index still finds every block in which the account has
-- lines: a read as of a position starts from the last row at or before
-- it and reads at most the rest of that row's block. Pending lines, late
-- lines (recorded more than ledger.LateAfter from their effective time)
-- and lines beyond two an entry are always rows.
ALTER TABLE entries ADD COLUMN IF NOT EXISTS l1_idx BIGINT;
ALTER TABLE entries ADD COLUMN IF NOT EXISTS l1_account TEXT;
ALTER TABLE entries ADD COLUMN IF NOT EXISTS l1_side TEXT CHECK (l1_side IN ('debit', 'credit'));
ALTER TABLE entries ADD COLUMN IF NOT EXISTS l1_amount NUMERIC(38,18) CHECK (l1_amount > 0);
ALTER TABLE entries ADD COLUMN IF NOT EXISTS l1_balance_after NUMERIC(38,18);
ALTER TABLE entries ADD COLUMN IF NOT EXISTS l1_debits_after NUMERIC(38,18);
ALTER TABLE entries ADD COLUMN IF NOT EXISTS l1_credits_after NUMERIC(38,18);
ALTER TABLE entries ADD COLUMN IF NOT EXISTS l2_idx BIGINT;
ALTER TABLE entries ADD COLUMN IF NOT EXISTS l2_account TEXT;
ALTER TABLE entries ADD COLUMN IF NOT EXISTS l2_side TEXT CHECK (l2_side IN ('debit', 'credit'));
ALTER TABLE entries ADD COLUMN IF NOT EXISTS l2_amount NUMERIC(38,18) CHECK (l2_amount > 0);
ALTER TABLE entries ADD COLUMN IF NOT EXISTS l2_balance_after NUMERIC(38,18);
ALTER TABLE entries ADD COLUMN IF NOT EXISTS l2_debits_after NUMERIC(38,18);
ALTER TABLE entries ADD COLUMN IF NOT EXISTS l2_credits_after NUMERIC(38,18);

ALTER TABLE balances ADD COLUMN IF NOT EXISTS row_seq BIGINT NOT NULL DEFAULT 0;

-- Every line before this migration is a postings row.
UPDATE balances b SET row_seq = coalesce((SELECT max(p.seq) FROM postings p WHERE p.account = b.account AND p.shard = b.shard), 0)
WHERE b.row_seq = 0;

-- The inline lines, with the columns of postings: one scan of an entry
-- gives both of its slots (a UNION ALL of the slots read each entry twice).
-- An entry has a second slot only when it has a first.
CREATE OR REPLACE VIEW inline_lines AS
    SELECT e.id AS entry_id, v.idx, e.seq, e.shard, v.account, split_part(v.account, ':', 2) AS currency, v.side, v.amount,
        false AS pending, v.balance_after, v.debits_after, v.credits_after, e.effective_at, e.recorded_at
    FROM entries e CROSS JOIN LATERAL (VALUES
            (e.l1_idx, e.l1_account, e.l1_side, e.l1_amount, e.l1_balance_after, e.l1_debits_after, e.l1_credits_after),
            (e.l2_idx, e.l2_account, e.l2_side, e.l2_amount, e.l2_balance_after, e.l2_debits_after, e.l2_credits_after))
        AS v(idx, account, side, amount, balance_after, debits_after, credits_after)
    WHERE e.l1_idx IS NOT NULL AND v.idx IS NOT NULL;

-- Every line of the journal, stored as a postings row or inline: what
-- every reader of lines by position reads.
CREATE OR REPLACE VIEW lines AS
    SELECT entry_id, idx, seq, shard, account, currency, side, amount, pending, balance_after, debits_after, credits_after,
        effective_at, recorded_at
    FROM postings
    UNION ALL
    SELECT entry_id, idx, seq, shard, account, currency, side, amount, pending, balance_after, debits_after, credits_after,
        effective_at, recorded_at
    FROM inline_lines;
