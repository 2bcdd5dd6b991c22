-- API keys (docs/CONTRACT.md §5): random secrets shown once, stored only as SHA-256
-- hashes. A key is revoked by setting revoked_at; rows are never deleted so
-- that the audit log's actors (key ids) stay resolvable.
CREATE TABLE IF NOT EXISTS api_keys (
    id         UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    key_hash   BYTEA NOT NULL UNIQUE,
    role       TEXT NOT NULL CHECK (role IN ('admin', 'poster', 'auditor', 'affiliate')),
    holder     TEXT NOT NULL DEFAULT '',
    note       TEXT NOT NULL DEFAULT '',
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    created_by TEXT NOT NULL,
    revoked_at TIMESTAMPTZ,
    CHECK (role <> 'affiliate' OR holder <> '')
);

CREATE INDEX IF NOT EXISTS api_keys_created ON api_keys (created_at, id);
