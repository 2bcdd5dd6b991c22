package api

import (
	"context"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/folioledger/folio"
	"github.com/folioledger/folio/keys"
)

// verifierOf fetches GET /v1/audit/checkpoint-key and returns its verifier.
func (e *env) verifierOf(key string) note.Verifier {
	e.t.Helper()
	var k struct {
		Origin      string
		VerifierKey string `json:"verifier_key"`
	}
	e.must(http.StatusOK, req{Method: "GET", Path: "/v1/audit/checkpoint-key", Key: key}).Decode(e.t, &k)
	v, err := note.NewVerifier(k.VerifierKey)
	if err != nil || k.Origin != v.Name() {
		e.t.Fatalf("checkpoint key %+v: %v (origin must be the key's name)", k, err)
	}
	return v
}

// checkpoint fetches and opens a checkpoint with the stock note package:
// its size and root.
func (e *env) checkpoint(path, key string, v note.Verifier) (int64, tlog.Hash) {
	e.t.Helper()
	res := e.must(http.StatusOK, req{Method: "GET", Path: path, Key: key})
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		e.t.Fatalf("GET %s Content-Type = %q, want text/plain", path, ct)
	}
	n, err := note.Open(res.Body, note.VerifierList(v))
	if err != nil {
		e.t.Fatalf("note.Open(GET %s): %v\n%s", path, err, res.Body)
	}
	lines := strings.Split(n.Text, "\n")
	size, err := strconv.ParseInt(lines[1], 10, 64)
	raw, rerr := base64.StdEncoding.DecodeString(lines[2])
	if len(lines) != 4 || lines[0] != v.Name() || err != nil || rerr != nil || len(raw) != 32 {
		e.t.Fatalf("checkpoint body %q: want origin %s, size, root", n.Text, v.Name())
	}
	return size, tlog.Hash(raw)
}

type inclusionProof struct {
	Index, Size int64
	Leaf        string
	Hashes      []string
}

func decodeHashes(t *testing.T, in []string) []tlog.Hash {
	t.Helper()
	out := make([]tlog.Hash, len(in))
	for i, s := range in {
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil || len(b) != 32 {
			t.Fatalf("hash %q is not base64 of 32 bytes", s)
		}
		out[i] = tlog.Hash(b)
	}
	return out
}

