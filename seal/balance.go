package seal

import (
	"fmt"
	"slices"
	"strings"

	"github.com/cockroachdb/apd/v3"
	"golang.org/x/mod/sumdb/tlog"
)

// Balance is one account's closing balance, a leaf of a balance tree.
// Amount is the exact decimal text the period's books state (it is hashed
// as given: "10.50" and "10.5" are different leaves).
type Balance struct {
	Account  string
	Currency string
	Amount   string
}

// BalanceLeaf is the exact text of a balance's leaf:
// "folio-balance/1\n<account>\n<currency>\n<amount>\n"; its leaf hash is
// tlog.RecordHash of it.
func BalanceLeaf(b Balance) []byte {
	return []byte("folio-balance/1\n" + b.Account + "\n" + b.Currency + "\n" + b.Amount + "\n")
}

// BalanceTree is an RFC 6962 Merkle tree (tlog) over balances sorted by
// account, then currency: the tree a period close publishes the root of,
// so that an account's holder can prove its closing balance to anyone who
// holds the root. It is computed in memory and never changes.
type BalanceTree struct {
	leaves []Balance
	hashes []tlog.Hash // by tlog storage index
	root   tlog.Hash
}

// NewBalanceTree builds the tree of balances (in any order; a copy is
// sorted). It refuses an account or currency that is empty or holds a
// space or control character, an amount that is not a finite decimal,
// and two balances of one (account, currency).
func NewBalanceTree(balances []Balance) (*BalanceTree, error) {
	t := &BalanceTree{leaves: slices.Clone(balances)}
	slices.SortFunc(t.leaves, compareBalance)
	for i, b := range t.leaves {
		for _, f := range []struct{ name, v string }{{"account", b.Account}, {"currency", b.Currency}, {"amount", b.Amount}} {
			if f.v == "" || strings.ContainsFunc(f.v, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
				return nil, fmt.Errorf("balance tree: %s %q of leaf %d is empty or holds a space or control character", f.name, f.v, i)
			}
		}
		if d, _, err := apd.NewFromString(b.Amount); err != nil || d.Form != apd.Finite {
			return nil, fmt.Errorf("balance tree: amount %q of %s %s is not a decimal", b.Amount, b.Account, b.Currency)
		}
		if i > 0 && compareBalance(t.leaves[i-1], b) == 0 {
			return nil, fmt.Errorf("balance tree: %s %s appears twice", b.Account, b.Currency)
		}
		hs, err := tlog.StoredHashes(int64(i), BalanceLeaf(b), t)
		if err != nil {
			return nil, err
		}
		t.hashes = append(t.hashes, hs...)
	}
	root, err := tlog.TreeHash(int64(len(t.leaves)), t)
	if err != nil {
		return nil, err
	}
	t.root = root
	return t, nil
}

func compareBalance(a, b Balance) int {
	if c := strings.Compare(a.Account, b.Account); c != 0 {
		return c
	}
	return strings.Compare(a.Currency, b.Currency)
}

// ReadHashes makes the tree a tlog.HashReader.
func (t *BalanceTree) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, ix := range indexes {
		if ix < 0 || ix >= int64(len(t.hashes)) {
			return nil, fmt.Errorf("balance tree: no hash %d", ix)
		}
		out[i] = t.hashes[ix]
	}
	return out, nil
}

// Size is the number of leaves.
func (t *BalanceTree) Size() int64 { return int64(len(t.leaves)) }

// Root is the tree hash (the empty tree's, SHA-256 of nothing, when there
// are no balances).
func (t *BalanceTree) Root() tlog.Hash { return t.root }

// BalanceProof proves one balance: tlog.CheckRecord(Hashes, Size, root,
// Index, tlog.RecordHash(Leaf)) holds for the tree's root.
type BalanceProof struct {
	Index  int64
	Size   int64
	Leaf   []byte
	Hashes tlog.RecordProof
}

// Prove returns the inclusion proof of the balance of (account,
// currency), or an error when the tree has no such balance.
func (t *BalanceTree) Prove(account, currency string) (*BalanceProof, error) {
	i, ok := slices.BinarySearchFunc(t.leaves, Balance{Account: account, Currency: currency}, compareBalance)
	if !ok {
		return nil, fmt.Errorf("balance tree: no balance of %s %s", account, currency)
	}
	p, err := tlog.ProveRecord(t.Size(), int64(i), t)
	if err != nil {
		return nil, err
	}
	return &BalanceProof{Index: int64(i), Size: t.Size(), Leaf: BalanceLeaf(t.leaves[i]), Hashes: p}, nil
}
