-- Version counters of data the servers cache in memory. A transaction that
-- changes cached data increments its counter in the same transaction; a
-- reader compares the counter it reads with its cache's and drops the cache
-- when they differ, so a cache never serves data older than the reader's
-- snapshot (see affiliate/usercache.go).
CREATE TABLE IF NOT EXISTS cache_versions (
    name    TEXT PRIMARY KEY,
    version BIGINT NOT NULL
);

INSERT INTO cache_versions (name, version) VALUES ('users', 0) ON CONFLICT (name) DO NOTHING;
