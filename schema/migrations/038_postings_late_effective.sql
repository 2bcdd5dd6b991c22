-- Postings by account and effective time only where the effective time
-- says something the journal's order does not (ledger/doc.go, "Reads by
-- effective time"): a posting recorded more than an hour after its
-- effective time (a late trade, a back-dated entry) or before it (dated in
-- the future). Every other posting -- almost all of them: a trade is
-- booked seconds after it executed -- was recorded within the hour after
-- its effective time, so a read by effective time finds it through the
-- account's position index over the recorded-time window that hour
-- bounds. The full index cost an index entry per posting, about a sixth
-- of the database's work for a trade.
CREATE INDEX IF NOT EXISTS postings_account_late ON postings (account, effective_at)
    WHERE effective_at > recorded_at OR recorded_at - effective_at > interval '1 hour';

DROP INDEX IF EXISTS postings_account_effective;
