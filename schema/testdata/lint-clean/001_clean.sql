-- A migration that follows every rule. Comments may say SERIAL, INT,
-- FLOAT, CREATE TRIGGER or DO $$ without being flagged.
CREATE TABLE IF NOT EXISTS widgets (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    seq BIGINT NOT NULL,
    interval_start TIMESTAMPTZ NOT NULL,
    point TEXT NOT NULL DEFAULT 'int; serial; CREATE TRIGGER',
    amount NUMERIC(38,18) NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT widgets_amount_nonnegative CHECK (amount >= 0)
);

CREATE UNIQUE INDEX IF NOT EXISTS widgets_seq ON widgets (seq);

ALTER TABLE widgets ADD COLUMN IF NOT EXISTS note TEXT;

/* Block comments are ignored too: bigserial, money. */
INSERT INTO widgets (seq, interval_start, amount)
VALUES (0, '2000-01-01T00:00:00Z', 0)
ON CONFLICT DO NOTHING;

REVOKE UPDATE, DELETE ON widgets FROM PUBLIC;
GRANT SELECT, INSERT ON widgets TO PUBLIC;
