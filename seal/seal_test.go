package seal_test

import (
	"context"
	"encoding/base64"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/folioledger/folio"
	"github.com/folioledger/folio/ledger"
	"github.com/folioledger/folio/seal"
)

// openCheckpoint opens a signed checkpoint with the stock note and returns
// its origin, size and root.
func openCheckpoint(t *testing.T, text string, v note.Verifier) (string, int64, tlog.Hash) {
	t.Helper()
	n, err := note.Open([]byte(text), note.VerifierList(v))
	if err != nil {
		t.Fatalf("note.Open(checkpoint): %v", err)
	}
	lines := strings.Split(n.Text, "\n")
	if len(lines) != 4 || lines[3] != "" {
		t.Fatalf("checkpoint body %q: want origin, size, root", n.Text)
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil {
		t.Fatalf("checkpoint size %q: %v", lines[1], err)
	}
	raw, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(raw) != tlog.HashSize {
		t.Fatalf("checkpoint root %q: %v", lines[2], err)
	}
	return lines[0], size, tlog.Hash(raw)
}

// memTree is a tree built in memory with the stock tlog functions.
type memTree struct {
	hashes []tlog.Hash
	size   int64
}

func (m *memTree) ReadHashes(ix []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(ix))
	for i, x := range ix {
		out[i] = m.hashes[x]
	}
	return out, nil
}

func (m *memTree) add(t *testing.T, leaf []byte) {
	hs, err := tlog.StoredHashes(m.size, leaf, m)
	if err != nil {
		t.Fatal(err)
	}
	m.hashes = append(m.hashes, hs...)
	m.size++
}

