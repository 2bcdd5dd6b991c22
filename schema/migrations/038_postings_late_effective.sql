-- Postings by account and effective time only where the effective time
-- says something the journal's order does not (ledger/effective.go): a
-- posting recorded more than a minute after its effective time (a late
-- trade, a back-dated entry) or more than a minute before it (dated in
-- the future). Every other posting -- almost all of them: a trade is
-- booked seconds after it executed -- is prompt: a read by effective time
-- finds it through the account's position index over the recorded-time
-- window that the minute bounds. The full index cost an index entry per
-- posting (~690 B of WAL and ~7 WAL records a trade in `folio bench`).
CREATE INDEX IF NOT EXISTS postings_account_late ON postings (account, effective_at)
    WHERE effective_at - recorded_at > interval '1 minute' OR recorded_at - effective_at > interval '1 minute';

DROP INDEX IF EXISTS postings_account_effective;
