-- Chart of accounts and currencies (docs/CONTRACT.md §1.1, §1.2).
CREATE TABLE IF NOT EXISTS currencies (
    id         TEXT PRIMARY KEY,
    precision  BIGINT NOT NULL CHECK (precision BETWEEN 0 AND 18),
    enabled    BOOLEAN NOT NULL DEFAULT true,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS account_codes (
    code         TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    type         TEXT NOT NULL,
    normal_side  TEXT NOT NULL CHECK (normal_side IN ('debit', 'credit')),
    per_holder   BOOLEAN NOT NULL,
    balance_rule TEXT NOT NULL DEFAULT '',
    builtin      BOOLEAN NOT NULL DEFAULT false,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);

INSERT INTO account_codes (code, name, type, normal_side, per_holder, balance_rule, builtin) VALUES
    ('101', 'Deferred income (fees awaiting distribution)', 'suspense', 'credit', false, '', true),
    ('110', 'Hot system assets', 'asset', 'debit', false, '', true),
    ('120', 'User assets', 'asset', 'debit', false, '', true),
    ('130', 'Funds en route', 'asset', 'debit', false, '', true),
    ('201', 'Long-term liabilities (user main balance)', 'liability', 'credit', true, '', true),
    ('202', 'Advanced trading liabilities, active', 'liability', 'credit', true, '', true),
    ('203', 'Advanced trading liabilities, locked', 'liability', 'credit', true, '', true),
    ('204', 'Deferred liabilities', 'liability', 'credit', true, '', true),
    ('208', 'Pending referral rewards (accrued, unpaid commissions)', 'liability', 'credit', true, '', true),
    ('230', 'Liabilities in transfer', 'liability', 'credit', true, 'non_negative', true),
    ('420', 'One-time reward expenses (bounties)', 'expense', 'debit', false, '', true),
    ('421', 'Referral commission expenses (commissions funded beyond the fee)', 'expense', 'debit', false, '', true),
    ('605', 'Trading profit (definitive fee revenue)', 'revenue', 'credit', false, '', true),
    ('606', 'Forfeited referral rewards', 'revenue', 'credit', false, '', true)
ON CONFLICT (code) DO NOTHING;

-- Configuration audit log: who changed what, with before and after. Append-only.
CREATE TABLE IF NOT EXISTS audit_log (
    id     UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    at     TIMESTAMPTZ NOT NULL,
    actor  TEXT NOT NULL,
    action TEXT NOT NULL,
    object TEXT NOT NULL,
    before JSONB,
    after  JSONB
);

CREATE INDEX IF NOT EXISTS audit_log_at ON audit_log (at, id);