func (m *memTree) root(t *testing.T) tlog.Hash {
	h, err := tlog.TreeHash(m.size, m)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// byPosition sorts positions of one seal in the global order.
func byPosition(es []*ledger.Entry) []ledger.Position {
	ps := make([]ledger.Position, len(es))
	for i, e := range es {
		ps[i] = ledger.Position{ID: e.ID, Shard: e.Shard, Seq: e.Seq, Hash: e.Hash}
	}
	slices.SortFunc(ps, func(a, b ledger.Position) int {
		if a.Shard != b.Shard {
			return a.Shard - b.Shard
		}
		return int(a.Seq - b.Seq)
	})
	return ps
}

// TestSealsProofsAndCheckpoints seals a journal of three shards twice and
// checks everything with the stock tlog and note functions: the leaves are
// the entries in the global order (seal by seal, then shard and seq), each
// checkpoint opens with the verifier and names the tree, every entry's
// inclusion proof checks against it, the two trees are consistent, and a
// changed leaf or a rewritten history fails.
func TestSealsProofsAndCheckpoints(t *testing.T) {
	e := newEnv(t, 3)
	ctx := context.Background()
	if s, created, err := e.seals.Seal(ctx); s != nil || created || err != nil {
		t.Fatalf("Seal of an empty journal = %v, %v, %v; want nothing", s, created, err)
	}
	first := e.post(t, 6)
	s1 := e.seal(t)
	second := e.post(t, 7)
	s2 := e.seal(t)
	if again, created, err := e.seals.Seal(ctx); err != nil || created || again.N != s2.N {
		t.Fatalf("Seal with no new entry = %v, %v, %v; want seal %d, not created", again, created, err, s2.N)
	}
	if s1.N != 1 || s2.N != 2 || s1.TreeSize != 6 || s2.TreeSize != 13 || string(s2.PrevHash) != string(s1.Hash) {
		t.Fatalf("seals = %+v, %+v; want 1 (6 leaves) and 2 (13 leaves) linked", s1, s2)
	}
	if len(s2.Heads) != 3 {
		t.Fatalf("seal 2 has %d heads, want 3", len(s2.Heads))
	}

	// The leaves, in the documented order, rebuilt with tlog alone.
	want := append(byPosition(first), byPosition(second)...)
	var tree memTree
	roots := map[int64]tlog.Hash{}
	for _, p := range want {
		tree.add(t, seal.LeafBytes(p))
		roots[tree.size] = tree.root(t)
	}
	for _, s := range []*seal.Seal{s1, s2} {
		cp, err := e.seals.Checkpoint(ctx, s.TreeSize)
		if err != nil {
			t.Fatalf("Checkpoint(%d): %v", s.TreeSize, err)
		}
		origin, size, root := openCheckpoint(t, cp, e.seals.Verifier)
		if origin != "folio-test" || size != s.TreeSize || root != roots[size] || string(s.Root) != string(root[:]) {
			t.Fatalf("checkpoint of seal %d = %s %d %x; want folio-test %d %x", s.N, origin, size, root, s.TreeSize, roots[s.TreeSize])
		}
	}

	for i, p := range want {
		for _, size := range []int64{0, 13} {
			pr, err := e.seals.ProveInclusion(ctx, p.ID, size)
			if err != nil {
				t.Fatalf("ProveInclusion(%s, %d): %v", p.ID, size, err)
			}
			if pr.Index != int64(i) || pr.Size != 13 || string(pr.Leaf) != string(seal.LeafBytes(p)) {
				t.Fatalf("ProveInclusion(%s) = index %d size %d leaf %q; want %d, 13, %q", p.ID, pr.Index, pr.Size, pr.Leaf, i, seal.LeafBytes(p))
			}
			if err := tlog.CheckRecord(pr.Hashes, pr.Size, roots[13], pr.Index, tlog.RecordHash(pr.Leaf)); err != nil {
				t.Fatalf("tlog.CheckRecord(entry %d): %v", i, err)
			}
			tampered := []byte(strings.Replace(string(pr.Leaf), "\n"+strconv.Itoa(p.Shard)+"\n", "\n"+strconv.Itoa(p.Shard+1)+"\n", 1))
			if err := tlog.CheckRecord(pr.Hashes, pr.Size, roots[13], pr.Index, tlog.RecordHash(tampered)); err == nil {
				t.Fatalf("tlog.CheckRecord accepted a changed leaf %q", tampered)
			}
		}
		if i < 6 {
			pr, err := e.seals.ProveInclusion(ctx, p.ID, 6)
			if err != nil {
				t.Fatalf("ProveInclusion(%s, 6): %v", p.ID, err)
			}
			if err := tlog.CheckRecord(pr.Hashes, 6, roots[6], pr.Index, tlog.RecordHash(pr.Leaf)); err != nil {
				t.Fatalf("tlog.CheckRecord(entry %d in tree 6): %v", i, err)
			}
		}
	}

	for from := int64(1); from <= 13; from++ {
		pr, err := e.seals.ProveConsistency(ctx, from, 13)
		if err != nil {
			t.Fatalf("ProveConsistency(%d, 13): %v", from, err)
		}
		if err := tlog.CheckTree(pr, 13, roots[13], from, roots[from]); err != nil {
			t.Fatalf("tlog.CheckTree(%d → 13): %v", from, err)
		}
	}
	// A rewritten history: the same entries but the third changed.
	var other memTree
	for i, p := range want {
		if i == 2 {
			p.Hash = append([]byte{p.Hash[0] ^ 1}, p.Hash[1:]...)
		}
		other.add(t, seal.LeafBytes(p))
		if other.size == 6 {
			break
		}
	}
	pr, err := e.seals.ProveConsistency(ctx, 6, 13)
	if err != nil {
		t.Fatal(err)
	}
	if err := tlog.CheckTree(pr, 13, roots[13], 6, other.root(t)); err == nil {
		t.Fatal("tlog.CheckTree accepted a rewritten history of 6 leaves")
	}

	if probs := e.problems(t); len(probs) != 0 {
		t.Fatalf("Verify found problems: %+v", probs)
	}

	// Errors.
	later := e.post(t, 1)[0]
	for _, c := range []struct {
		name     string
		err      error
		wantCode string
	}{
		{"unknown entry", second2(e.seals.ProveInclusion(ctx, "00000000-0000-4000-8000-000000000000", 0)), folio.ENOTFOUND},
		{"garbage entry", second2(e.seals.ProveInclusion(ctx, "garbage", 0)), folio.ENOTFOUND},
		{"not sealed", second2(e.seals.ProveInclusion(ctx, later.ID, 0)), folio.ECONFLICT},
		{"size beyond", second2(e.seals.ProveInclusion(ctx, first[0].ID, 14)), folio.EINVALID},
		{"entry beyond size", second2(e.seals.ProveInclusion(ctx, want[12].ID, 12)), folio.EINVALID},
		{"from after to", second2(e.seals.ProveConsistency(ctx, 7, 6)), folio.EINVALID},
		{"to beyond", second2(e.seals.ProveConsistency(ctx, 1, 14)), folio.EINVALID},
		{"from zero", second2(e.seals.ProveConsistency(ctx, 0, 6)), folio.EINVALID},
		{"checkpoint beyond", second2(e.seals.Checkpoint(ctx, 14)), folio.EINVALID},
		{"checkpoint at no seal", second2(e.seals.Checkpoint(ctx, 7)), folio.ENOTFOUND},
	} {
		if got := folio.ErrorCode(c.err); got != c.wantCode {
			t.Errorf("%s: error %v, want %s", c.name, c.err, c.wantCode)
		}
	}
}

func second2[T any](_ T, err error) error { return err }

// TestConcurrentSealersOneChain runs four sealers while entries are written:
// the seals form one chain (1, 2, … each linked to the one before), every
// entry is a leaf exactly once and everything verifies.
func TestConcurrentSealersOneChain(t *testing.T) {
	e := newEnv(t, 2)
	ctx := context.Background()
	done := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	var created sync.Map
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				s, ok, err := e.seals.Seal(ctx)
				if err != nil {
					errs <- err
					return
				}
				if ok {
					if prev, dup := created.LoadOrStore(s.N, w); dup {
						errs <- &folio.Error{Code: "fork", Message: "seal " + strconv.FormatInt(s.N, 10) + " created twice, by " + strconv.Itoa(prev.(int)) + " and " + strconv.Itoa(w)}
					}
				}
				select {
				case <-done:
					return
				default:
				}
			}
		}()
	}
	entries := e.post(t, 40)
	close(done)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("sealer: %v", err)
	}
	e.seals.Seal(ctx)
	seals, err := e.seals.List(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(seals) < 2 {
		t.Fatalf("%d seals, want several (sealers ran while 40 entries were written)", len(seals))
	}
	for i, s := range seals {
		if s.N != int64(i+1) || (i > 0 && string(s.PrevHash) != string(seals[i-1].Hash)) || (i > 0 && s.TreeSize <= seals[i-1].TreeSize) {
			t.Fatalf("seal %d of the list = n %d, size %d: not a linear chain", i, s.N, s.TreeSize)
		}
	}
	if last := seals[len(seals)-1]; last.TreeSize != int64(len(entries)) {
		t.Fatalf("last seal has %d leaves, want %d", last.TreeSize, len(entries))
	}
	for _, en := range entries {
		if _, err := e.seals.ProveInclusion(ctx, en.ID, 0); err != nil {
			t.Fatalf("ProveInclusion(%s): %v", en.ID, err)
		}
	}
	if probs := e.problems(t); len(probs) != 0 {
		t.Fatalf("Verify found problems: %+v", probs)
	}
}

