package api

import (
	"context"
	"encoding/base64"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/folioledger/folio"
	"github.com/folioledger/folio/keys"
)

type balanceProof struct {
	Period            string
	Index, Size       int64
	Leaf              string
	Hashes            []string
	Checkpoint        string
	JournalCheckpoint string `json:"journal_checkpoint"`
}

// openPeriodCheckpoint opens a period checkpoint with the stock note
// package and returns its body's lines.
func openPeriodCheckpoint(t *testing.T, cp string, v note.Verifier) []string {
	t.Helper()
	n, err := note.Open([]byte(cp), note.VerifierList(v))
	if err != nil {
		t.Fatalf("note.Open(period checkpoint): %v\n%s", err, cp)
	}
	return strings.Split(strings.TrimSuffix(n.Text, "\n"), "\n")
}

// TestBalanceProofsAtPeriodClose: closing March publishes a signed period
// checkpoint whose root is the Merkle tree of every account's closing
// balance; an affiliate proves its own 208 balance with the stock
// tlog.CheckRecord and note.Open, a changed balance fails, other people's
// accounts are 404 to it, and an entry dated in March after the close
// changes neither the proof nor the checkpoint.
func TestBalanceProofsAtPeriodClose(t *testing.T) {
	f := newPayoutFixture(t)
	f.brokerTree(nil)
	march := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	f.clock.Advance(march.Add(10 * 24 * time.Hour).Sub(f.clock.Now()))
	f.trade("D", "100") // March 11: 208 A 5, B 10, C 25
	f.clock.Advance(22 * 24 * time.Hour)
	carol := f.key(keys.RoleAffiliate, "C")
	const path = "/v1/audit/proofs/balance?account=208:USDT:C&period=2026-03"

	if res := f.do(req{Method: "GET", Path: path, Key: f.auditor.secret}); res.Status != http.StatusNotFound || problemCode(t, res) != folio.ENOTFOUND {
		t.Fatalf("balance proof of an open period = %d %s, want 404", res.Status, res.Body)
	}
	f.periodCall(http.StatusOK, f.admin1, "POST", "/v1/periods/2026-03/close", nil)
	f.periodCall(http.StatusOK, f.admin2, "POST", "/v1/periods/2026-03/close/confirm", nil)

	v := f.verifierOf(carol)
	var p balanceProof
	f.must(http.StatusOK, req{Method: "GET", Path: path, Key: carol}).Decode(t, &p)
	leaf, err := base64.StdEncoding.DecodeString(p.Leaf)
	if err != nil || string(leaf) != "folio-balance/1\n208:USDT:C\nUSDT\n25\n" || p.Period != "2026-03" {
		t.Fatalf("carol's balance proof = %+v (leaf %q), want 208:USDT:C at 25 in 2026-03", p, leaf)
	}
	lines := openPeriodCheckpoint(t, p.Checkpoint, v)
	size, serr := strconv.ParseInt(lines[1], 10, 64)
	raw, rerr := base64.StdEncoding.DecodeString(lines[2])
	if len(lines) != 5 || lines[0] != v.Name()+"/period/2026-03" || serr != nil || rerr != nil || len(raw) != 32 || size != p.Size ||
		!strings.HasPrefix(lines[3], "cut ") || !strings.HasPrefix(lines[4], "seal ") {
		t.Fatalf("period checkpoint body %q: want origin %s/period/2026-03, size %d, root, cut, seal", lines, v.Name(), p.Size)
	}
	root := tlog.Hash(raw)
	if err := tlog.CheckRecord(decodeHashes(t, p.Hashes), p.Size, root, p.Index, tlog.RecordHash(leaf)); err != nil {
		t.Fatalf("tlog.CheckRecord(carol's balance): %v", err)
	}
	changed := []byte(strings.Replace(string(leaf), "\n25\n", "\n26\n", 1))
	if err := tlog.CheckRecord(decodeHashes(t, p.Hashes), p.Size, root, p.Index, tlog.RecordHash(changed)); err == nil {
		t.Fatal("tlog.CheckRecord accepted a changed balance")
	}
	// The journal checkpoint of the seal at the close: signed by the same
	// key, and the seal line of the period checkpoint names its tree.
	jn, err := note.Open([]byte(p.JournalCheckpoint), note.VerifierList(v))
	if err != nil {
		t.Fatalf("note.Open(journal checkpoint): %v", err)
	}
	jl := strings.Split(jn.Text, "\n")
	if f := strings.Fields(lines[4]); len(f) != 4 || f[2] != jl[1] || f[3] != jl[2] {
		t.Fatalf("period checkpoint's %q does not name the journal checkpoint %q", lines[4], jn.Text)
	}

	// The tree holds every account with a posting by March's end, the
	// platform's too; the auditor proves each against the one root.
	var stored []string
	rows, err := f.db.Admin.Query(context.Background(), `SELECT account FROM period_balances ORDER BY idx`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var a string
		if err := rows.Scan(&a); err != nil {
			t.Fatal(err)
		}
		stored = append(stored, a)
	}
	platform := ""
	for _, a := range stored {
		if strings.Count(a, ":") == 1 && platform == "" {
			platform = a
		}
	}
	if int64(len(stored)) != p.Size || platform == "" || !slices.Contains(stored, "208:USDT:A") {
		t.Fatalf("balance tree of %d leaves holds %v, want every account with a posting (a platform account too)", p.Size, stored)
	}
	for _, c := range []struct{ account string }{{"208:USDT:A"}, {"208:USDT:B"}, {platform}} {
		var q balanceProof
		f.must(http.StatusOK, req{Method: "GET", Path: "/v1/audit/proofs/balance?period=2026-03&account=" + c.account, Key: f.auditor.secret}).Decode(t, &q)
		l, _ := base64.StdEncoding.DecodeString(q.Leaf)
		if q.Checkpoint != p.Checkpoint || !strings.HasPrefix(string(l), "folio-balance/1\n"+c.account+"\n") {
			t.Fatalf("proof of %s = %+v, want the same checkpoint", c.account, q)
		}
		if err := tlog.CheckRecord(decodeHashes(t, q.Hashes), q.Size, root, q.Index, tlog.RecordHash(l)); err != nil {
			t.Fatalf("tlog.CheckRecord(%s): %v", c.account, err)
		}
	}
	// Carol gets nothing of other holders' or the platform's accounts.
	for _, acc := range []string{"208:USDT:B", platform, "208:USDT:Z"} {
		res := f.do(req{Method: "GET", Path: "/v1/audit/proofs/balance?period=2026-03&account=" + acc, Key: carol})
		if res.Status != http.StatusNotFound || strings.Contains(string(res.Body), "folio-balance") {
			t.Fatalf("carol asks for %s = %d %s, want 404", acc, res.Status, res.Body)
		}
	}

	// A late entry dated in March changes neither the proof nor the
	// checkpoint: the tree is the close's.
	f.must(http.StatusCreated, req{Method: "POST", Path: "/v1/entries", Key: bootstrapKey, Body: map[string]any{
		"idempotency_key": "late-201", "effective_at": "2026-03-20T10:00:00Z",
		"postings": []any{posting("110:USDT", "debit", "7"), posting("201:USDT:C", "credit", "7")}}})
	var again balanceProof
	f.must(http.StatusOK, req{Method: "GET", Path: path, Key: carol}).Decode(t, &again)
	if again.Leaf != p.Leaf || again.Checkpoint != p.Checkpoint {
		t.Fatalf("carol's proof changed after a late entry: %+v, was %+v", again, p)
	}

	// A stored balance changed by the superuser: the server refuses to prove
	// from leaves that do not give the signed root.
	if _, err := f.db.Admin.Exec(context.Background(), `UPDATE period_balances SET amount = '26' WHERE account = '208:USDT:C'`); err != nil {
		t.Fatal(err)
	}
	if res := f.do(req{Method: "GET", Path: path, Key: carol}); res.Status == http.StatusOK {
		t.Fatalf("a proof from tampered leaves = %d %s, want an error", res.Status, res.Body)
	}
}

