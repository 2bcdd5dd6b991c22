package seal

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/folioledger/folio/ledger"
	"github.com/folioledger/folio/schema"
)

// LowLevels is how many of the Merkle log's lowest levels are not stored
// (migration 050): a hash of level l < LowLevels, the root of at most
// 2^(LowLevels-1) leaves, is recomputed from the entries when a proof or a
// seal needs it. The hashes of level LowLevels and up are stored in
// merkle_upper_runs by their upper storage index (upperIndex); those that
// seals stored before the migration stay in merkle_hash_runs, every level,
// and are read from there.
const LowLevels = 5

// upperIndex is where the hash of level l >= LowLevels and index n is
// stored in merkle_upper_runs: its storage index in the tree whose leaves
// are the nodes of level LowLevels. Removing the lower levels from tlog's
// storage order leaves that tree's storage order, so a seal's new upper
// hashes are consecutive there, as its hashes are in tlog's.
func upperIndex(level int, n int64) int64 { return tlog.StoredHashIndex(level-LowLevels, n) }

// upperHashes returns, of hashes (the hashes at tlog storage indexes base,
// base+1, …), those of level LowLevels and up, and the upper storage index
// of the first.
func upperHashes(base int64, hashes []tlog.Hash) (int64, []tlog.Hash) {
	var out []tlog.Hash
	first := int64(-1)
	for i, h := range hashes {
		level, n := tlog.SplitStoredHashIndex(base + int64(i))
		if level < LowLevels {
			continue
		}
		if first < 0 {
			first = upperIndex(level, n)
		}
		out = append(out, h)
	}
	return first, out
}

// dbHashes is the tlog.HashReader of the stored log, in a transaction: a
// hash below the end of merkle_hash_runs is read from there (035's layout:
// every level); above it, a hash of level LowLevels and up from
// merkle_upper_runs, and a lower one is recomputed from its leaves'
// entries (leafHashes). The database slices the 32 bytes out of a run.
type dbHashes struct {
	ctx context.Context
	q   schema.Querier
	// oldEnd is the storage index after merkle_hash_runs' last hash, once
	// read (known).
	oldEnd int64
	known  bool
}

// oldRunsEnd returns the storage index after the last hash stored in
// merkle_hash_runs (0 when it is empty).
func oldRunsEnd(ctx context.Context, q schema.Querier) (int64, error) {
	var end int64
	err := q.QueryRow(ctx, `SELECT first_idx + length(hashes) / 32 FROM merkle_hash_runs ORDER BY first_idx DESC LIMIT 1`).Scan(&end)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read merkle hash runs: %w", err)
	}
	return end, nil
}

func (d *dbHashes) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	if !d.known {
		end, err := oldRunsEnd(d.ctx, d.q)
		if err != nil {
			return nil, err
		}
		d.oldEnd, d.known = end, true
	}
	var old, upper []int64
	type node struct {
		level int
		n     int64
	}
	var low []node
	for _, ix := range indexes {
		level, n := tlog.SplitStoredHashIndex(ix)
		switch {
		case ix < d.oldEnd:
			old = append(old, ix)
		case level >= LowLevels:
			upper = append(upper, upperIndex(level, n))
		default:
			low = append(low, node{level, n})
		}
	}
	fromOld, err := readRuns(d.ctx, d.q, "merkle_hash_runs", old)
	if err != nil {
		return nil, err
	}
	fromUpper, err := readRuns(d.ctx, d.q, "merkle_upper_runs", upper)
	if err != nil {
		return nil, err
	}
	var leaves []int64
	for _, x := range low {
		for i := x.n << x.level; i < (x.n+1)<<x.level; i++ {
			leaves = append(leaves, i)
		}
	}
	leafHash, err := leafHashes(d.ctx, d.q, leaves)
	if err != nil {
		return nil, err
	}
	var nodeHash func(level int, n int64) tlog.Hash
	nodeHash = func(level int, n int64) tlog.Hash {
		if level == 0 {
			return leafHash[n]
		}
		return tlog.NodeHash(nodeHash(level-1, 2*n), nodeHash(level-1, 2*n+1))
	}
	out := make([]tlog.Hash, len(indexes))
	for i, ix := range indexes {
		level, n := tlog.SplitStoredHashIndex(ix)
		var ok bool
		switch {
		case ix < d.oldEnd:
			out[i], ok = fromOld[ix]
		case level >= LowLevels:
			out[i], ok = fromUpper[upperIndex(level, n)]
		default:
			out[i], ok = nodeHash(level, n), true
		}
		if !ok {
			return nil, fmt.Errorf("merkle hash %d is not stored", ix)
		}
	}
	return out, nil
}