// TestVerifyDetectsTampering changes, as the database's superuser, one
// stored thing at a time and expects Verify to name it.
func TestVerifyDetectsTampering(t *testing.T) {
	for _, c := range []struct {
		name, sql, kind string
		detail          string // in the problem's detail, when set
	}{
		{"seal time", `UPDATE seals SET sealed_at = sealed_at + interval '1 second' WHERE n = 1`, seal.ProblemSeal, ""},
		{"seal link", `UPDATE seals SET prev_hash = hash WHERE n = 2`, seal.ProblemSeal, ""},
		{"seal head", `UPDATE seal_heads SET hash = sha256(hash) WHERE seal = 1 AND shard = (SELECT max(shard) FROM seal_heads WHERE seal = 1 AND seq > 0)`, seal.ProblemSeal, ""},
		{"seal gone", `DELETE FROM seal_heads WHERE seal = 2; DELETE FROM seals WHERE n = 1`, seal.ProblemSeal, ""},
		// 80 leaves in two seals: the upper runs (level 5 and up) hold the
		// node of leaves 0–31 from the first (upper index 0), those of
		// 32–63 and 0–63 from the second (1 and 2).
		{"merkle hash", `UPDATE merkle_upper_runs SET hashes = overlay(hashes PLACING sha256(substring(hashes FROM 1 FOR 32)) FROM 1) WHERE first_idx = 0`, seal.ProblemMerkle, ""},
		{"merkle run byte", `UPDATE merkle_upper_runs SET hashes = set_byte(hashes, 5, get_byte(hashes, 5) # 1) WHERE first_idx = (SELECT max(first_idx) FROM merkle_upper_runs)`, seal.ProblemMerkle, "in the run from"},
		{"merkle run cut", `UPDATE merkle_upper_runs SET hashes = substring(hashes FROM 1 FOR length(hashes) - 32) WHERE first_idx = 1`, seal.ProblemMerkle, "are not stored"},
		{"merkle run overlap", `INSERT INTO merkle_upper_runs (first_idx, hashes) SELECT first_idx + 1, substring(hashes FROM 33) FROM merkle_upper_runs WHERE first_idx = 1`, seal.ProblemMerkle, "overlaps"},
		{"merkle run stray", `INSERT INTO merkle_upper_runs (first_idx, hashes) SELECT 1000000, hashes FROM merkle_upper_runs WHERE first_idx = 0`, seal.ProblemMerkle, "beyond the last seal"},
		{"merkle old run", `INSERT INTO merkle_hash_runs (first_idx, hashes) VALUES (0, sha256('x'))`, seal.ProblemMerkle, "merkle hash 0 (in the run from 0)"},
		{"merkle tree size", `UPDATE seals SET tree_size = tree_size + 1 WHERE n = 2`, seal.ProblemMerkle, "heads moved past"},
		{"merkle root", `UPDATE seals SET root = sha256(root) WHERE n = 2`, seal.ProblemMerkle, ""},
		{"checkpoint", `UPDATE seals SET checkpoint = replace(checkpoint, E'\n40\n', E'\n41\n') WHERE n = 1`, seal.ProblemCheckpoint, ""},
		{"shard dropped", `DELETE FROM seal_heads WHERE seal = 2 AND shard = 0`, seal.ProblemSeal, "has no head of shard 0"},
		{"entry hash", `UPDATE seal_heads SET seq = seq - 1 WHERE seal = 2 AND seq > 1 AND shard = (SELECT min(shard) FROM seal_heads WHERE seal = 2 AND seq > 1)`, seal.ProblemSeal, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, 2)
			e.post(t, 40)
			e.seal(t)
			e.post(t, 40)
			e.seal(t)
			if probs := e.problems(t); len(probs) != 0 {
				t.Fatalf("Verify before tampering: %+v", probs)
			}
			if _, err := e.db.Admin.Exec(context.Background(), c.sql); err != nil {
				t.Fatalf("tamper: %v", err)
			}
			probs := e.problems(t)
			found := false
			for _, p := range probs {
				found = found || (p.Kind == c.kind && strings.Contains(p.Detail, c.detail))
			}
			if !found {
				t.Fatalf("Verify after %q = %+v; want a %s saying %q", c.sql, probs, c.kind, c.detail)
			}
		})
	}
}

