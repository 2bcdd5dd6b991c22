-- A migration CockroachDB rejects: SERIAL ids are sequence-backed
-- INT4 on PostgreSQL but unique_rowid() INT8 on CockroachDB.
CREATE TABLE IF NOT EXISTS widgets (
    id SERIAL PRIMARY KEY,
    name TEXT NOT NULL
);
