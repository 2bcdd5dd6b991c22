package affiliate_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/folioledger/folio/affiliate"
)

// TestFoldFromMemoryMatchesDatabase folds the statistics activity (priced
// and unpriced trades, late trades, a reversal, bounties) once with what
// the trade writer handed over and once, from scratch, by reading every
// row back: every rollup row is the same. Both paths must have run in the
// first pass (the unpriced trades, bounties and reversal are read back),
// in one round.
// A trader re-parented after the activity, then trading again: the
// referred volume goes to the referrer at folding for the trades booked
// before (their segments were booked under an older users' version, so
// their volumes are read back) and from memory for the trades after.
func TestFoldFromMemoryMatchesDatabase(t *testing.T) {
	f := newFixture(t)
	statsActivity(t, f)
	ctx := context.Background()
	if err := f.svc.SetReferrer(ctx, "C1", "B2", "t"); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		f.now = f.now.Add(10 * time.Minute)
		res, err := f.svc.PostTrades(ctx, []affiliate.NewTrade{{ID: fmt.Sprintf("moved-%d", i), UserID: "C1", Market: "BTCUSDT", Liquidity: "taker",
			ExecutedAt: f.now.Add(-time.Minute), Fee: &affiliate.Money{Amount: "1.25", Currency: "USDT"}, Volume: &affiliate.Money{Amount: "2500", Currency: "USDT"}}})
		if err != nil || res[0].Err != nil {
			t.Fatalf("trade after the move: %v %v", err, res)
		}
	}
	var total int64
	if err := f.db.Admin.QueryRow(ctx, `SELECT count(*) FROM accruals_whole`).Scan(&total); err != nil {
		t.Fatal(err)
	}
	// Until nothing is left to fold and every closed hour is rolled into
	// its day (how far the day roll got depends on the number of rounds).
	foldAll := func() {
		t.Helper()
		for {
			n, more, err := f.svc.FoldRound(ctx, 0)
			if err != nil {
				t.Fatal(err)
			}
			if n == 0 && !more {
				return
			}
		}
	}
	// One round folds everything: the gaps between the segments (bounties,
	// the reversal, unpriced trades) are read back within it.
	if _, _, err := f.svc.FoldRound(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if c := f.svc.FoldCounts(); c.Memory+c.Database != total {
		t.Fatalf("one round folded %d of %d accruals (%d from memory); want all", c.Memory+c.Database, total, c.Memory)
	}
	foldAll()
	counts := f.svc.FoldCounts()
	fromMemory := counts.Memory
	if fromMemory == 0 || fromMemory >= total || counts.Memory+counts.Database != total {
		t.Fatalf("%d of %d accruals folded from memory, %d read back; want some but not all from memory, each once", fromMemory, total, counts.Database)
	}
	tables := []string{"affiliate_stats_hourly", "affiliate_stats_day", "affiliate_referee_daily", "referred_volume_daily", "user_volume",
		"stats_fold_marks", "stats_day_marks"}
	snapshot := func() map[string][]string {
		t.Helper()
		out := map[string][]string{}
		for _, tb := range tables {
			col := tb + "::text"
			if strings.HasSuffix(tb, "_marks") { // without the time each was moved
				col = map[string]string{"stats_fold_marks": "shard::text || ' ' || seq::text", "stats_day_marks": "hour::text"}[tb]
			}
			rows, err := f.db.Admin.Query(ctx, `SELECT `+col+` FROM `+tb+` ORDER BY 1`)
			if err != nil {
				t.Fatal(err)
			}
			for rows.Next() {
				var s string
				if err := rows.Scan(&s); err != nil {
					t.Fatal(err)
				}
				out[tb] = append(out[tb], s)
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
		}
		return out
	}
	memory := snapshot()
	for _, tb := range []string{"affiliate_stats_hourly", "affiliate_referee_daily", "referred_volume_daily", "stats_fold_marks"} {
		if len(memory[tb]) == 0 {
			t.Fatalf("%s is empty after folding", tb)
		}
	}
	// Fold everything again, reading every row back.
	for _, tb := range tables {
		if _, err := f.db.Admin.Exec(ctx, `DELETE FROM `+tb); err != nil {
			t.Fatal(err)
		}
	}
	f.svc.ForgetFoldMemory()
	foldAll()
	if again := f.svc.FoldCounts(); again.Memory != fromMemory || again.Database != counts.Database+total {
		t.Fatalf("the second pass folded %d rows from memory and read %d back; want none and %d", again.Memory-fromMemory, again.Database-counts.Database, total)
	}
	database := snapshot()
	for _, tb := range tables {
		m, d := memory[tb], database[tb]
		if len(m) != len(d) {
			t.Fatalf("%s: %d rows folded from memory, %d from the database", tb, len(m), len(d))
		}
		for i := range m {
			if m[i] != d[i] {
				t.Fatalf("%s row %d: from memory %s, from the database %s", tb, i, m[i], d[i])
			}
		}
	}
	checkStatsBruteForce(t, f, f.now.Add(-72*time.Hour).Truncate(time.Hour), f.now.Add(time.Hour), "refolded from the database")
}