// TestSealersRaceForOneNumber starts eight sealers at once on the same
// moved journal, round after round: exactly one creates the seal, the
// others return that same seal, and the chain stays linear.
func TestSealersRaceForOneNumber(t *testing.T) {
	e := newEnv(t, 2)
	ctx := context.Background()
	for round := int64(1); round <= 4; round++ {
		e.post(t, 3)
		start := make(chan struct{})
		type result struct {
			s       *seal.Seal
			created bool
			err     error
		}
		results := make(chan result, 8)
		for range 8 {
			go func() {
				<-start
				s, created, err := e.seals.Seal(ctx)
				results <- result{s, created, err}
			}()
		}
		close(start)
		creators := 0
		for range 8 {
			r := <-results
			if r.err != nil {
				t.Fatalf("round %d: Seal: %v", round, r.err)
			}
			if r.s == nil || r.s.N != round || r.s.TreeSize != 3*round {
				t.Fatalf("round %d: Seal returned %+v, want seal %d of %d leaves", round, r.s, round, 3*round)
			}
			if r.created {
				creators++
			}
		}
		if creators != 1 {
			t.Fatalf("round %d: %d sealers created seal %d, want exactly 1", round, creators, round)
		}
	}
	if probs := e.problems(t); len(probs) != 0 {
		t.Fatalf("Verify found problems: %+v", probs)
	}
}

