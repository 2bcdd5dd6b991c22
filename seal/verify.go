package seal

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"

	"github.com/jackc/pgx/v5"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/folioledger/folio/ledger"
	"github.com/folioledger/folio/schema"
)

// Problem kinds reported by Verify (in ledger.Problem.Kind).
const (
	// ProblemSeal: a seal's hash, its link to the previous seal, its
	// number, or a recorded head that is not the entry at that position.
	ProblemSeal = "seal_mismatch"
	// ProblemMerkle: a stored Merkle hash, leaf index, tree size or root
	// that the entries do not produce.
	ProblemMerkle = "merkle_mismatch"
	// ProblemCheckpoint: a checkpoint whose signature does not verify or
	// whose body is not the seal's tree.
	ProblemCheckpoint = "checkpoint_invalid"
)

// Verify checks the seal chain, the Merkle log and the checkpoints in one
// snapshot, seal by seal: that seals are numbered 1, 2, … and each links
// to the previous one's hash; that each seal's hash is that of its columns
// and heads; that each recorded (shard, seq, hash) is the entry at that
// position (seqs gapless since the previous seal, heads never going back);
// that recomputing the leaves of the entries each seal appended, in the
// global order, gives exactly the stored Merkle hashes, leaf indexes, tree
// size and root; that nothing is stored beyond the last seal; and that each
// checkpoint is the seal's tree signed by verifier (the body alone when
// verifier is nil). It returns at most max problems, the first in seal
// order first. Memory holds one seal's entries and hashes at a time (see
// MaxSealLeaves) and the tree's frontier.
func Verify(ctx context.Context, db *schema.DB, verifier note.Verifier, max int) ([]ledger.Problem, error) {
	var out []ledger.Problem
	err := db.ReadTx(ctx, func(tx pgx.Tx) error {
		var err error
		out, err = verify(ctx, tx, verifier, max)
		return err
	})
	return out, err
}

func verify(ctx context.Context, tx pgx.Tx, verifier note.Verifier, max int) ([]ledger.Problem, error) {
	probs := []ledger.Problem{}
	add := func(kind string, shard int, seq int64, format string, args ...any) {
		if len(probs) < max {
			probs = append(probs, ledger.Problem{Kind: kind, Shard: shard, Seq: seq, Detail: fmt.Sprintf(format, args...)})
		}
	}
	var verifiers note.Verifiers
	if verifier != nil {
		verifiers = note.VerifierList(verifier)
	}
	tree := &memHashes{}
	prevHash := GenesisHash
	var prevN, size int64
	heads := map[int]int64{}   // shard → seq at the previous seal
	hashes := map[int][]byte{} // shard → its hash there
	for {
		page, err := list(ctx, tx, prevN, 500)
		if err != nil {
			return nil, err
		}
		if len(page) == 0 {
			break
		}
		for _, s := range page {
			if s.N != prevN+1 {
				add(ProblemSeal, 0, 0, "seal %d follows seal %d: seals are numbered without gaps", s.N, prevN)
			}
			if !bytes.Equal(s.PrevHash, prevHash) {
				add(ProblemSeal, 0, 0, "seal %d: prev_hash %x is not the previous seal's hash %x", s.N, s.PrevHash, prevHash)
			}
			if got := ComputeHash(s); !bytes.Equal(got, s.Hash) {
				add(ProblemSeal, 0, 0, "seal %d: stored hash %x, its columns and heads hash to %x", s.N, s.Hash, got)
			}
			var fresh []ledger.Position
			for _, h := range s.Heads {
				from := heads[h.Shard]
				want, ok := hashes[h.Shard]
				if !ok {
					want = GenesisHash
				}
				if h.Seq < from {
					add(ProblemSeal, h.Shard, h.Seq, "seal %d: shard %d at seq %d, behind the previous seal's %d", s.N, h.Shard, h.Seq, from)
					continue
				}
				for from < h.Seq {
					ps, err := ledger.ShardPositions(ctx, tx, h.Shard, from, min(h.Seq, from+pageSize))
					if err != nil {
						return nil, err
					}
					if len(ps) == 0 || ps[0].Seq != from+1 {
						add(ProblemSeal, h.Shard, from+1, "seal %d: shard %d has no entry at seq %d (its head is sealed at %d)", s.N, h.Shard, from+1, h.Seq)
						break
					}
					fresh = append(fresh, ps...)
					from, want = ps[len(ps)-1].Seq, ps[len(ps)-1].Hash
				}
				if !bytes.Equal(want, h.Hash) {
					add(ProblemSeal, h.Shard, h.Seq, "seal %d: shard %d head at seq %d has hash %s, the entry there %s", s.N, h.Shard, h.Seq, hex.EncodeToString(h.Hash), hex.EncodeToString(want))
				}
				heads[h.Shard], hashes[h.Shard] = h.Seq, h.Hash
			}
			// Only the previous tree's frontier is kept: memory is one
			// seal's hashes plus log2 of the tree's size.
			if tree, err = frontier(size, tree); err != nil {
				return nil, err
			}
			oldSize := size
			size, err = appendLeaves(tree, size, fresh)
			if err != nil {
				return nil, err
			}
			if err := checkStored(ctx, tx, s.N, tree.hashes, tree.base, add); err != nil {
				return nil, err
			}
			if err := checkLeaves(ctx, tx, s.N, fresh, oldSize, add); err != nil {
				return nil, err
			}
			root, err := tlog.TreeHash(size, tree)
			if err != nil {
				return nil, err
			}
			if s.TreeSize != size {
				add(ProblemMerkle, 0, 0, "seal %d: tree size %d, its entries make %d", s.N, s.TreeSize, size)
			} else if !bytes.Equal(s.Root, root[:]) {
				add(ProblemMerkle, 0, 0, "seal %d: root %x, its entries' tree hashes to %x", s.N, s.Root, root[:])
			}
			checkCheckpoint(s, verifiers, add)
			prevHash, prevN = s.Hash, s.N
		}
	}
	var strayHashes, strayLeaves int64
	if err := tx.QueryRow(ctx, `SELECT (SELECT count(*) FROM merkle_hashes WHERE idx >= $1), (SELECT count(*) FROM merkle_leaves WHERE leaf >= $2)`,
		tree.base+int64(len(tree.hashes)), size).Scan(&strayHashes, &strayLeaves); err != nil {
		return nil, err
	}
	if strayHashes+strayLeaves > 0 {
		add(ProblemMerkle, 0, 0, "%d merkle hashes and %d leaves lie beyond the last seal's tree of %d leaves", strayHashes, strayLeaves, size)
	}
	return probs, nil
}

