package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/folioledger/folio/affiliate"
	"github.com/folioledger/folio/ledger"
	"github.com/folioledger/folio/reconcile"
)

func TestReconcileCLI(t *testing.T) {
	clearEnv(t)
	ctx := context.Background()
	db, app := appDB(t)
	svc := affiliate.NewService(app, ledger.New(app))
	if _, err := svc.PutProgram(ctx, "broker", affiliate.ProgramSpec{Kind: "levels", Levels: []string{"0.25", "0.10", "0.05"}, Default: true}, "test"); err != nil {
		t.Fatal(err)
	}
	for _, u := range []affiliate.NewUser{{ID: "A"}, {ID: "B"}} {
		if _, _, err := svc.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	if err := svc.SetReferrer(ctx, "B", "A", "test"); err != nil {
		t.Fatal(err)
	}
	res, err := svc.PostTrades(ctx, []affiliate.NewTrade{{ID: "t1", UserID: "B", Market: "BTCUSDT", Liquidity: "taker",
		Fee: &affiliate.Money{Amount: "10", Currency: "USDT"}, ExecutedAt: time.Now().Add(-time.Minute)}})
	if err != nil || res[0].Err != nil {
		t.Fatalf("PostTrades = %+v, %v", res, err)
	}
	stdout, stderr, code := cli(t, ctx, "reconcile", "--database-url", db.URL, "--from", "2020-01-01")
	if code != 0 {
		t.Fatalf("reconcile exit %d, want 0; stderr %s; stdout %s", code, stderr, stdout)
	}
	var rep struct {
		OK         bool `json:"ok"`
		Currencies []struct {
			Currency, FeesBooked, Distributed string
		} `json:"currencies"`
	}
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil || !rep.OK || len(rep.Currencies) != 1 {
		t.Fatalf("report = %s (%v), want ok with one currency", stdout, err)
	}
	// CSV parses back with a header row.
	stdout, _, code = cli(t, ctx, "reconcile", "--database-url", db.URL, "--format", "csv")
	rows, err := csv.NewReader(strings.NewReader(stdout)).ReadAll()
	if code != 0 || err != nil || len(rows) != 2 || rows[0][0] != "section" || rows[1][1] != "USDT" {
		t.Fatalf("csv = %q (%v, exit %d)", stdout, err, code)
	}
	// A commission entry deleted behind the ledger's back is a discrepancy.
	for _, q := range []string{`DELETE FROM postings WHERE entry_id = (SELECT commission_entry_id FROM trades WHERE id = 't1')`,
		`DELETE FROM entries WHERE id = (SELECT commission_entry_id FROM trades WHERE id = 't1')`} {
		if _, err := db.Admin.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	stdout, stderr, code = cli(t, ctx, "reconcile", "--database-url", db.URL)
	if code != 1 || !strings.Contains(stdout, reconcile.DiscCommissionLink) {
		t.Fatalf("after tampering: exit %d, want 1 with %s; stdout %s stderr %s", code, reconcile.DiscCommissionLink, stdout, stderr)
	}
}

// folio demo seeds a database once; the seeded books reconcile and verify,
// and seeding again writes nothing.
func TestDemoCLI(t *testing.T) {
	clearEnv(t)
	ctx := context.Background()
	db, _ := appDB(t)
	count := func() (n int) {
		if err := db.Admin.QueryRow(ctx, `SELECT count(*) FROM entries`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	for i := 0; i < 2; i++ {
		if out, errs, code := cli(t, ctx, "demo", "--database-url", db.URL); code != 0 {
			t.Fatalf("demo run %d: exit %d\n%s\n%s", i, code, out, errs)
		}
		if i == 0 && count() == 0 {
			t.Fatal("demo wrote no entries")
		}
	}
	first := count()
	if _, _, code := cli(t, ctx, "demo", "--database-url", db.URL); code != 0 || count() != first {
		t.Fatalf("re-seeding: exit %d, entries %d → %d; want a no-op", code, first, count())
	}
	if out, _, code := cli(t, ctx, "verify", "--database-url", db.URL); code != 0 {
		t.Fatalf("verify after demo: exit %d\n%s", code, out)
	}
	if out, _, code := cli(t, ctx, "reconcile", "--database-url", db.URL); code != 0 {
		t.Fatalf("reconcile after demo: exit %d\n%s", code, out)
	}
}
