package affiliate_test

import (
	"context"
	"testing"

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
		if _, err := f.db.Admin.Exec(ctx, st.SQL); err != nil {
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
	if err := f.db.Admin.QueryRow(ctx, `SELECT count(*) FROM accruals a WHERE a.source <> 'trade' AND (a.seq IS NULL OR a.business_at IS NULL
		OR (a.source = 'reversal' AND a.business_at <> (SELECT executed_at FROM trades t WHERE t.id = a.trade_id)))`).Scan(&bad); err != nil {
		t.Fatal(err)
	}
	if bad != 0 {
		t.Errorf("%d bounty or reversal accruals without the position or business time the migration gives them", bad)
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
		if _, err := f.db.Admin.Exec(ctx, st.SQL); err != nil {
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