// TestRunSealsWhenAShardMoved runs the worker with a short interval: it
// seals new entries, and writes no seal while nothing moves.
func TestRunSealsWhenAShardMoved(t *testing.T) {
	e := newEnv(t, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		e.seals.Run(ctx, 10*time.Millisecond, func(format string, args ...any) { t.Errorf("Run: "+format, args...) })
	}()
	defer func() { cancel(); <-done }()
	waitFor := func(size int64) *seal.Seal {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			s, err := e.seals.Latest(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if s != nil && s.TreeSize == size {
				return s
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Fatalf("no seal of %d leaves within 10s", size)
		return nil
	}
	e.post(t, 2)
	s := waitFor(2)
	time.Sleep(100 * time.Millisecond) // ten ticks with nothing to seal
	if again, err := e.seals.Latest(ctx); err != nil || again.N != s.N {
		t.Fatalf("Latest after idle ticks = %+v, %v; want seal %d still the last", again, err, s.N)
	}
	e.post(t, 1)
	if s2 := waitFor(3); s2.N != s.N+1 {
		t.Fatalf("next seal = %d, want %d", s2.N, s.N+1)
	}
}

// TestBacklogSealedInSteps bounds a seal to 4 leaves (2 per shard): a
// backlog of 11 entries is sealed by one call in several seals, whose heads
// are the entries each reached, and all of it verifies and proves.
func TestBacklogSealedInSteps(t *testing.T) {
	e := newEnv(t, 2)
	e.seals.MaxLeaves = 4
	ctx := context.Background()
	entries := e.post(t, 11)
	last := e.seal(t)
	if last.TreeSize != 11 || last.N < 3 {
		t.Fatalf("last seal = n %d of %d leaves; want several seals covering 11", last.N, last.TreeSize)
	}
	seals, err := e.seals.List(ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range seals {
		grew := s.TreeSize
		if i > 0 {
			grew -= seals[i-1].TreeSize
		}
		if grew < 1 || grew > 4 {
			t.Fatalf("seal %d appended %d leaves, want 1 to 4", s.N, grew)
		}
	}
	cp, err := e.seals.Checkpoint(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, _, root := openCheckpoint(t, cp, e.seals.Verifier)
	for _, en := range entries {
		p, err := e.seals.ProveInclusion(ctx, en.ID, 0)
		if err != nil {
			t.Fatalf("ProveInclusion(%s): %v", en.ID, err)
		}
		if err := tlog.CheckRecord(p.Hashes, p.Size, root, p.Index, tlog.RecordHash(p.Leaf)); err != nil {
			t.Fatalf("tlog.CheckRecord(%s): %v", en.ID, err)
		}
	}
	if probs := e.problems(t); len(probs) != 0 {
		t.Fatalf("Verify found problems: %+v", probs)
	}
}

// TestSealsAcrossShardCountChanges seals while `folio journal-shards`
// adds and retires shards: a new shard enters the seals at seq 0, a
// retired one keeps its last head, and everything verifies.
func TestSealsAcrossShardCountChanges(t *testing.T) {
	e := newEnv(t, 2)
	ctx := context.Background()
	e.post(t, 4)
	e.seal(t)
	for _, n := range []int{3, 1} {
		if err := ledger.SetShards(ctx, e.app, n); err != nil {
			t.Fatalf("SetShards(%d): %v", n, err)
		}
		e.ledger = ledger.New(e.app) // a server restarts after a change
		e.post(t, 6)
		s := e.seal(t)
		if len(s.Heads) != 3 {
			t.Fatalf("seal after SetShards(%d) has %d heads, want 3 (retired shards stay)", n, len(s.Heads))
		}
	}
	last, err := e.seals.Latest(ctx)
	if err != nil || last.TreeSize != 16 {
		t.Fatalf("Latest = %+v, %v; want 16 leaves", last, err)
	}
	// Every entry's leaf index, derived from the heads of seals with two
	// and three shards, is its place in the global order.
	_, _, root := openCheckpoint(t, last.Checkpoint, e.seals.Verifier)
	seals, err := e.seals.List(ctx, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	var tree memTree
	prev := map[int]int64{}
	for _, s := range seals {
		for _, h := range s.Heads {
			es, err := ledger.ShardEntries(ctx, e.app.Pool, h.Shard, prev[h.Shard], h.Seq)
			if err != nil {
				t.Fatal(err)
			}
			for _, en := range es {
				p := ledger.Position{ID: en.ID, Shard: en.Shard, Seq: en.Seq, Hash: en.Hash}
				pr, err := e.seals.ProveInclusion(ctx, en.ID, 0)
				if err != nil {
					t.Fatalf("ProveInclusion(%s): %v", en.ID, err)
				}
				if pr.Index != tree.size {
					t.Fatalf("entry %s (shard %d, seq %d, seal %d) is leaf %d, the global order puts it at %d", en.ID, en.Shard, en.Seq, s.N, pr.Index, tree.size)
				}
				if err := tlog.CheckRecord(pr.Hashes, pr.Size, root, pr.Index, tlog.RecordHash(pr.Leaf)); err != nil {
					t.Fatalf("tlog.CheckRecord(%s): %v", en.ID, err)
				}
				tree.add(t, seal.LeafBytes(p))
			}
			prev[h.Shard] = h.Seq
		}
	}
	if tree.size != 16 || tree.root(t) != root {
		t.Fatalf("the entries in the global order make a tree of %d leaves, root %x; want 16, %x", tree.size, tree.root(t), root)
	}
	if probs := e.problems(t); len(probs) != 0 {
		t.Fatalf("Verify found problems: %+v", probs)
	}
}
