package bundle_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/folioledger/folio/accounts"
	"github.com/folioledger/folio/affiliate"
	"github.com/folioledger/folio/affiliate/affiliatetest"
	"github.com/folioledger/folio/bundle"
	"github.com/folioledger/folio/ledger"
	"github.com/folioledger/folio/payouts"
	"github.com/folioledger/folio/schema/schematest"
)

func TestMain(m *testing.M) { os.Exit(schematest.Main(m)) }

// month generates a month of activity on three journal shards — trades of
// a referral forest, manual entries (some pending, one posted, one
// reversed), a busted trade — with activity before it (opening balances)
// and after it (outside the bundle), and exports March. It returns the
// bundle's directory.
func month(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	now := time.Date(2026, 1, 20, 0, 0, 0, 0, time.UTC)
	env := affiliatetest.New(t, func() time.Time { return now })
	if err := ledger.SetShards(ctx, env.App, 3); err != nil {
		t.Fatal(err)
	}
	env.BrokerTree(t)
	rng := rand.New(rand.NewPCG(18, 2))
	n := 0
	trade := func(user string) {
		n++
		fee := fmt.Sprintf("%d.%03d", 1+rng.IntN(200), rng.IntN(1000))
		tr := affiliatetest.Trade(fmt.Sprintf("t-%d", n), user, fee)
		tr.ExecutedAt = now.Add(-time.Duration(rng.IntN(3600)) * time.Second)
		res, err := env.Svc.PostTrades(ctx, []affiliate.NewTrade{tr})
		if err != nil || res[0].Status != affiliate.TradeCreated {
			t.Fatalf("trade %d: %v %+v", n, err, res)
		}
	}
	manual := func(key string, pending bool, postings ...ledger.NewPosting) *ledger.Entry {
		res, err := env.Ledger.Post(ctx, []ledger.NewEntry{{IdempotencyKey: key, Description: "manual \"quoted\", with comma\nand a line", Pending: pending,
			Metadata: []byte(`{"note":"<b>&"}`), Postings: postings}}, ledger.Options{})
		if err != nil || res[0].Err != nil {
			t.Fatalf("manual %s: %v %+v", key, err, res)
		}
		return res[0].Entry
	}
	users := []string{"A", "B", "C", "D"}
	for i := range 10 {
		trade(users[i%4])
	}
	manual("jan-deposit", false, post("110:USDT", "debit", "1000"), post("201:USDT:D", "credit", "1000"))
	// Holds placed before March and posted in it: the bundle carries them
	// in referenced.jsonl.
	var holds []*ledger.Entry
	for i := range 2 {
		holds = append(holds, manual(fmt.Sprintf("feb-hold-%d", i), true, post("201:USDT:D", "debit", "2"), post("110:USDT", "credit", "2")))
	}

	// A payout executed through the exchange's webhook on February 28:
	// its entry stays pending until the exchange confirms, on March 1, so
	// March's post_pending entry counts as a payout (referenced.jsonl).
	now = time.Date(2026, 2, 28, 12, 0, 0, 0, time.UTC)
	pay := payouts.NewService(env.Svc)
	pay.Webhook = "http://exchange.invalid/transfers"
	pay.Deliver = func(context.Context, string, string, map[string]string, []byte) (int, string) { return 200, "ok" }
	b, _, err := pay.BuildBatch(ctx, payouts.BuildOptions{}, "admin-1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pay.ApproveBatch(ctx, b.ID, "admin-2"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := pay.ExecuteBatch(ctx, b.ID, "admin-2"); err != nil {
		t.Fatal(err)
	}
	now = time.Date(2026, 3, 1, 0, 0, 1, 0, time.UTC)
	if n, err := pay.DeliverOutbox(ctx); err != nil || n != 1 {
		t.Fatalf("DeliverOutbox = %d, %v; want the payout delivered", n, err)
	}
	for day := range 30 {
		now = time.Date(2026, 3, 1+day, 9, 0, 0, 0, time.UTC)
		for range 3 {
			trade(users[rng.IntN(4)])
		}
		if day%7 == 0 {
			manual(fmt.Sprintf("mar-deposit-%d", day), false, post("110:USDT", "debit", "12.5"), post("201:USDT:C", "credit", "12.5"))
		}
	}
	for _, h := range holds {
		if res, err := env.Ledger.Apply(ctx, []ledger.Op{{Post: &ledger.PostOp{EntryID: h.ID}}}, ledger.Options{}); err != nil || res[0].Err != nil {
			t.Fatalf("post a February hold: %v %+v", err, res)
		}
	}
	pend := manual("mar-hold", true, post("201:USDT:D", "debit", "3"), post("110:USDT", "credit", "3"))
	if res, err := env.Ledger.Apply(ctx, []ledger.Op{{Post: &ledger.PostOp{EntryID: pend.ID}}}, ledger.Options{}); err != nil || res[0].Err != nil {
		t.Fatalf("post pending: %v %+v", err, res)
	}
	typo := manual("mar-typo", false, post("110:USDT", "debit", "9"), post("201:USDT:B", "credit", "9"))
	if res, err := env.Ledger.Apply(ctx, []ledger.Op{{Reverse: &ledger.ReverseOp{EntryID: typo.ID}}}, ledger.Options{}); err != nil || res[0].Err != nil {
		t.Fatalf("reverse: %v %+v", err, res)
	}
	if _, err := env.Svc.ReverseTrade(ctx, "t-15", "test"); err != nil {
		t.Fatal(err)
	}
	now = time.Date(2026, 4, 2, 0, 0, 0, 0, time.UTC)
	trade("D")
	env.Verify(t)

	dir := filepath.Join(t.TempDir(), "march")
	m, err := bundle.Export(ctx, env.App, time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC), now, dir)
	if err != nil {
		t.Fatalf("Export: %v", err)
	}
	if len(m.Files) != 10 {
		t.Fatalf("manifest lists %d files", len(m.Files))
	}
	return dir
}

