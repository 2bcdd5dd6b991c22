-- Issue 15 item 10: the rest of the exchange admin manual's chart of
-- accounts, next to the codes of 001 (accounts.Builtin lists both). The codes
-- are built-in: their type, normal side and per-holder flag never change.
-- Nothing posts to them yet; an operator books to them with manual entries.
INSERT INTO account_codes (code, name, type, normal_side, per_holder, balance_rule, builtin) VALUES
    ('200', 'Short-term liabilities (user spot balance)', 'liability', 'credit', true, '', true),
    ('205', 'Staking liabilities, active (staked user funds)', 'liability', 'credit', true, '', true),
    ('206', 'Staking liabilities, locked (unbonding)', 'liability', 'credit', true, '', true),
    ('207', 'Staking rewards payable', 'liability', 'credit', true, '', true),
    ('210', 'Liabilities to partners and liquidity providers', 'liability', 'credit', false, '', true),
    ('400', 'Operating expenses', 'expense', 'debit', false, '', true),
    ('401', 'Blockchain network fee expenses', 'expense', 'debit', false, '', true),
    ('402', 'Bank and payment provider fee expenses', 'expense', 'debit', false, '', true),
    ('403', 'Liquidity provider fee expenses', 'expense', 'debit', false, '', true),
    ('404', 'Promotion and marketing expenses', 'expense', 'debit', false, '', true),
    ('405', 'Exchange rate losses', 'expense', 'debit', false, '', true),
    ('407', 'Staking reward expenses', 'expense', 'debit', false, '', true),
    ('410', 'Other expenses', 'expense', 'debit', false, '', true),
    ('600', 'Operating revenue', 'revenue', 'credit', false, '', true),
    ('601', 'Deposit fee revenue', 'revenue', 'credit', false, '', true),
    ('602', 'Withdrawal fee revenue', 'revenue', 'credit', false, '', true),
    ('603', 'Listing fee revenue', 'revenue', 'credit', false, '', true),
    ('604', 'Exchange rate gains', 'revenue', 'credit', false, '', true)
ON CONFLICT (code) DO NOTHING;

-- Issue 15 item 6: where a payout line is paid. '' (default): Cr 201 and,
-- with a transfer API configured, the outbox; '201' or '202': Cr that
-- account of the affiliate in the journal, final at once (payouts/doc.go).
ALTER TABLE payout_lines ADD COLUMN IF NOT EXISTS destination TEXT NOT NULL DEFAULT '';

-- Issue 15 item 7: signup risk, one row per user that signed up with
-- signals, append-only (never updated or deleted). The signals are personal
-- data: only keyed hashes (HMAC-SHA256 under the settings row
-- signup_hash_key) are stored, enough to compare signups, never the raw
-- values. matched: the users of the referral chain whose signals the signup
-- shares. action: none (no flag), flag (recorded only) or hold (the payout
-- lines that pay this user's activity are held); refused signups write
-- nothing.
CREATE TABLE IF NOT EXISTS signup_risk (
    user_id         TEXT PRIMARY KEY,
    referrer_id     TEXT NOT NULL DEFAULT '',
    ip_hash         BYTEA,
    device_hash     BYTEA,
    user_agent_hash BYTEA,
    score           BIGINT NOT NULL,
    flags           JSONB NOT NULL DEFAULT '[]',
    matched         TEXT[] NOT NULL DEFAULT '{}',
    action          TEXT NOT NULL CHECK (action IN ('none', 'flag', 'hold')),
    at              TIMESTAMPTZ NOT NULL
);

CREATE INDEX IF NOT EXISTS signup_risk_referrer ON signup_risk (referrer_id, at);

CREATE INDEX IF NOT EXISTS signup_risk_ip ON signup_risk (ip_hash) WHERE ip_hash IS NOT NULL;

CREATE INDEX IF NOT EXISTS signup_risk_device ON signup_risk (device_hash) WHERE device_hash IS NOT NULL;
