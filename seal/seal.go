package seal

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strconv"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/folioledger/folio/ledger"
)

// Seal is one link of the seal chain: the heads of every journal shard at a
// consistent cut, and the Merkle log after it (see doc.go).
type Seal struct {
	N        int64     `json:"n"`
	SealedAt time.Time `json:"sealed_at"`
	PrevHash []byte    `json:"prev_hash"`
	TreeSize int64     `json:"tree_size"`
	Root     []byte    `json:"root"`
	Hash     []byte    `json:"hash"`
	Heads    []Head    `json:"heads"`
	// Checkpoint is the signed note of (origin, TreeSize, Root).
	Checkpoint string `json:"checkpoint"`
}

// Head is a seal's record of one shard: the seq and hash of its last entry
// (0 and the genesis hash for a shard that has written nothing).
type Head struct {
	Shard int    `json:"shard"`
	Seq   int64  `json:"seq"`
	Hash  []byte `json:"hash"`
}

// GenesisHash is the prev_hash of the first seal: 32 zero bytes.
var GenesisHash = make([]byte, sha256.Size)

// CanonicalBytes is the exact text a seal's hash covers (see doc.go,
// "Seals"): every column but the checkpoint, and the heads in shard order.
func CanonicalBytes(s *Seal) []byte {
	var b bytes.Buffer
	b.WriteString("folio-seal/1\n")
	fmt.Fprintf(&b, "n %d\n", s.N)
	fmt.Fprintf(&b, "sealed_at %s\n", s.SealedAt.UTC().Truncate(time.Microsecond).Format(time.RFC3339Nano))
	fmt.Fprintf(&b, "prev %s\n", hex.EncodeToString(s.PrevHash))
	fmt.Fprintf(&b, "tree %d %s\n", s.TreeSize, base64.StdEncoding.EncodeToString(s.Root))
	for _, h := range s.Heads {
		fmt.Fprintf(&b, "head %d %d %s\n", h.Shard, h.Seq, hex.EncodeToString(h.Hash))
	}
	return b.Bytes()
}

// ComputeHash returns SHA-256 of CanonicalBytes(s).
func ComputeHash(s *Seal) []byte {
	sum := sha256.Sum256(CanonicalBytes(s))
	return sum[:]
}

// LeafBytes is the exact text of an entry's leaf in the Merkle log: the
// leaf hash is tlog.RecordHash(LeafBytes(p)), SHA-256(0x00 ‖ text), as in
// RFC 6962. It names the entry and its position and carries its chain
// hash, which covers every stored column of the entry and its postings.
func LeafBytes(p ledger.Position) []byte {
	return []byte("folio-leaf/1\n" + p.ID + "\n" + strconv.Itoa(p.Shard) + "\n" + strconv.FormatInt(p.Seq, 10) + "\n" + hex.EncodeToString(p.Hash) + "\n")
}

// CheckpointBody is the body of a checkpoint in the C2SP tlog-checkpoint
// format: origin, tree size and base64 root hash, one per line.
func CheckpointBody(origin string, size int64, root tlog.Hash) string {
	return fmt.Sprintf("%s\n%d\n%s\n", origin, size, base64.StdEncoding.EncodeToString(root[:]))
}

// memHashes is a tlog.HashReader over hashes held in memory from storage
// index base on, falling back to next for the ones before.
type memHashes struct {
	base   int64
	hashes []tlog.Hash
	next   tlog.HashReader
}

func (m *memHashes) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	var older []int64
	for _, ix := range indexes {
		if ix < m.base {
			older = append(older, ix)
		}
	}
	var got []tlog.Hash
	if len(older) > 0 {
		if m.next == nil {
			return nil, fmt.Errorf("merkle hash %d is not stored", older[0])
		}
		var err error
		if got, err = m.next.ReadHashes(older); err != nil {
			return nil, err
		}
	}
	j := 0
	for i, ix := range indexes {
		switch {
		case ix < m.base:
			out[i] = got[j]
			j++
		case ix-m.base < int64(len(m.hashes)):
			out[i] = m.hashes[ix-m.base]
		default:
			return nil, fmt.Errorf("merkle hash %d is not stored", ix)
		}
	}
	return out, nil
}

// appendLeaves appends the leaves of positions to the tree of size n held by
// m (whose base must be tlog.StoredHashCount(n) and hashes empty, or hold
// the hashes of earlier appends), returning the new size.
func appendLeaves(m *memHashes, n int64, ps []ledger.Position) (int64, error) {
	for _, p := range ps {
		hs, err := tlog.StoredHashes(n, LeafBytes(p), m)
		if err != nil {
			return 0, err
		}
		m.hashes = append(m.hashes, hs...)
		n++
	}
	return n, nil
}

// hashMap is a tlog.HashReader over a few hashes held by storage index.
type hashMap map[int64]tlog.Hash

func (m hashMap) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, ix := range indexes {
		h, ok := m[ix]
		if !ok {
			return nil, fmt.Errorf("merkle hash %d is not held", ix)
		}
		out[i] = h
	}
	return out, nil
}

// frontier returns a reader that holds only the hashes of a tree of size n
// that later appends and tree hashes need: the roots of its maximal
// complete subtrees (at most log2 n of them), read from r. Every complete
// subtree of a larger tree either is one of them or holds a leaf at
// index n or beyond.
func frontier(n int64, r tlog.HashReader) (*memHashes, error) {
	var idx []int64
	start := int64(0)
	for level := 62; level >= 0; level-- {
		if n&(1<<level) != 0 {
			idx = append(idx, tlog.StoredHashIndex(level, start>>level))
			start += 1 << level
		}
	}
	hs, err := r.ReadHashes(idx)
	if err != nil {
		return nil, err
	}
	m := hashMap{}
	for i, ix := range idx {
		m[ix] = hs[i]
	}
	return &memHashes{base: tlog.StoredHashCount(n), next: m}, nil
}