// TestSealsCheckpointsAndProofs is the auditor's and the affiliate's path
// end to end: seal, fetch the verifier key and the signed checkpoint, check
// inclusion and consistency proofs with the stock tlog functions (a
// changed leaf or a rewritten history fails), list the seals, and verify;
// then tamper with a seal and a Merkle hash as the superuser and watch
// verify fail.
func TestSealsCheckpointsAndProofs(t *testing.T) {
	e := newEnv(t)
	e.currencies()
	admin := bootstrapKey
	alice := e.key(keys.RoleAffiliate, "alice")
	auditor := e.key(keys.RoleAuditor, "")

	if res := e.do(req{Method: "POST", Path: "/v1/audit/seals", Key: admin}); res.Status != http.StatusConflict || problemCode(t, res) != folio.ECONFLICT {
		t.Fatalf("POST /v1/audit/seals on an empty journal = %d %s, want 409", res.Status, res.Body)
	}
	if res := e.do(req{Method: "GET", Path: "/v1/audit/checkpoint", Key: auditor}); res.Status != http.StatusNotFound {
		t.Fatalf("GET /v1/audit/checkpoint before any seal = %d, want 404", res.Status)
	}
	var ids []string
	holders := []string{"alice", "bob", "alice"}
	for i, h := range holders {
		ids = append(ids, e.post(entryBody("s-"+strconv.Itoa(i), posting("110:USD", "debit", "1"), posting("201:USD:"+h, "credit", "1")))["id"].(string))
	}
	var s1 struct {
		N        int64
		TreeSize int64 `json:"tree_size"`
		Root     string
		Heads    []struct{ Shard int }
	}
	e.must(http.StatusCreated, req{Method: "POST", Path: "/v1/audit/seals", Key: admin}).Decode(t, &s1)
	if s1.N != 1 || s1.TreeSize != 3 || len(s1.Heads) == 0 {
		t.Fatalf("first seal = %+v, want n 1 of 3 leaves", s1)
	}
	e.must(http.StatusOK, req{Method: "POST", Path: "/v1/audit/seals", Key: admin})
	unsealed := e.post(entryBody("s-3", posting("110:USD", "debit", "1"), posting("201:USD:alice", "credit", "1")))["id"].(string)
	res := e.do(req{Method: "GET", Path: "/v1/audit/proofs/inclusion?entry=" + unsealed, Key: auditor})
	if res.Status != http.StatusConflict || !strings.Contains(string(res.Body), "not sealed yet") {
		t.Fatalf("inclusion of an unsealed entry = %d %s, want 409 not sealed yet", res.Status, res.Body)
	}
	ids = append(ids, unsealed, e.post(entryBody("s-4", posting("110:USD", "debit", "1"), posting("201:USD:bob", "credit", "1")))["id"].(string))
	e.must(http.StatusCreated, req{Method: "POST", Path: "/v1/audit/seals", Key: admin})

	v := e.verifierOf(alice)
	size, root := e.checkpoint("/v1/audit/checkpoint", alice, v)
	oldSize, oldRoot := e.checkpoint("/v1/audit/checkpoint?size=3", auditor, v)
	if size != 5 || oldSize != 3 || base64.StdEncoding.EncodeToString(oldRoot[:]) != s1.Root {
		t.Fatalf("checkpoints = %d, %d (root %x); want 5 and 3 (root %s)", size, oldSize, oldRoot, s1.Root)
	}

	leaves := map[int64][]byte{}
	for _, id := range ids {
		var p inclusionProof
		e.must(http.StatusOK, req{Method: "GET", Path: "/v1/audit/proofs/inclusion?entry=" + id, Key: auditor}).Decode(t, &p)
		leaf, err := base64.StdEncoding.DecodeString(p.Leaf)
		if err != nil || !strings.HasPrefix(string(leaf), "folio-leaf/1\n"+id+"\n") || p.Size != 5 {
			t.Fatalf("inclusion proof of %s = %+v, want leaf folio-leaf/1 of it in tree 5", id, p)
		}
		leaves[p.Index] = leaf
		if err := tlog.CheckRecord(decodeHashes(t, p.Hashes), p.Size, root, p.Index, tlog.RecordHash(leaf)); err != nil {
			t.Fatalf("tlog.CheckRecord(%s): %v", id, err)
		}
		changed := append([]byte(nil), leaf...)
		changed[len(changed)-2] ^= 1 // a hex digit of the chain hash
		if err := tlog.CheckRecord(decodeHashes(t, p.Hashes), p.Size, root, p.Index, tlog.RecordHash(changed)); err == nil {
			t.Fatalf("tlog.CheckRecord accepted a changed leaf of %s", id)
		}
	}
	if len(leaves) != 5 {
		t.Fatalf("5 entries took %d distinct leaf indexes", len(leaves))
	}
	// Alice proves her own entries, against the old checkpoint too; bob's
	// are not found for her.
	var p inclusionProof
	e.must(http.StatusOK, req{Method: "GET", Path: "/v1/audit/proofs/inclusion?entry=" + ids[0] + "&size=3", Key: alice}).Decode(t, &p)
	leaf, _ := base64.StdEncoding.DecodeString(p.Leaf)
	if err := tlog.CheckRecord(decodeHashes(t, p.Hashes), 3, oldRoot, p.Index, tlog.RecordHash(leaf)); err != nil {
		t.Fatalf("tlog.CheckRecord(alice's entry in tree 3): %v", err)
	}
	if res := e.do(req{Method: "GET", Path: "/v1/audit/proofs/inclusion?entry=" + ids[1], Key: alice}); res.Status != http.StatusNotFound {
		t.Fatalf("alice's key asks for bob's entry's proof = %d %s, want 404", res.Status, res.Body)
	}
	if res := e.do(req{Method: "GET", Path: "/v1/audit/seals", Key: alice}); res.Status != http.StatusForbidden {
		t.Fatalf("alice's key lists seals = %d, want 403", res.Status)
	}

	var c struct {
		From, To int64
		Hashes   []string
	}
	e.must(http.StatusOK, req{Method: "GET", Path: "/v1/audit/proofs/consistency?from=3&to=5", Key: alice}).Decode(t, &c)
	if c.From != 3 || c.To != 5 {
		t.Fatalf("consistency = %+v, want from 3 to 5", c)
	}
	if err := tlog.CheckTree(decodeHashes(t, c.Hashes), 5, root, 3, oldRoot); err != nil {
		t.Fatalf("tlog.CheckTree(3 → 5): %v", err)
	}
	// A rewritten history of the first three entries: leaf 1 changed.
	var hashes []tlog.Hash
	reader := tlog.HashReaderFunc(func(ix []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(ix))
		for i, x := range ix {
			out[i] = hashes[x]
		}
		return out, nil
	})
	for i := int64(0); i < 3; i++ {
		l := leaves[i]
		if i == 1 {
			l = []byte(strings.Replace(string(l), "folio-leaf/1\n", "folio-leaf/1\n ", 1))
		}
		hs, err := tlog.StoredHashes(i, l, reader)
		if err != nil {
			t.Fatal(err)
		}
		hashes = append(hashes, hs...)
	}
	forged, err := tlog.TreeHash(3, reader)
	if err != nil {
		t.Fatal(err)
	}
	if err := tlog.CheckTree(decodeHashes(t, c.Hashes), 5, root, 3, forged); err == nil {
		t.Fatal("tlog.CheckTree accepted a rewritten history")
	}

	var page struct {
		Data []struct {
			N        int64
			PrevHash string `json:"prev_hash"`
			Hash     string
		}
		NextCursor string `json:"next_cursor"`
	}
	e.must(http.StatusOK, req{Method: "GET", Path: "/v1/audit/seals?limit=1", Key: auditor}).Decode(t, &page)
	if len(page.Data) != 1 || page.Data[0].N != 1 || page.NextCursor == "" || page.Data[0].PrevHash != strings.Repeat("0", 64) {
		t.Fatalf("first page of seals = %+v", page)
	}
	first, cursor := page.Data[0].Hash, page.NextCursor
	page.Data, page.NextCursor = nil, ""
	e.must(http.StatusOK, req{Method: "GET", Path: "/v1/audit/seals?limit=1&cursor=" + cursor, Key: auditor}).Decode(t, &page)
	if len(page.Data) != 1 || page.Data[0].N != 2 || page.Data[0].PrevHash != first || page.NextCursor != "" {
		t.Fatalf("second page of seals = %+v, want seal 2 linked to %s", page, first)
	}
	csvRes := e.must(http.StatusOK, req{Method: "GET", Path: "/v1/audit/seals?format=csv", Key: auditor})
	if rows := strings.Split(strings.TrimSpace(string(csvRes.Body)), "\r\n"); len(rows) != 3 || rows[0] != strings.Join(sealsCSVHeader, ",") {
		t.Fatalf("seals CSV = %q", csvRes.Body)
	}

	verify := func() map[string]any {
		return e.must(http.StatusOK, req{Method: "GET", Path: "/v1/audit/verify", Key: auditor}).JSON(t)
	}
	if rep := verify(); rep["ok"] != true {
		t.Fatalf("verify = %v, want ok", rep)
	}
	for _, c := range []struct{ sql, kind string }{
		// A tree this small stores no hash (levels below seal.LowLevels are
		// recomputed from the entries): a forged run claims hash 0.
		{`INSERT INTO merkle_hash_runs (first_idx, hashes) VALUES (0, sha256('forged'))`, "merkle_mismatch"},
		{`UPDATE seals SET sealed_at = sealed_at - interval '1 hour' WHERE n = 2`, "seal_mismatch"},
	} {
		if _, err := e.db.Admin.Exec(context.Background(), c.sql); err != nil {
			t.Fatal(err)
		}
		rep := verify()
		if rep["ok"] != false || !strings.Contains(string(mustJSON(t, rep["problems"])), c.kind) {
			t.Fatalf("verify after %s = %v, want a %s", c.sql, rep, c.kind)
		}
	}
}