func post(account, side, amount string) ledger.NewPosting {
	return ledger.NewPosting{Account: account, Side: accounts.Side(side), Amount: amount}
}

// TestAuditBundle: a month exported verifies with no database; changing
// one byte of any file, or deleting a line of it, fails naming the file
// (and for the journal's files the line).
func TestAuditBundle(t *testing.T) {
	dir := month(t)
	sum, err := bundle.Verify(dir)
	if err != nil {
		t.Fatalf("Verify of a fresh export: %v", err)
	}
	t.Logf("summary %+v", sum)
	raw, err := os.ReadFile(filepath.Join(dir, bundle.FileReconciliation))
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Currencies []struct {
			Currency string `json:"currency"`
			PaidOut  string `json:"paid_out"`
		} `json:"currencies"`
	}
	if err := json.Unmarshal(raw, &rep); err != nil {
		t.Fatal(err)
	}
	paid := ""
	for _, c := range rep.Currencies {
		if c.Currency == "USDT" {
			paid = c.PaidOut
		}
	}
	if paid == "" || paid == "0" {
		t.Fatalf("March's reconciliation pays out %q USDT, want the February payout confirmed in March: %s", paid, raw)
	}
	// 30 days × 3 trades × 2 entries, 5 deposits, hold + post, typo +
	// reversal, the busted trade's reversals.
	if sum.Shards != 3 || sum.Entries < 190 || sum.Postings < 4*sum.Entries/2 {
		t.Fatalf("summary %+v: want 3 shards and March's entries", sum)
	}

	names := []string{bundle.FileManifest}
	for _, f := range []string{bundle.FileCurrencies, bundle.FileChart, bundle.FileAnchors, bundle.FileEntries, bundle.FileEntriesCSV,
		bundle.FilePostingsCSV, bundle.FileReferenced, bundle.FileOpening, bundle.FileClosing, bundle.FileReconciliation} {
		names = append(names, f)
	}
	lineFiles := map[string]bool{bundle.FileEntries: true, bundle.FileEntriesCSV: true, bundle.FilePostingsCSV: true}
	check := func(name, what string, change func([]byte) []byte) {
		t.Helper()
		cp := t.TempDir()
		copyDir(t, dir, cp)
		raw, err := os.ReadFile(filepath.Join(cp, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(cp, name), change(raw), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err = bundle.Verify(cp)
		var p *bundle.Problem
		if !errors.As(err, &p) {
			t.Errorf("%s %s: Verify = %v, want a problem", name, what, err)
			return
		}
		t.Logf("%s %s: %v", name, what, p)
		switch {
		case name == bundle.FileManifest:
			if p.File != name && !strings.Contains(p.Detail, "manifest") {
				t.Errorf("%s %s: problem %v does not name the manifest", name, what, p)
			}
		case p.File != name:
			t.Errorf("%s %s: problem names %s: %v", name, what, p.File, p)
		case lineFiles[name] && p.Line == 0:
			t.Errorf("%s %s: problem names no line: %v", name, what, p)
		}
	}
	for _, name := range names {
		raw, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		for _, at := range []int{0, len(raw) / 5, len(raw) / 3, len(raw) / 2, 2 * len(raw) / 3, len(raw) - 2, len(raw) - 1} {
			for _, mask := range []byte{0x01, 0x20} {
				check(name, fmt.Sprintf("byte %d ^ %#x", at, mask), func(b []byte) []byte {
					b = bytes.Clone(b)
					b[at] ^= mask
					return b
				})
			}
		}
		if lines := bytes.Count(raw, []byte("\n")); lines > 1 {
			for _, del := range []int{0, lines / 2, lines - 1} {
				check(name, fmt.Sprintf("line %d deleted", del+1), func(b []byte) []byte {
					ls := bytes.SplitAfter(b, []byte("\n"))
					return bytes.Join(append(ls[:del:del], ls[del+1:]...), nil)
				})
			}
		}
	}
	t.Run("an unlisted file", func(t *testing.T) {
		cp := t.TempDir()
		copyDir(t, dir, cp)
		if err := os.WriteFile(filepath.Join(cp, "extra.txt"), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		var p *bundle.Problem
		if _, err := bundle.Verify(cp); !errors.As(err, &p) || p.File != "extra.txt" {
			t.Errorf("Verify with an extra file = %v", err)
		}
	})
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, path)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(to, rel), 0o755)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(to, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestConsistentRewrite: an entry changed and every later hash of its
// shard recomputed, with fresh digests, still fails at the shard's end
// anchor; only rewriting the anchor too passes — which is why an auditor
// compares anchors with the previous bundle's (doc.go).
func TestConsistentRewrite(t *testing.T) {
	dir := month(t)
	entries, anchors := bundle.ReadBundle(t, dir)
	entries[0].Description = "rewritten"
	for i, e := range entries {
		if e.Shard != entries[0].Shard {
			break
		}
		if i > 0 {
			e.PrevHash = entries[i-1].Hash
		}
		bundle.Rehash(t, e)
	}
	bundle.Rewrite(t, dir, entries, anchors)
	_, err := bundle.Verify(dir)
	var p *bundle.Problem
	if !errors.As(err, &p) || p.File != bundle.FileEntries || !strings.Contains(p.Detail, "anchor") {
		t.Fatalf("Verify of a rewritten chain = %v, want the end anchor named", err)
	}
	last := entries[0]
	for _, e := range entries {
		if e.Shard == last.Shard {
			last = e
		}
	}
	anchors[last.Shard].ToHash = last.Hash
	bundle.Rewrite(t, dir, entries, anchors)
	if _, err := bundle.Verify(dir); err != nil {
		t.Fatalf("Verify of a rewritten chain with its anchor = %v: the bundle alone cannot tell", err)
	}
}
