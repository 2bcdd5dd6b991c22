-- Affiliate module (docs/CONTRACT.md §2): users and the referral tree, codes, programs,
-- per-user settings, lifecycle events, trades, accruals, FX rates, fees.

-- A user of the exchange. referrer_id is the current referrer (fixed at
-- signup, changed only by an admin re-parenting, which is audit-logged).
CREATE TABLE IF NOT EXISTS users (
    id               TEXT PRIMARY KEY,
    referrer_id      TEXT,
    signup_referrer  TEXT,
    referral_code    TEXT,
    country          TEXT NOT NULL DEFAULT '',
    signup_ip        TEXT NOT NULL DEFAULT '',
    device_id        TEXT NOT NULL DEFAULT '',
    grp              TEXT NOT NULL DEFAULT '',
    program_id       TEXT,
    rate             NUMERIC(38,18),
    kickback_rate    NUMERIC(38,18),
    tax_id           TEXT,
    registered_at    TIMESTAMPTZ NOT NULL,
    kyc_verified_at  TIMESTAMPTZ,
    first_deposit_at TIMESTAMPTZ,
    first_trade_at   TIMESTAMPTZ,
    created_at       TIMESTAMPTZ NOT NULL
);

CREATE INDEX IF NOT EXISTS users_referrer ON users (referrer_id, registered_at);

CREATE INDEX IF NOT EXISTS users_code ON users (referral_code);

-- Referral codes, stored upper-case; lookups are case-insensitive.
CREATE TABLE IF NOT EXISTS referral_codes (
    code       TEXT PRIMARY KEY,
    owner_id   TEXT NOT NULL,
    rate       NUMERIC(38,18),
    kickback   NUMERIC(38,18),
    note       TEXT NOT NULL DEFAULT '',
    created_at TIMESTAMPTZ NOT NULL
);

CREATE INDEX IF NOT EXISTS referral_codes_owner ON referral_codes (owner_id, created_at);

CREATE TABLE IF NOT EXISTS programs (
    id         TEXT PRIMARY KEY,
    kind       TEXT NOT NULL,
    is_default BOOLEAN NOT NULL DEFAULT false,
    config     JSONB NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

-- Operator revenue-share tables for table programs.
CREATE TABLE IF NOT EXISTS revenue_shares (
    user_id     TEXT NOT NULL,
    beneficiary TEXT NOT NULL,
    share       NUMERIC(38,18) NOT NULL,
    PRIMARY KEY (user_id, beneficiary)
);

CREATE TABLE IF NOT EXISTS user_events (
    id          TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL,
    type        TEXT NOT NULL,
    amount      NUMERIC(38,18),
    currency    TEXT,
    at          TIMESTAMPTZ NOT NULL,
    recorded_at TIMESTAMPTZ NOT NULL
);

CREATE INDEX IF NOT EXISTS user_events_user ON user_events (user_id, at);

-- One-off bounties: at most once per (user, event type, beneficiary, program).
CREATE TABLE IF NOT EXISTS bounty_awards (
    user_id     TEXT NOT NULL,
    event_type  TEXT NOT NULL,
    beneficiary TEXT NOT NULL,
    program_id  TEXT NOT NULL,
    event_id    TEXT NOT NULL,
    entry_id    UUID NOT NULL,
    PRIMARY KEY (user_id, event_type, beneficiary, program_id)
);

CREATE TABLE IF NOT EXISTS trades (
    id                  TEXT PRIMARY KEY,
    user_id             TEXT NOT NULL,
    market              TEXT NOT NULL,
    liquidity           TEXT NOT NULL,
    fee_amount          NUMERIC(38,18) NOT NULL,
    fee_currency        TEXT NOT NULL,
    fee_computed        BOOLEAN NOT NULL,
    volume_amount       NUMERIC(38,18),
    volume_currency     TEXT,
    counterparty_id     TEXT,
    executed_at         TIMESTAMPTZ NOT NULL,
    recorded_at         TIMESTAMPTZ NOT NULL,
    content_hash        BYTEA NOT NULL,
    program_id          TEXT,
    program_kind        TEXT,
    basis               NUMERIC(38,18) NOT NULL,
    explanation         JSONB NOT NULL,
    fee_entry_id        UUID NOT NULL,
    commission_entry_id UUID NOT NULL
);

CREATE INDEX IF NOT EXISTS trades_user ON trades (user_id, executed_at);

-- A trade reversal (busted trade); trades themselves are never updated.
CREATE TABLE IF NOT EXISTS trade_reversals (
    trade_id            TEXT PRIMARY KEY,
    fee_reversal_id     UUID NOT NULL,
    commission_reversal UUID NOT NULL,
    recorded_at         TIMESTAMPTZ NOT NULL,
    actor               TEXT NOT NULL
);

-- Accruals: one row per beneficiary share of a trade or bounty, snapshotting
-- everything that explains it; reversals add rows with negative amounts.
CREATE TABLE IF NOT EXISTS accruals (
    id                 UUID PRIMARY KEY,
    source             TEXT NOT NULL,
    trade_id           TEXT,
    event_id           TEXT,
    entry_id           UUID NOT NULL,
    beneficiary        TEXT NOT NULL,
    trader_id          TEXT NOT NULL,
    level              BIGINT NOT NULL,
    program_id         TEXT NOT NULL,
    kind               TEXT NOT NULL,
    rate               NUMERIC(38,18),
    rates              JSONB NOT NULL DEFAULT '{}',
    basis              NUMERIC(38,18),
    amount             NUMERIC(38,18) NOT NULL,
    currency           TEXT NOT NULL,
    fx_rate            NUMERIC(38,18),
    reporting_amount   NUMERIC(38,18),
    reporting_currency TEXT NOT NULL,
    market             TEXT NOT NULL DEFAULT '',
    code               TEXT NOT NULL DEFAULT '',
    reverses           UUID,
    recorded_at        TIMESTAMPTZ NOT NULL
);

CREATE INDEX IF NOT EXISTS accruals_beneficiary ON accruals (beneficiary, recorded_at, id);

CREATE INDEX IF NOT EXISTS accruals_trade ON accruals (trade_id);

CREATE TABLE IF NOT EXISTS fx_rates (
    base   TEXT NOT NULL,
    quote  TEXT NOT NULL,
    source TEXT NOT NULL,
    at     TIMESTAMPTZ NOT NULL,
    rate   NUMERIC(38,18) NOT NULL CHECK (rate > 0),
    PRIMARY KEY (base, quote, source, at)
);

-- Maker/taker fee rates per (group, market); '' is the default row.
CREATE TABLE IF NOT EXISTS fee_schedules (
    grp        TEXT NOT NULL,
    market     TEXT NOT NULL,
    maker_rate NUMERIC(38,18) NOT NULL,
    taker_rate NUMERIC(38,18) NOT NULL,
    PRIMARY KEY (grp, market)
);

CREATE TABLE IF NOT EXISTS settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- Referred volume per direct referrer and day in the reporting currency,
-- maintained with every trade batch; volume tiers read 30 rows at most.
CREATE TABLE IF NOT EXISTS referred_volume_daily (
    affiliate_id TEXT NOT NULL,
    day          TIMESTAMPTZ NOT NULL,
    volume       NUMERIC(38,18) NOT NULL,
    trades       BIGINT NOT NULL,
    PRIMARY KEY (affiliate_id, day)
);