// TestSealRoutesHostileInput: bad parameters answer 400 (or 404 for an
// entry that names nothing) with a problem, and write nothing.
func TestSealRoutesHostileInput(t *testing.T) {
	e := newEnv(t)
	e.currencies()
	id := e.post(entryBody("h-0", posting("110:USD", "debit", "1"), posting("201:USD:alice", "credit", "1")))["id"].(string)
	e.must(http.StatusCreated, req{Method: "POST", Path: "/v1/audit/seals", Key: bootstrapKey})
	e.post(entryBody("h-1", posting("110:USD", "debit", "1"), posting("201:USD:alice", "credit", "1")))
	before := e.sealCount()
	for _, c := range []struct {
		name   string
		q      req
		status int
	}{
		{"entry garbage", req{Method: "GET", Path: "/v1/audit/proofs/inclusion?entry=garbage"}, 400},
		{"entry SQL", req{Method: "GET", Path: "/v1/audit/proofs/inclusion?entry=%27%20OR%201%3D1--"}, 400},
		{"entry upper-case garbage UUID", req{Method: "GET", Path: "/v1/audit/proofs/inclusion?entry=ZZZZZZZZ-0000-4000-8000-000000000000"}, 400},
		{"entry unknown", req{Method: "GET", Path: "/v1/audit/proofs/inclusion?entry=00000000-0000-4000-8000-000000000000"}, 404},
		{"entry missing", req{Method: "GET", Path: "/v1/audit/proofs/inclusion"}, 400},
		{"entry twice", req{Method: "GET", Path: "/v1/audit/proofs/inclusion?entry=" + id + "&entry=" + id}, 400},
		{"size -1", req{Method: "GET", Path: "/v1/audit/proofs/inclusion?entry=" + id + "&size=-1"}, 400},
		{"size 0", req{Method: "GET", Path: "/v1/audit/proofs/inclusion?entry=" + id + "&size=0"}, 400},
		{"size huge", req{Method: "GET", Path: "/v1/audit/proofs/inclusion?entry=" + id + "&size=99999999999999999999999"}, 400},
		{"size beyond the tree", req{Method: "GET", Path: "/v1/audit/proofs/inclusion?entry=" + id + "&size=2"}, 400},
		{"size max int64", req{Method: "GET", Path: "/v1/audit/proofs/inclusion?entry=" + id + "&size=9223372036854775807"}, 400},
		{"size a float", req{Method: "GET", Path: "/v1/audit/proofs/inclusion?entry=" + id + "&size=1.0"}, 400},
		{"unknown parameter", req{Method: "GET", Path: "/v1/audit/proofs/inclusion?entry=" + id + "&index=0"}, 400},
		{"from after to", req{Method: "GET", Path: "/v1/audit/proofs/consistency?from=2&to=1"}, 400},
		{"from 0", req{Method: "GET", Path: "/v1/audit/proofs/consistency?from=0&to=1"}, 400},
		{"to beyond the tree", req{Method: "GET", Path: "/v1/audit/proofs/consistency?from=1&to=2"}, 400},
		{"to missing", req{Method: "GET", Path: "/v1/audit/proofs/consistency?from=1"}, 400},
		{"from garbage", req{Method: "GET", Path: "/v1/audit/proofs/consistency?from=x&to=1"}, 400},
		{"consistency unknown parameter", req{Method: "GET", Path: "/v1/audit/proofs/consistency?from=1&to=1&size=1"}, 400},
		{"checkpoint size -1", req{Method: "GET", Path: "/v1/audit/checkpoint?size=-1"}, 400},
		{"checkpoint size beyond", req{Method: "GET", Path: "/v1/audit/checkpoint?size=99"}, 400},
		{"checkpoint size huge", req{Method: "GET", Path: "/v1/audit/checkpoint?size=1e99"}, 400},
		{"checkpoint unknown parameter", req{Method: "GET", Path: "/v1/audit/checkpoint?root=x"}, 400},
		{"checkpoint-key with a parameter", req{Method: "GET", Path: "/v1/audit/checkpoint-key?x=1"}, 400},
		{"seals cursor garbage", req{Method: "GET", Path: "/v1/audit/seals?cursor=garbage"}, 400},
		{"seals cursor of another list", req{Method: "GET", Path: "/v1/audit/seals?cursor=" + encodeCursor("audit", "1")}, 400},
		{"seals cursor negative", req{Method: "GET", Path: "/v1/audit/seals?cursor=" + encodeCursor("seals", "-5")}, 400},
		{"seals limit 0", req{Method: "GET", Path: "/v1/audit/seals?limit=0"}, 400},
		{"seals format xml", req{Method: "GET", Path: "/v1/audit/seals?format=xml"}, 400},
		{"seals unknown parameter", req{Method: "GET", Path: "/v1/audit/seals?n=1"}, 400},
		{"seal with a body array", req{Method: "POST", Path: "/v1/audit/seals", Body: `[1]`}, 400},
		{"seal with an unknown field", req{Method: "POST", Path: "/v1/audit/seals", Body: `{"force":true}`}, 400},
		{"seal with a query", req{Method: "POST", Path: "/v1/audit/seals?force=1"}, 400},
	} {
		if c.q.Key == "" {
			c.q.Key = bootstrapKey
		}
		res := e.do(c.q)
		if res.Status != c.status {
			t.Errorf("%s: %s %s = %d %s, want %d", c.name, c.q.Method, c.q.Path, res.Status, res.Body, c.status)
			continue
		}
		problemCode(t, res)
	}
	if after := e.sealCount(); after != before {
		t.Fatalf("hostile requests wrote seals: %d before, %d after", before, after)
	}
}

func (e *env) sealCount() int {
	e.t.Helper()
	var n int
	if err := e.db.Admin.QueryRow(context.Background(), `SELECT (SELECT count(*) FROM seals) + (SELECT count(*) FROM merkle_hash_runs) + (SELECT count(*) FROM merkle_upper_runs)`).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}
