-- Room for updated row versions on the pages of the tables that are
-- upserted over and over (the statistics and referral rollups, the per-user
-- volume, users' first_trade_at): with full pages (fillfactor 100) a third
-- to a half of their updates found no room on the row's page, so they
-- wrote the new version elsewhere and a new entry into every index of the
-- table. With room, an update is heap-only (HOT): no index entries, less
-- WAL, less work per trade (README, "Measured figures, dated",
-- 2026-12-05). Pages already written keep their fill; new ones get the
-- room. The CockroachDB overlay is empty: it has no heap pages.
ALTER TABLE affiliate_stats_hourly SET (fillfactor = 75);
ALTER TABLE affiliate_stats_day SET (fillfactor = 75);
ALTER TABLE affiliate_referee_daily SET (fillfactor = 75);
ALTER TABLE referred_volume_daily SET (fillfactor = 75);
ALTER TABLE user_volume SET (fillfactor = 75);
ALTER TABLE users SET (fillfactor = 90);
