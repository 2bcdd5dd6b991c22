package periods_test

import (
	"context"
	"crypto/rand"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/folioledger/folio"
	"github.com/folioledger/folio/periods"
	"github.com/folioledger/folio/seal"
)

// TestBalanceTreeAcrossReopen: a close's tree holds the closing balances
// at its cut (a late March trade recorded after the close is not in it);
// a reopened period has no proof; closed again, its new tree and
// checkpoint include the late trade, and both checkpoints verify with the
// stock note and tlog.
func TestBalanceTreeAcrossReopen(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	skey, vkey, err := note.GenerateKey(rand.Reader, seal.KeyName)
	if err != nil {
		t.Fatal(err)
	}
	if f.svc.Seals, err = seal.New(f.env.App, skey); err != nil {
		t.Fatal(err)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	march := month(t, "2026-03")
	f.trade(t, "100", f.now) // March 5: 208 C 25
	f.now = time.Date(2026, 4, 2, 0, 0, 0, 0, time.UTC)
	f.close(t, march)

	prove := func(want string) string {
		t.Helper()
		p, err := f.svc.ProveBalance(ctx, march, "208:USDT:C")
		if err != nil {
			t.Fatal(err)
		}
		n, err := note.Open([]byte(p.Checkpoint), note.VerifierList(v))
		if err != nil {
			t.Fatal(err)
		}
		m, size, root, err := periods.ParseCheckpoint(n.Text)
		if err != nil || m != march || size != p.Proof.Size {
			t.Fatalf("checkpoint %q: %v", n.Text, err)
		}
		if err := tlog.CheckRecord(p.Proof.Hashes, size, root, p.Proof.Index, tlog.RecordHash(p.Proof.Leaf)); err != nil {
			t.Fatalf("tlog.CheckRecord: %v", err)
		}
		if !strings.HasSuffix(string(p.Proof.Leaf), "\n"+want+"\n") {
			t.Fatalf("leaf %q, want the amount %s", p.Proof.Leaf, want)
		}
		return p.Checkpoint
	}
	first := prove("25")
	f.trade(t, "40", time.Date(2026, 3, 30, 0, 0, 0, 0, time.UTC)) // late: 208 C +10
	if again := prove("25"); again != first {
		t.Fatal("a late trade changed the closed period's checkpoint")
	}
	if _, err := f.svc.Reopen(ctx, march, periods.Actor{ID: "k1", Person: "p1"}, "late trade"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.ConfirmReopen(ctx, march, periods.Actor{ID: "k2", Person: "p2"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.ProveBalance(ctx, march, "208:USDT:C"); folio.ErrorCode(err) != folio.ENOTFOUND {
		t.Fatalf("ProveBalance of a reopened period = %v, want not_found", err)
	}
	f.close(t, march)
	if second := prove("35"); second == first {
		t.Fatal("the new close signed the same checkpoint")
	}
	if _, err := f.svc.ProveBalance(ctx, march, "208:USDT:nobody"); folio.ErrorCode(err) != folio.ENOTFOUND {
		t.Fatalf("ProveBalance of an account without a balance = %v, want not_found", err)
	}
}