// readRuns reads the hashes at indexes from table's runs: the hash at i is
// in the run with the greatest first_idx <= i.
func readRuns(ctx context.Context, q schema.Querier, table string, indexes []int64) (map[int64]tlog.Hash, error) {
	got := make(map[int64]tlog.Hash, len(indexes))
	if len(indexes) == 0 {
		return got, nil
	}
	rows, err := q.Query(ctx, `SELECT u.i, substring(r.hashes FROM ((u.i - r.first_idx) * 32 + 1)::INT FOR 32)
		FROM unnest($1::bigint[]) AS u(i)
		JOIN LATERAL (SELECT first_idx, hashes FROM `+table+` WHERE first_idx <= u.i ORDER BY first_idx DESC LIMIT 1) AS r ON true
		WHERE (u.i - r.first_idx + 1) * 32 <= length(r.hashes)`, indexes)
	if err != nil {
		return nil, fmt.Errorf("read merkle hashes: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var ix int64
		var h []byte
		if err := rows.Scan(&ix, &h); err != nil {
			return nil, err
		}
		if len(h) == tlog.HashSize {
			got[ix] = tlog.Hash(h)
		}
	}
	return got, rows.Err()
}

// leafHashes returns the leaf hashes (tlog.RecordHash of LeafBytes) of the
// leaves at indexes, from their entries: the seal that appended leaf i is
// the first whose tree is larger than i, and within it the leaves are the
// new entries of each shard in shard order (the inverse of leafIndex).
func leafHashes(ctx context.Context, q schema.Querier, indexes []int64) (map[int64]tlog.Hash, error) {
	out := make(map[int64]tlog.Hash, len(indexes))
	if len(indexes) == 0 {
		return out, nil
	}
	leaves := append([]int64(nil), indexes...)
	slices.Sort(leaves)
	leaves = slices.Compact(leaves)
	for len(leaves) > 0 {
		var k int64
		err := q.QueryRow(ctx, `SELECT n FROM seals WHERE tree_size > $1 ORDER BY tree_size LIMIT 1`, leaves[0]).Scan(&k)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, fmt.Errorf("merkle leaf %d is beyond the last seal's tree", leaves[0])
		}
		if err != nil {
			return nil, fmt.Errorf("find the seal of merkle leaf %d: %w", leaves[0], err)
		}
		cur, prev, size, err := sealAfter(ctx, q, k)
		if err != nil {
			return nil, fmt.Errorf("seal %d appended merkle leaf %d: %w", k, leaves[0], err)
		}
		for _, h := range cur.Heads {
			from, moved := size, h.Seq-prev[h.Shard]
			var want []int64
			for len(leaves) > 0 && leaves[0] < from+moved {
				want, leaves = append(want, leaves[0]), leaves[1:]
			}
			size += moved
			if len(want) == 0 {
				continue
			}
			lo, hi := prev[h.Shard]+want[0]-from, prev[h.Shard]+want[len(want)-1]-from+1
			ps, err := ledger.ShardPositions(ctx, q, h.Shard, lo, hi)
			if err != nil {
				return nil, err
			}
			for _, leaf := range want {
				seq := prev[h.Shard] + leaf - from + 1
				i := int(seq - lo - 1)
				if i < 0 || i >= len(ps) || ps[i].Seq != seq {
					return nil, fmt.Errorf("merkle leaf %d: the entry at shard %d seq %d, appended by seal %d, is missing", leaf, h.Shard, seq, k)
				}
				out[leaf] = tlog.RecordHash(LeafBytes(ps[i]))
			}
		}
		if len(leaves) > 0 && leaves[0] < cur.TreeSize {
			return nil, fmt.Errorf("merkle leaf %d: seal %d's heads do not add up to its tree of %d leaves (folio verify)", leaves[0], k, cur.TreeSize)
		}
	}
	return out, nil
}
