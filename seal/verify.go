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
	// ProblemMerkle: a stored Merkle hash (or run of them), tree size or
	// root that the entries do not produce.
	ProblemMerkle = "merkle_mismatch"
	// ProblemCheckpoint: a checkpoint whose signature does not verify or
	// whose body is not the seal's tree.
	ProblemCheckpoint = "checkpoint_invalid"
)

// Verify checks the seal chain, the Merkle log and the checkpoints in one
// snapshot, seal by seal: that seals are numbered 1, 2, … and each links
// to the previous one's hash; that each seal's hash is that of its columns
// and heads; that each recorded (shard, seq, hash) is the entry at that
// position (seqs gapless since the previous seal, heads never going back,
// no shard dropped from the heads); that each seal's tree grew by exactly
// the entries its heads moved past (so that every entry is one leaf, at the
// index leafIndex derives); that recomputing the leaves of the entries each
// seal appended, in the global order, gives exactly the stored Merkle
// hashes (as proofs read them from the runs, which must neither overlap nor
// leave gaps), tree size and root; that nothing is stored beyond the last
// seal; and that each
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

func verify(ctx context.Context, tx pgx.Tx, verifier note.Verifier, limit int) ([]ledger.Problem, error) {
	probs := []ledger.Problem{}
	add := func(kind string, shard int, seq int64, format string, args ...any) {
		if len(probs) < limit {
			probs = append(probs, ledger.Problem{Kind: kind, Shard: shard, Seq: seq, Detail: fmt.Sprintf(format, args...)})
		}
	}
	var verifiers note.Verifiers
	if verifier != nil {
		verifiers = note.VerifierList(verifier)
	}
	tree := &memHashes{}
	prevHash := GenesisHash
	var prevN, size, prevSize int64
	heads := map[int]int64{}   // shard → seq at the previous seal
	hashes := map[int][]byte{} // shard → its hash there
	// The hashes seals stored before migration 050 (every level, below
	// oldEnd) are checked in merkle_hash_runs, those after it of level
	// LowLevels and up in merkle_upper_runs; the lower ones are not stored
	// (proofs recompute them from the entries, whose chains are checked).
	oldEnd, err := oldRunsEnd(ctx, tx)
	if err != nil {
		return nil, err
	}
	runs := &runChecker{table: "merkle_hash_runs"}
	upperRuns := &runChecker{table: "merkle_upper_runs"}
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
			recorded := map[int]bool{}
			for _, h := range s.Heads {
				recorded[h.Shard] = true
			}
			for shard := range heads {
				if !recorded[shard] {
					add(ProblemSeal, shard, heads[shard], "seal %d has no head of shard %d, which the seals before it recorded", s.N, shard)
				}
			}
			var fresh []ledger.Position
			var moved int64 // entries the heads moved past since the previous seal
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
				moved += h.Seq - from
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
			// Leaf indexes are derived from the heads (leafIndex): the tree
			// must grow by exactly the entries the heads moved past, so
			// that each of them is one leaf, appended once.
			if grew := s.TreeSize - prevSize; grew != moved {
				add(ProblemMerkle, 0, 0, "seal %d: the tree grew by %d leaves (%d to %d), its heads moved past %d entries", s.N, grew, prevSize, s.TreeSize, moved)
			}
			// Only the previous tree's frontier is kept: memory is one
			// seal's hashes plus log2 of the tree's size.
			if tree, err = frontier(size, tree); err != nil {
				return nil, err
			}
			size, err = appendLeaves(tree, size, fresh)
			if err != nil {
				return nil, err
			}
			old := tree.hashes[:min(len(tree.hashes), int(max(0, oldEnd-tree.base)))]
			if err := runs.check(ctx, tx, s.N, old, tree.base, add); err != nil {
				return nil, err
			}
			first, upper := upperHashes(tree.base+int64(len(old)), tree.hashes[len(old):])
			if err := upperRuns.check(ctx, tx, s.N, upper, first, add); err != nil {
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
			prevHash, prevN, prevSize = s.Hash, s.N, s.TreeSize
		}
	}
	stored := tree.base + int64(len(tree.hashes))
	if stray, err := runs.stray(ctx, tx, stored); err != nil {
		return nil, err
	} else if stray > 0 {
		add(ProblemMerkle, 0, 0, "merkle hash runs hold hashes beyond the last seal's tree of %d leaves (%d stored hashes): %d runs or hashes too many", size, stored, stray)
	}
	upperStored := tlog.StoredHashCount(size >> LowLevels)
	if stray, err := upperRuns.stray(ctx, tx, upperStored); err != nil {
		return nil, err
	} else if stray > 0 {
		add(ProblemMerkle, 0, 0, "merkle upper runs hold hashes beyond the last seal's tree of %d leaves (%d upper hashes): %d runs or hashes too many", size, upperStored, stray)
	}
	return probs, nil
}

