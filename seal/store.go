package seal

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/folioledger/folio"
	"github.com/folioledger/folio/ledger"
	"github.com/folioledger/folio/schema"
)

// Service seals the journal and answers for the seal chain, the Merkle log
// and its checkpoints.
type Service struct {
	DB *schema.DB
	// Signer signs every seal's checkpoint; Verifier checks them. Both come
	// from one key (see LoadKey).
	Signer   note.Signer
	Verifier note.Verifier
	// VerifierKey is the text of Verifier's key ("name+hash+data"), the
	// one to publish.
	VerifierKey string
	// Now is the clock, read once per seal.
	Now func() time.Time
	// MaxLeaves bounds the entries one seal appends (0: MaxSealLeaves).
	MaxLeaves int
}

// New returns a service on db that signs with the note signer key skey
// ("PRIVATE+KEY+name+hash+data", see LoadKey).
func New(db *schema.DB, skey string) (*Service, error) {
	signer, verifier, vkey, err := ParseKey(skey)
	if err != nil {
		return nil, err
	}
	return &Service{DB: db, Signer: signer, Verifier: verifier, VerifierKey: vkey, Now: time.Now}, nil
}

// Origin is the checkpoints' origin line: the signing key's name.
func (s *Service) Origin() string { return s.Signer.Name() }

// ParseKey parses a note signer key and returns its signer, its verifier
// and the verifier key's text. Only Ed25519 keys are accepted.
func ParseKey(skey string) (note.Signer, note.Verifier, string, error) {
	signer, err := note.NewSigner(skey)
	if err != nil {
		return nil, nil, "", fmt.Errorf("checkpoint key: %w", err)
	}
	vkey, err := verifierKeyOf(skey)
	if err != nil {
		return nil, nil, "", err
	}
	verifier, err := note.NewVerifier(vkey)
	if err != nil {
		return nil, nil, "", fmt.Errorf("checkpoint key: %w", err)
	}
	return signer, verifier, vkey, nil
}

// KeyName is the name of the keys GenerateKey makes, and so the origin of
// their checkpoints.
const KeyName = "folio-journal"

// LoadKey reads the note signer key in path; when the file does not exist
// it generates an Ed25519 key named KeyName, writes it there (mode 0600)
// and its verifier key to path+".pub", and returns it. The operator keeps
// the private key: whoever holds it can sign checkpoints of any history.
func LoadKey(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		return string(bytes.TrimSpace(b)), nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("read checkpoint key: %w", err)
	}
	skey, vkey, err := note.GenerateKey(rand.Reader, KeyName)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", err
	}
	if err := os.WriteFile(path, []byte(skey+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write checkpoint key: %w", err)
	}
	if err := os.WriteFile(path+".pub", []byte(vkey+"\n"), 0o644); err != nil {
		return "", fmt.Errorf("write checkpoint verifier key: %w", err)
	}
	return skey, nil
}

// pageSize bounds the entries read per query while sealing and verifying.
const pageSize = 10000

// MaxSealLeaves bounds the entries one seal appends (its memory and its
// transaction's size). A backlog larger than that — the first seal of a
// journal written before seals existed, or a long pause of every sealer —
// is sealed in several seals in a row, each shard taking up to
// MaxSealLeaves/S of its next entries per seal: such a seal's heads are
// the entries it reached, in the same snapshot, not yet the shards' heads.
const MaxSealLeaves = 100000

// Seal seals the journal: if any shard moved since the last seal, it
// appends the new entries to the Merkle log in the global order, writes the
// next seal with its signed checkpoint and returns it with created true;
// otherwise it returns the last seal (nil when there is none) and false.
// One SERIALIZABLE transaction reads the heads (a consistent cut) and
// writes the seal; a concurrent sealer that took the same seal number
// makes this one retry against the new last seal, so the chain never
// forks and a seal is never repeated.
//
// A backlog of more than MaxSealLeaves entries is sealed in several seals,
// each in its own transaction; Seal returns the last.
func (s *Service) Seal(ctx context.Context) (*Seal, bool, error) {
	var last *Seal
	createdAny := false
	for attempt := 0; ; {
		var out *Seal
		var created, more bool
		err := s.DB.Tx(ctx, func(tx pgx.Tx) error {
			var err error
			out, created, more, err = s.seal(ctx, tx)
			return err
		})
		var pg *pgconn.PgError
		if errors.As(err, &pg) && pg.Code == "23505" && attempt < 10 {
			attempt++
			continue
		}
		if err != nil {
			return nil, false, err
		}
		last, createdAny = out, createdAny || created
		if !more {
			return last, createdAny, nil
		}
	}
}