// TestBalanceProofHostile: bad accounts and periods get 400 problems, an
// unknown account or an open period 404, unknown parameters 400.
func TestBalanceProofHostile(t *testing.T) {
	f := newPayoutFixture(t)
	f.brokerTree(nil)
	f.clock.Advance(time.Date(2026, 3, 11, 0, 0, 0, 0, time.UTC).Sub(f.clock.Now()))
	f.trade("D", "100")
	f.clock.Advance(22 * 24 * time.Hour)
	f.periodCall(http.StatusOK, f.admin1, "POST", "/v1/periods/2026-03/close", nil)
	f.periodCall(http.StatusOK, f.admin2, "POST", "/v1/periods/2026-03/close/confirm", nil)
	const base = "/v1/audit/proofs/balance?"
	for _, c := range []struct {
		query  string
		status int
		code   string
	}{
		{"account=208:USDT:C", http.StatusBadRequest, folio.EINVALID},
		{"period=2026-03", http.StatusBadRequest, folio.EINVALID},
		{"account=208:USDT:C&period=2026-13", http.StatusBadRequest, folio.EINVALID},
		{"account=208:USDT:C&period=2026-3", http.StatusBadRequest, folio.EINVALID},
		{"account=208:USDT:C&period=2026-03-01", http.StatusBadRequest, folio.EINVALID},
		{"account=208:USDT:C&period='%20OR%201=1", http.StatusBadRequest, folio.EINVALID},
		{"account=nonsense&period=2026-03", http.StatusBadRequest, folio.EINVALID},
		{"account=208:usdt:C&period=2026-03", http.StatusBadRequest, folio.EINVALID},
		{"account=208:USDT:C:D&period=2026-03", http.StatusBadRequest, folio.EINVALID},
		{"account=208:USDT:C%27;DROP%20TABLE%20period_balances&period=2026-03", http.StatusBadRequest, folio.EINVALID},
		{"account=" + strings.Repeat("9", 5000) + "&period=2026-03", http.StatusBadRequest, folio.EINVALID},
		{"account=208:USDT:C&period=2026-03&size=3", http.StatusBadRequest, folio.EINVALID},
		{"account=208:USDT:nobody&period=2026-03", http.StatusNotFound, folio.ENOTFOUND},
		{"account=208:USDT:C&period=2026-04", http.StatusNotFound, folio.ENOTFOUND},
		{"account=208:USDT:C&period=2020-01", http.StatusNotFound, folio.ENOTFOUND},
	} {
		res := f.do(req{Method: "GET", Path: base + c.query, Key: f.auditor.secret})
		if res.Status != c.status || problemCode(t, res) != c.code {
			t.Errorf("GET %s = %d %s, want %d %s", c.query, res.Status, res.Body, c.status, c.code)
		}
	}
	// Keys: no key 401, a poster 403.
	if res := f.do(req{Method: "GET", Path: base + "account=208:USDT:C&period=2026-03"}); res.Status != http.StatusUnauthorized {
		t.Errorf("no key = %d, want 401", res.Status)
	}
	if res := f.do(req{Method: "GET", Path: base + "account=208:USDT:C&period=2026-03", Key: f.key(keys.RolePoster, "")}); res.Status != http.StatusForbidden {
		t.Errorf("poster = %d, want 403", res.Status)
	}
}