type addFunc func(kind string, shard int, seq int64, format string, args ...any)

// checkStored compares the stored Merkle hashes from storage index first
// on with want.
func checkStored(ctx context.Context, tx pgx.Tx, n int64, want []tlog.Hash, first int64, add addFunc) error {
	if len(want) == 0 {
		return nil
	}
	rows, err := tx.Query(ctx, `SELECT idx, hash FROM merkle_hashes WHERE idx >= $1 AND idx < $2 ORDER BY idx`, first, first+int64(len(want)))
	if err != nil {
		return err
	}
	defer rows.Close()
	next := first
	for rows.Next() {
		var ix int64
		var h []byte
		if err := rows.Scan(&ix, &h); err != nil {
			return err
		}
		if ix != next {
			add(ProblemMerkle, 0, 0, "seal %d: merkle hash %d is missing", n, next)
			return rows.Err()
		}
		if w := want[ix-first]; !bytes.Equal(h, w[:]) {
			add(ProblemMerkle, 0, 0, "seal %d: merkle hash %d is %x, the entries give %x", n, ix, h, w[:])
		}
		next++
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if next != first+int64(len(want)) {
		add(ProblemMerkle, 0, 0, "seal %d: merkle hash %d is missing", n, next)
	}
	return nil
}

// checkLeaves compares the stored leaf indexes of a seal's entries with
// their places in the global order.
func checkLeaves(ctx context.Context, tx pgx.Tx, n int64, fresh []ledger.Position, first int64, add addFunc) error {
	if len(fresh) == 0 {
		return nil
	}
	rows, err := tx.Query(ctx, `SELECT entry_id::text, leaf, seal FROM merkle_leaves WHERE leaf >= $1 AND leaf < $2 ORDER BY leaf`, first, first+int64(len(fresh)))
	if err != nil {
		return err
	}
	defer rows.Close()
	next := first
	for rows.Next() {
		var id string
		var leaf, seal int64
		if err := rows.Scan(&id, &leaf, &seal); err != nil {
			return err
		}
		p := fresh[min(leaf-first, int64(len(fresh)-1))]
		if leaf != next || id != p.ID || seal != n {
			add(ProblemMerkle, p.Shard, p.Seq, "seal %d: leaf %d is entry %s of seal %d, the global order puts entry %s there", n, next, id, seal, fresh[next-first].ID)
			return rows.Err()
		}
		next++
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if next != first+int64(len(fresh)) {
		p := fresh[next-first]
		add(ProblemMerkle, p.Shard, p.Seq, "seal %d: entry %s has no leaf index %d", n, p.ID, next)
	}
	return nil
}

// checkCheckpoint checks that s's checkpoint is its tree, signed.
func checkCheckpoint(s *Seal, verifiers note.Verifiers, add addFunc) {
	var body string
	if verifiers != nil {
		nt, err := note.Open([]byte(s.Checkpoint), verifiers)
		if err != nil {
			add(ProblemCheckpoint, 0, 0, "seal %d: checkpoint does not verify: %v", s.N, err)
			return
		}
		body = nt.Text
	} else {
		b, _, ok := bytes.Cut([]byte(s.Checkpoint), []byte("\n\n"))
		if !ok {
			add(ProblemCheckpoint, 0, 0, "seal %d: checkpoint is not a signed note", s.N)
			return
		}
		body = string(b) + "\n"
	}
	var root tlog.Hash
	copy(root[:], s.Root)
	origin, _, _ := bytes.Cut([]byte(body), []byte("\n"))
	if want := CheckpointBody(string(origin), s.TreeSize, root); body != want {
		add(ProblemCheckpoint, 0, 0, "seal %d: checkpoint body %q is not its tree %q", s.N, body, want)
	}
}
