package affiliate_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/folioledger/folio/affiliate"

	"github.com/folioledger/folio/schema"
)

// TestMigration025RebuildsRollupsByBusinessTime: migration 025, run over
// accruals as they were before it (no position, no business time) and
// rollups bucketed by recorded time, rebuilds the rollups by business time
// exactly as the folder builds them from the same accruals.
func TestMigration025RebuildsRollupsByBusinessTime(t *testing.T) {
	f := newFixture(t)
	statsActivity(t, f)
	ctx := context.Background()
	if err := f.svc.FoldAllStats(ctx); err != nil {
		t.Fatal(err)
	}
	// Once every hour is closed, the folder has rolled them all into the
	// daily rollup, as the migration sums them.
	f.now = f.now.Add(2 * time.Hour)
	if err := f.svc.FoldAllStats(ctx); err != nil {
		t.Fatal(err)
	}
	tables := []string{"affiliate_stats_hourly", "affiliate_stats_day", "affiliate_referee_daily"}
	dump := func() map[string]string {
		t.Helper()
		out := map[string]string{}
		for _, tb := range tables {
			var s string
			if err := f.db.Admin.QueryRow(ctx, `SELECT coalesce(string_agg(r::text, E'\n' ORDER BY r::text), '') FROM (
				SELECT * FROM `+tb+` WHERE commission <> 0 OR trades <> 0 OR accruals <> 0) r`).Scan(&s); err != nil {
				t.Fatal(err)
			}
			out[tb] = s
		}
		return out
	}
	folded := dump()
	for _, tb := range tables {
		if folded[tb] == "" {
			t.Fatalf("%s is empty after folding", tb)
		}
	}
	// The state before 025: accruals without position or business time,
	// rollups by recorded time (here: emptied, the migration replaces them).
	for _, q := range []string{
		`UPDATE accruals SET shard = NULL, seq = NULL, business_at = NULL`,
		`DELETE FROM affiliate_stats_hourly`, `DELETE FROM affiliate_stats_day`, `DELETE FROM affiliate_referee_daily`,
	} {
		if _, err := f.db.Admin.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	steps, err := schema.Steps()
	if err != nil {
		t.Fatal(err)
	}
	ran := 0
	for _, st := range steps {
		if st.Version != 25 {
			continue
		}
		if _, err := f.db.Admin.Exec(ctx, readsWholeAccruals(st.SQL)); err != nil {
			t.Fatalf("%s step %d: %v", st.Name, st.Index, err)
		}
		ran++
	}
	if ran == 0 {
		t.Fatal("no step of migration 025")
	}
	migrated := dump()
	for _, tb := range tables {
		if migrated[tb] != folded[tb] {
			t.Errorf("%s rebuilt by the migration:\n%s\nfolded:\n%s", tb, migrated[tb], folded[tb])
		}
	}
	var bad int
	if err := f.db.Admin.QueryRow(ctx, `SELECT count(*) FROM accruals_whole a WHERE a.source <> 'trade' AND (a.seq IS NULL OR a.business_at IS NULL
		OR (a.source = 'reversal' AND a.business_at <> (SELECT executed_at FROM trades t WHERE t.id = a.trade_id)))`).Scan(&bad); err != nil {
		t.Fatal(err)
	}
	if bad != 0 {
		t.Errorf("%d bounty or reversal accruals without the position or business time the migration gives them", bad)
	}
}

// readsWholeAccruals is a step of migration 025 run over today's rows: its
// rebuild of the rollups reads the accruals through the view that fills
// compact trade accruals from their trade (migration 042, which on a real
// database runs after 025, over rows 025 has already rebuilt from).
func readsWholeAccruals(sql string) string {
	return strings.ReplaceAll(sql, "FROM accruals a ", "FROM accruals_whole a ")
}

// TestMigration032DefaultsExistingData: migration 032, run over trades,
// users and programs as they were before it, makes every trade a spot
// trade, every user VIP level 0 with that level as the first row of its
// history, and every program's configuration its version 1.
func TestMigration032DefaultsExistingData(t *testing.T) {
	f := newFixture(t)
	statsActivity(t, f)
	ctx := context.Background()
	count := func(sql string) int {
		t.Helper()
		var n int
		if err := f.db.Admin.QueryRow(ctx, sql).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	// Part folded, part in the tail: fold, then book one more batch.
	if err := f.svc.FoldAllStats(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.PostTrades(ctx, []affiliate.NewTrade{{ID: "m32-tail", UserID: "B", Market: "BTCUSDT", Liquidity: "taker",
		Fee: &affiliate.Money{Amount: "1", Currency: "USDT"}, Volume: &affiliate.Money{Amount: "77", Currency: "USDT"}, ExecutedAt: f.now.Add(-time.Minute)}}); err != nil {
		t.Fatal(err)
	}
	trades, users, programs := count(`SELECT count(*) FROM trades`), count(`SELECT count(*) FROM users`), count(`SELECT count(*) FROM programs`)
	if trades == 0 || users == 0 || programs == 0 {
		t.Fatalf("activity made %d trades, %d users, %d programs", trades, users, programs)
	}
	for _, q := range []string{
		`DROP TABLE user_volume`, `ALTER TABLE trades DROP COLUMN product`,
		`ALTER TABLE users DROP COLUMN vip_level, DROP COLUMN utm_source, DROP COLUMN utm_medium, DROP COLUMN utm_campaign`,
		`DROP TABLE user_vip_levels`, `DROP TABLE program_versions`,
	} {
		if _, err := f.db.Admin.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	steps, err := schema.Steps()
	if err != nil {
		t.Fatal(err)
	}
	ran := 0
	for _, st := range steps {
		if st.Version != 32 {
			continue
		}
		if _, err := f.db.Admin.Exec(ctx, readsWholeAccruals(st.SQL)); err != nil {
			t.Fatalf("%s step %d: %v", st.Name, st.Index, err)
		}
		ran++
	}
	if ran == 0 {
		t.Fatal("no step of migration 032")
	}
	for _, g := range schema.GrantStatements(false) {
		if _, err := f.db.Admin.Exec(ctx, g); err != nil {
			t.Fatalf("grants: %v", err)
		}
	}
	if n := count(`SELECT count(*) FROM trades WHERE product = 'spot'`); n != trades {
		t.Errorf("%d of %d trades are spot trades", n, trades)
	}
	if n := count(`SELECT count(*) FROM users u JOIN user_vip_levels v ON v.user_id = u.id AND v.n = 1 AND v.vip_level = 0
		WHERE u.vip_level = 0 AND u.utm_campaign = ''`); n != users {
		t.Errorf("%d of %d users have VIP level 0 with its history row", n, users)
	}
	if n := count(`SELECT count(*) FROM programs p JOIN program_versions v ON v.program_id = p.id AND v.version = 1 AND v.config = p.config`); n != programs {
		t.Errorf("%d of %d programs have their configuration as version 1", n, programs)
	}
	// Own volume: the folded trades' (statsActivity's trades are all
	// folded once FoldAllStats has run; the tail would be added by reads).
	var want, got string
	if err := f.db.Admin.QueryRow(ctx, `SELECT coalesce(string_agg(x, ',' ORDER BY x), '') FROM (
		SELECT user_id || ':' || volume_currency || ':' || sum(volume_amount)::text AS x FROM trades t
		WHERE volume_amount IS NOT NULL AND t.seq <= coalesce((SELECT m.seq FROM stats_fold_marks m WHERE m.shard = t.shard), 0)
		GROUP BY user_id, volume_currency) s`).Scan(&want); err != nil {
		t.Fatal(err)
	}
	if err := f.db.Admin.QueryRow(ctx, `SELECT coalesce(string_agg(user_id || ':' || currency || ':' || volume::text, ',' ORDER BY user_id || ':' || currency || ':' || volume::text), '') FROM user_volume`).Scan(&got); err != nil {
		t.Fatal(err)
	}
	if got != want || want == "" {
		t.Errorf("user_volume after the migration = %s, want %s", got, want)
	}
	// Folding the tail then gives every trade's volume.
	if err := f.svc.FoldAllStats(ctx); err != nil {
		t.Fatal(err)
	}
	if n := count(`SELECT count(*) FROM (SELECT user_id, volume_currency AS currency, sum(volume_amount) AS v FROM trades WHERE volume_amount IS NOT NULL
		GROUP BY 1, 2) s FULL JOIN user_volume u USING (user_id, currency) WHERE s.v IS DISTINCT FROM u.volume`); n != 0 {
		t.Errorf("%d users' own volume differs from their trades' after folding", n)
	}
	// The service reads the migrated data: programs list with version 1.
	all, err := f.svc.ListPrograms(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range all {
		if p.Version != 1 {
			t.Errorf("program %s is at version %d after the migration, want 1", p.ID, p.Version)
		}
	}
}

// TestMigration030FollowCodes: migration 030 makes followers of their code
// exactly the referees whose rate equals the rate of the code they joined
// with, while its owner still refers them; a custom rate, a code without
// a rate, a re-parented referee and a user without a code stay pinned.
func TestMigration030FollowCodes(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for _, q := range []string{
		`INSERT INTO referral_codes (code, owner_id, rate, note, created_at) VALUES ('RRRRRR', 'R', 0.3, '', now()), ('NQRATE', 'R', NULL, '', now())`,
		`INSERT INTO users (id, referrer_id, referral_code, rate, registered_at, created_at) VALUES
			('R', NULL, NULL, 0.5, now(), now()),
			('same', 'R', 'RRRRRR', 0.300, now(), now()),
			('custom', 'R', 'RRRRRR', 0.25, now(), now()),
			('norate', 'R', 'NQRATE', 0.2, now(), now()),
			('moved', 'X', 'RRRRRR', 0.3, now(), now()),
			('none', 'R', NULL, 0.3, now(), now()),
			('unrated', 'R', 'RRRRRR', NULL, now(), now())`,
		`UPDATE users SET rate_follows_code = false`,
	} {
		if _, err := f.db.Admin.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	steps, err := schema.Steps()
	if err != nil {
		t.Fatal(err)
	}
	ran := 0
	for _, st := range steps {
		if st.Version != 30 {
			continue
		}
		if _, err := f.db.Admin.Exec(ctx, readsWholeAccruals(st.SQL)); err != nil {
			t.Fatalf("%s step %d: %v", st.Name, st.Index, err)
		}
		ran++
	}
	if ran == 0 {
		t.Fatal("no step of migration 030")
	}
	for id, want := range map[string]bool{"R": false, "same": true, "custom": false, "norate": false, "moved": false, "none": false, "unrated": false} {
		var got bool
		if err := f.db.Admin.QueryRow(ctx, `SELECT rate_follows_code FROM users WHERE id = $1`, id).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("%s: rate_follows_code = %v after migration 030, want %v", id, got, want)
		}
	}
}