// stray counts the runs of c's table from storage index stored on, and the
// hashes of the last run checked beyond it.
func (c *runChecker) stray(ctx context.Context, tx pgx.Tx, stored int64) (int64, error) {
	var stray int64
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM `+c.table+` WHERE first_idx >= $1`, stored).Scan(&stray); err != nil {
		return 0, err
	}
	if c.last != nil && c.last.end() > stored {
		stray += c.last.end() - max(stored, c.last.first)
	}
	return stray, nil
}

type addFunc func(kind string, shard int, seq int64, format string, args ...any)

// run is one row of merkle_hash_runs.
type run struct {
	first  int64
	hashes []byte
}

// end is the storage index after the run's last whole hash.
func (r *run) end() int64 { return r.first + int64(len(r.hashes)/tlog.HashSize) }

// runChecker compares the stored runs with the hashes the entries give,
// seal by seal, in storage-index order. It checks what proofs read: the
// hash at storage index i is the one the run with the greatest first_idx
// <= i holds there; and it reports runs that overlap, leave gaps or are
// not whole hashes. It keeps only the last run read (a run of older data,
// migrated by 035, may span seals).
type runChecker struct {
	table string // merkle_hash_runs or merkle_upper_runs
	last  *run
}

// check compares the stored hashes at storage indexes first, first+1, …
// with want (seal n's new hashes).
func (c *runChecker) check(ctx context.Context, tx pgx.Tx, n int64, want []tlog.Hash, first int64, add addFunc) error {
	if len(want) == 0 {
		return nil
	}
	end := first + int64(len(want))
	after := int64(-1)
	if c.last != nil {
		after = c.last.first
	}
	rows, err := tx.Query(ctx, `SELECT first_idx, hashes FROM `+c.table+` WHERE first_idx > $1 AND first_idx < $2 ORDER BY first_idx`, after, end)
	if err != nil {
		return err
	}
	var fetched []*run
	for rows.Next() {
		r := &run{}
		if err := rows.Scan(&r.first, &r.hashes); err != nil {
			rows.Close()
			return err
		}
		fetched = append(fetched, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	next := first // the next storage index of this seal to compare
	// compare checks the indexes [from, to) that run r answers for.
	compare := func(r *run, to int64) {
		from, to := max(r.first, first), min(r.end(), to, end)
		if from >= to {
			return
		}
		if from > next {
			add(ProblemMerkle, 0, 0, "seal %d: merkle hashes %d to %d are not stored", n, next, from-1)
		}
		for i := from; i < to; i++ {
			got, w := r.hashes[(i-r.first)*tlog.HashSize:][:tlog.HashSize], want[i-first]
			if !bytes.Equal(got, w[:]) {
				add(ProblemMerkle, 0, 0, "seal %d: merkle hash %d (in the run from %d) is %x, the entries give %x", n, i, r.first, got, w[:])
			}
		}
		next = max(next, to)
	}
	for _, r := range fetched {
		if len(r.hashes)%tlog.HashSize != 0 || len(r.hashes) == 0 {
			add(ProblemMerkle, 0, 0, "seal %d: the merkle hash run from %d has %d bytes, not a whole number of hashes", n, r.first, len(r.hashes))
		}
		if c.last != nil {
			if e := c.last.end(); r.first < e {
				add(ProblemMerkle, 0, 0, "seal %d: the merkle hash run from %d overlaps the run from %d (to %d)", n, r.first, c.last.first, e-1)
			}
			compare(c.last, r.first)
		}
		c.last = r
	}
	if c.last != nil {
		compare(c.last, end)
	}
	if next < end {
		add(ProblemMerkle, 0, 0, "seal %d: merkle hashes %d to %d are not stored", n, next, end-1)
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
