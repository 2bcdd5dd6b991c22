package seal_test

import (
	"crypto/sha256"
	"fmt"
	"testing"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/folioledger/folio/seal"
)

// TestBalanceTree proves every balance of trees of 1 to 9 leaves with the
// stock tlog.CheckRecord, and checks that a changed amount, another
// index or another tree's root fails, and that the order of the input
// does not matter.
func TestBalanceTree(t *testing.T) {
	for n := 1; n <= 9; n++ {
		var bs, reversed []seal.Balance
		for i := range n {
			bs = append(bs, seal.Balance{Account: fmt.Sprintf("208:USDT:user%02d", i), Currency: "USDT", Amount: fmt.Sprintf("%d.50", i)})
		}
		for i := n - 1; i >= 0; i-- {
			reversed = append(reversed, bs[i])
		}
		tree, err := seal.NewBalanceTree(reversed)
		if err != nil {
			t.Fatalf("NewBalanceTree(%d): %v", n, err)
		}
		if tree.Size() != int64(n) {
			t.Fatalf("Size() = %d, want %d", tree.Size(), n)
		}
		sorted, err := seal.NewBalanceTree(bs)
		if err != nil || sorted.Root() != tree.Root() {
			t.Fatalf("roots of the same balances in two orders differ: %x, %x (%v)", sorted.Root(), tree.Root(), err)
		}
		other, err := seal.NewBalanceTree(append(bs[:n-1:n-1], seal.Balance{Account: bs[n-1].Account, Currency: "USDT", Amount: "999"}))
		if err != nil {
			t.Fatal(err)
		}
		for i, b := range bs {
			p, err := tree.Prove(b.Account, b.Currency)
			if err != nil {
				t.Fatalf("Prove(%s): %v", b.Account, err)
			}
			if p.Index != int64(i) || string(p.Leaf) != "folio-balance/1\n"+b.Account+"\nUSDT\n"+b.Amount+"\n" {
				t.Fatalf("Prove(%s) = index %d leaf %q", b.Account, p.Index, p.Leaf)
			}
			if err := tlog.CheckRecord(p.Hashes, p.Size, tree.Root(), p.Index, tlog.RecordHash(p.Leaf)); err != nil {
				t.Fatalf("tlog.CheckRecord(%s of %d): %v", b.Account, n, err)
			}
			changed := seal.BalanceLeaf(seal.Balance{Account: b.Account, Currency: b.Currency, Amount: b.Amount + "1"})
			if err := tlog.CheckRecord(p.Hashes, p.Size, tree.Root(), p.Index, tlog.RecordHash(changed)); err == nil {
				t.Fatalf("tlog.CheckRecord accepted a changed amount of %s", b.Account)
			}
			if err := tlog.CheckRecord(p.Hashes, p.Size, other.Root(), p.Index, tlog.RecordHash(p.Leaf)); err == nil && i < n-1 {
				t.Fatalf("tlog.CheckRecord accepted %s against another tree's root", b.Account)
			}
		}
	}
	empty, err := seal.NewBalanceTree(nil)
	if err != nil || empty.Root() != tlog.Hash(sha256.Sum256(nil)) || empty.Size() != 0 {
		t.Fatalf("empty tree = %x, %v; want the hash of nothing", empty.Root(), err)
	}
	if _, err := empty.Prove("208:USDT:x", "USDT"); err == nil {
		t.Fatal("Prove in an empty tree succeeded")
	}
	tree, _ := seal.NewBalanceTree([]seal.Balance{{Account: "101:USD", Currency: "USD", Amount: "0"}})
	if _, err := tree.Prove("101:USD", "USDT"); err == nil {
		t.Fatal("Prove of an absent currency succeeded")
	}
	for _, bad := range [][]seal.Balance{
		{{Account: "a", Currency: "USD", Amount: "1"}, {Account: "a", Currency: "USD", Amount: "2"}},
		{{Account: "a\nb", Currency: "USD", Amount: "1"}},
		{{Account: "a", Currency: "", Amount: "1"}},
		{{Account: "a", Currency: "USD", Amount: "NaN"}},
		{{Account: "a", Currency: "USD", Amount: "1 "}},
		{{Account: "a", Currency: "USD", Amount: "one"}},
	} {
		if _, err := seal.NewBalanceTree(bad); err == nil {
			t.Errorf("NewBalanceTree(%q) succeeded, want an error", bad)
		}
	}
}