// seal writes the next seal in tx, if a shard moved; more reports that
// some shard has entries beyond what this seal could take.
func (s *Service) seal(ctx context.Context, tx pgx.Tx) (_ *Seal, created, more bool, _ error) {
	last, err := latest(ctx, tx)
	if err != nil {
		return nil, false, false, err
	}
	heads, err := ledger.Heads(ctx, tx)
	if err != nil {
		return nil, false, false, err
	}
	budget := s.MaxLeaves
	if budget <= 0 {
		budget = MaxSealLeaves
	}
	perShard := max(1, int64(budget/max(1, len(heads))))
	prev := map[int]int64{}
	next := &Seal{N: 1, PrevHash: GenesisHash}
	if last != nil {
		for _, h := range last.Heads {
			prev[h.Shard] = h.Seq
		}
		next = &Seal{N: last.N + 1, PrevHash: last.Hash, TreeSize: last.TreeSize}
	}
	var fresh []ledger.Position
	for _, h := range heads {
		from := prev[h.Shard]
		if h.Seq < from {
			return nil, false, false, fmt.Errorf("journal shard %d is at seq %d, behind seal %d's %d", h.Shard, h.Seq, last.N, from)
		}
		through := min(h.Seq, from+perShard)
		head := Head{Shard: h.Shard, Seq: through, Hash: h.Hash}
		for from < through {
			ps, err := ledger.ShardPositions(ctx, tx, h.Shard, from, min(through, from+pageSize))
			if err != nil {
				return nil, false, false, err
			}
			if len(ps) == 0 {
				return nil, false, false, fmt.Errorf("journal shard %d has no entries after seq %d up to its head %d", h.Shard, from, h.Seq)
			}
			fresh = append(fresh, ps...)
			from, head.Hash = ps[len(ps)-1].Seq, ps[len(ps)-1].Hash
		}
		more = more || through < h.Seq
		next.Heads = append(next.Heads, head)
	}
	if len(fresh) == 0 {
		return last, false, false, nil
	}
	db := &dbHashes{ctx: ctx, q: tx}
	m, err := frontier(next.TreeSize, db)
	if err != nil {
		return nil, false, false, err
	}
	oldSize := next.TreeSize
	size, err := appendLeaves(m, next.TreeSize, fresh)
	if err != nil {
		return nil, false, false, err
	}
	// Leaf n's stored hashes start at storage index tlog.StoredHashCount(n)
	// (= tlog.StoredHashIndex(0, n)), so a seal's new hashes are the
	// consecutive indexes up to the new size's count: one run.
	if m.base+int64(len(m.hashes)) != tlog.StoredHashCount(size) {
		return nil, false, false, fmt.Errorf("seal: %d new merkle hashes from storage index %d do not end at %d, the stored hash count of %d leaves", len(m.hashes), m.base, tlog.StoredHashCount(size), size)
	}
	root, err := tlog.TreeHash(size, m)
	if err != nil {
		return nil, false, false, err
	}
	next.TreeSize, next.Root = size, root[:]
	next.SealedAt = s.now()
	if last != nil && next.SealedAt.Before(last.SealedAt) {
		next.SealedAt = last.SealedAt // another server's clock ran ahead: times never decrease along the chain
	}
	next.Hash = ComputeHash(next)
	cp, err := note.Sign(&note.Note{Text: CheckpointBody(s.Origin(), size, root)}, s.Signer)
	if err != nil {
		return nil, false, false, fmt.Errorf("sign checkpoint: %w", err)
	}
	next.Checkpoint = string(cp)

	if _, err := tx.Exec(ctx, `INSERT INTO seals (n, sealed_at, prev_hash, tree_size, root, hash, checkpoint) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		next.N, next.SealedAt, next.PrevHash, next.TreeSize, next.Root, next.Hash, next.Checkpoint); err != nil {
		return nil, false, false, err
	}
	shards, seqs, hashes := make([]int64, len(next.Heads)), make([]int64, len(next.Heads)), make([][]byte, len(next.Heads))
	for i, h := range next.Heads {
		shards[i], seqs[i], hashes[i] = int64(h.Shard), h.Seq, h.Hash
	}
	if _, err := tx.Exec(ctx, `INSERT INTO seal_heads (seal, shard, seq, hash) SELECT $1::bigint, * FROM unnest($2::bigint[], $3::bigint[], $4::bytea[])`,
		next.N, shards, seqs, hashes); err != nil {
		return nil, false, false, err
	}
	// Only the hashes of level LowLevels and up are stored (migration 050).
	upperFirst, upper := upperHashes(m.base, m.hashes)
	if len(upper) > 0 && upperFirst != tlog.StoredHashCount(oldSize>>LowLevels) {
		return nil, false, false, fmt.Errorf("seal: the upper merkle hashes of leaves %d to %d start at %d, not %d", oldSize, size, upperFirst, tlog.StoredHashCount(oldSize>>LowLevels))
	}
	if want := tlog.StoredHashCount(size>>LowLevels) - tlog.StoredHashCount(oldSize>>LowLevels); int64(len(upper)) != want {
		return nil, false, false, fmt.Errorf("seal: %d upper merkle hashes for leaves %d to %d, want %d", len(upper), oldSize, size, want)
	}
	if err := writeRuns(ctx, tx, "merkle_upper_runs", upperFirst, upper); err != nil {
		return nil, false, false, err
	}
	return next, true, more, nil
}

func (s *Service) now() time.Time {
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	return now().UTC().Truncate(time.Microsecond)
}

// MaxRunHashes bounds the hashes of one row of merkle_hash_runs (32 KiB):
// a seal writes its new hashes in runs of at most this many, so a row
// stays small enough to read whole on CockroachDB (a proof touches a few
// dozen runs) while the log costs a row per about 500 entries.
const MaxRunHashes = 1024

// writeRuns stores hashes, the Merkle hashes at storage indexes first,
// first+1, …, in runs of at most MaxRunHashes, in table (merkle_hash_runs,
// or merkle_upper_runs by upper storage index).
func writeRuns(ctx context.Context, tx pgx.Tx, table string, first int64, hashes []tlog.Hash) error {
	var firsts []int64
	var runs [][]byte
	for i := 0; i < len(hashes); i += MaxRunHashes {
		chunk := hashes[i:min(len(hashes), i+MaxRunHashes)]
		b := make([]byte, 0, len(chunk)*tlog.HashSize)
		for _, h := range chunk {
			b = append(b, h[:]...)
		}
		firsts, runs = append(firsts, first+int64(i)), append(runs, b)
	}
	for i := 0; i < len(runs); i += 64 {
		j := min(len(runs), i+64)
		if _, err := tx.Exec(ctx, `INSERT INTO `+table+` (first_idx, hashes) SELECT * FROM unnest($1::bigint[], $2::bytea[])`, firsts[i:j], runs[i:j]); err != nil {
			return err
		}
	}
	return nil
}

const sealColumns = `n, sealed_at, prev_hash, tree_size, root, hash, checkpoint`

func scanSeal(row pgx.Row) (*Seal, error) {
	s := &Seal{}
	if err := row.Scan(&s.N, &s.SealedAt, &s.PrevHash, &s.TreeSize, &s.Root, &s.Hash, &s.Checkpoint); err != nil {
		return nil, err
	}
	s.SealedAt = s.SealedAt.UTC()
	return s, nil
}

// latest returns the last seal with its heads, nil when there is none.
func latest(ctx context.Context, q schema.Querier) (*Seal, error) {
	s, err := scanSeal(q.QueryRow(ctx, `SELECT `+sealColumns+` FROM seals ORDER BY n DESC LIMIT 1`))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read last seal: %w", err)
	}
	if err := loadHeads(ctx, q, []*Seal{s}); err != nil {
		return nil, err
	}
	return s, nil
}

// loadHeads fills in the heads of seals (in n order).
func loadHeads(ctx context.Context, q schema.Querier, seals []*Seal) error {
	if len(seals) == 0 {
		return nil
	}
	byN := make(map[int64]*Seal, len(seals))
	ns := make([]int64, len(seals))
	for i, s := range seals {
		byN[s.N], ns[i] = s, s.N
		s.Heads = []Head{}
	}
	rows, err := q.Query(ctx, `SELECT seal, shard, seq, hash FROM seal_heads WHERE seal = ANY($1) ORDER BY seal, shard`, ns)
	if err != nil {
		return fmt.Errorf("read seal heads: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var n int64
		var h Head
		if err := rows.Scan(&n, &h.Shard, &h.Seq, &h.Hash); err != nil {
			return err
		}
		byN[n].Heads = append(byN[n].Heads, h)
	}
	return rows.Err()
}

// Latest returns the last seal, nil when the journal was never sealed.
func (s *Service) Latest(ctx context.Context) (*Seal, error) {
	return latest(ctx, s.DB.Pool)
}

// List returns up to limit seals with n > after, in n order, with their
// heads.
func (s *Service) List(ctx context.Context, after int64, limit int) ([]*Seal, error) {
	return list(ctx, s.DB.Pool, after, limit)
}

func list(ctx context.Context, q schema.Querier, after int64, limit int) ([]*Seal, error) {
	rows, err := q.Query(ctx, `SELECT `+sealColumns+` FROM seals WHERE n > $1 ORDER BY n LIMIT $2`, after, limit)
	if err != nil {
		return nil, fmt.Errorf("list seals: %w", err)
	}
	var out []*Seal
	for rows.Next() {
		s, err := scanSeal(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, s)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, loadHeads(ctx, q, out)
}

// Checkpoint returns the signed checkpoint of the seal whose tree has size
// entries, or of the last seal when size is 0: not_found when the journal
// was never sealed or no seal has that size, invalid_request when size is
// beyond the tree.
func (s *Service) Checkpoint(ctx context.Context, size int64) (string, error) {
	last, err := latest(ctx, s.DB.Pool)
	if err != nil {
		return "", err
	}
	if last == nil {
		return "", folio.Errorf(folio.ENOTFOUND, "the journal has not been sealed yet: no checkpoint")
	}
	if size == 0 || size == last.TreeSize {
		return last.Checkpoint, nil
	}
	if size > last.TreeSize {
		return "", folio.Errorf(folio.EINVALID, "size %d is beyond the tree (%d leaves)", size, last.TreeSize)
	}
	var cp string
	err = s.DB.Pool.QueryRow(ctx, `SELECT checkpoint FROM seals WHERE tree_size = $1`, size).Scan(&cp)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", folio.Errorf(folio.ENOTFOUND, "no seal has a tree of size %d: checkpoints exist at the tree sizes of seals (GET /v1/audit/seals)", size)
	}
	return cp, err
}

// InclusionProof is the proof that an entry's leaf is in the tree of Size
// leaves (tlog.CheckRecord(Hashes, Size, root, Index, tlog.RecordHash(Leaf))).
type InclusionProof struct {
	Index  int64
	Size   int64
	Leaf   []byte
	Hashes []tlog.Hash
}

// ProveInclusion returns the inclusion proof of entry id in the tree of
// size leaves (the last seal's when size is 0): not_found for an unknown
// entry, conflict for an entry not sealed yet, invalid_request for a size
// beyond the tree or one that does not contain the entry.
func (s *Service) ProveInclusion(ctx context.Context, id string, size int64) (*InclusionProof, error) {
	var out *InclusionProof
	err := s.DB.ReadTx(ctx, func(tx pgx.Tx) error {
		pos, err := ledger.PositionOf(ctx, tx, id)
		if err != nil {
			return err
		}
		leaf, err := leafIndex(ctx, tx, pos)
		if err != nil {
			return err
		}
		treeSize, err := currentSize(ctx, tx)
		if err != nil {
			return err
		}
		if size == 0 {
			size = treeSize
		}
		if size > treeSize {
			return folio.Errorf(folio.EINVALID, "size %d is beyond the tree (%d leaves)", size, treeSize)
		}
		if leaf >= size {
			return folio.Errorf(folio.EINVALID, "entry %s is leaf %d, not in a tree of size %d", pos.ID, leaf, size)
		}
		p, err := tlog.ProveRecord(size, leaf, &dbHashes{ctx: ctx, q: tx})
		if err != nil {
			return err
		}
		out = &InclusionProof{Index: leaf, Size: size, Leaf: LeafBytes(pos), Hashes: p}
		return nil
	})
	return out, err
}

// ProveConsistency returns the proof that the tree of from leaves is a
// prefix of the tree of to leaves (tlog.CheckTree(hashes, to, rootTo,
// from, rootFrom)): invalid_request unless 1 <= from <= to <= the tree's
// size.
func (s *Service) ProveConsistency(ctx context.Context, from, to int64) ([]tlog.Hash, error) {
	var out []tlog.Hash
	err := s.DB.ReadTx(ctx, func(tx pgx.Tx) error {
		treeSize, err := currentSize(ctx, tx)
		if err != nil {
			return err
		}
		switch {
		case from < 1 || to < 1:
			return folio.Errorf(folio.EINVALID, "from and to are tree sizes of at least 1")
		case from > to:
			return folio.Errorf(folio.EINVALID, "from (%d) is after to (%d)", from, to)
		case to > treeSize:
			return folio.Errorf(folio.EINVALID, "to %d is beyond the tree (%d leaves)", to, treeSize)
		}
		p, err := tlog.ProveTree(to, from, &dbHashes{ctx: ctx, q: tx})
		out = p
		return err
	})
	return out, err
}

// leafIndex returns the leaf index of the entry at pos in the Merkle log
// (conflict when it is not sealed yet). Nothing stores it: the first seal
// k whose head of the entry's shard reached its seq appended it, after the
// tree of seal k-1 and, in the global order, after the entries seal k
// appended of every lower shard and those of its own shard before it:
//
//	leaf = size(k-1) + Σ_{s' < s} (head_k(s') - head_{k-1}(s')) + (seq - head_{k-1}(s)) - 1
//
// (a head missing from seal k-1 is 0). Verify checks that each seal's tree
// grew by exactly the entries its heads moved past, which makes this the
// leaf the seal appended.
func leafIndex(ctx context.Context, tx pgx.Tx, pos ledger.Position) (int64, error) {
	var k int64
	err := tx.QueryRow(ctx, `SELECT seal FROM seal_heads WHERE shard = $1 AND seq >= $2 ORDER BY seq, seal LIMIT 1`, pos.Shard, pos.Seq).Scan(&k)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, folio.Errorf(folio.ECONFLICT, "entry %s is not sealed yet: its leaf is appended to the Merkle log at the next seal (seals run every few seconds, or POST /v1/audit/seals)", pos.ID)
	}
	if err != nil {
		return 0, fmt.Errorf("find the seal of entry %s: %w", pos.ID, err)
	}
	cur, prev, leaf, err := sealAfter(ctx, tx, k)
	if err != nil {
		return 0, fmt.Errorf("seal %d recorded entry %s's shard head: %w", k, pos.ID, err)
	}
	for _, h := range cur.Heads {
		if h.Shard < pos.Shard {
			leaf += h.Seq - prev[h.Shard]
		}
	}
	leaf += pos.Seq - prev[pos.Shard] - 1
	if leaf < 0 || leaf >= cur.TreeSize || pos.Seq <= prev[pos.Shard] {
		return 0, fmt.Errorf("entry %s (shard %d, seq %d) gives leaf %d of seal %d's tree of %d: the seals' heads do not add up (folio verify)", pos.ID, pos.Shard, pos.Seq, leaf, k, cur.TreeSize)
	}
	return leaf, nil
}

// sealAfter returns seal k with the heads and tree size of seal k-1 (none
// and 0 for the first): its leaves are size, size+1, …, each shard's
// entries past its head in prev, shard by shard.
func sealAfter(ctx context.Context, q schema.Querier, k int64) (cur *Seal, prev map[int]int64, size int64, err error) {
	after := max(0, k-2) // seals k-1 and k; k alone for the first
	seals, err := list(ctx, q, after, int(k-after))
	if err != nil {
		return nil, nil, 0, err
	}
	if len(seals) != int(k-after) || seals[len(seals)-1].N != k {
		return nil, nil, 0, fmt.Errorf("seal %d or the one before it is missing", k)
	}
	cur, prev = seals[len(seals)-1], map[int]int64{}
	if len(seals) == 2 {
		size = seals[0].TreeSize
		for _, h := range seals[0].Heads {
			prev[h.Shard] = h.Seq
		}
	}
	return cur, prev, size, nil
}

// currentSize is the last seal's tree size (0 before the first seal).
func currentSize(ctx context.Context, q schema.Querier) (int64, error) {
	var n int64
	err := q.QueryRow(ctx, `SELECT coalesce(max(tree_size), 0) FROM seals`).Scan(&n)
	return n, err
}
