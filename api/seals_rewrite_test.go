package api

import (
	"context"
	"encoding/base64"
	"net/http"
	"strconv"
	"testing"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/folioledger/folio/keys"
)

// TestProofsAcrossRewrittenHistory: an auditor keeps a checkpoint; the
// database's owner rewrites an entry and rebuilds the whole Merkle log
// (deleting every seal and sealing again, as the server would for that
// history). Every proof the server now gives fails against the kept
// checkpoint with the stock tlog functions — the rewritten entry's
// inclusion, the consistency from the kept tree to the grown one — while
// the same proofs pass against the rewritten checkpoints (so they fail
// because of the rewrite, not by construction).
func TestProofsAcrossRewrittenHistory(t *testing.T) {
	e := newEnv(t)
	e.currencies()
	auditor := e.key(keys.RoleAuditor, "")
	var ids []string
	for i := range 3 {
		ids = append(ids, e.post(entryBody("rw-"+strconv.Itoa(i), posting("110:USD", "debit", "1"), posting("201:USD:alice", "credit", "1")))["id"].(string))
	}
	e.must(http.StatusCreated, req{Method: "POST", Path: "/v1/audit/seals", Key: bootstrapKey})
	v := e.verifierOf(auditor)
	keptSize, keptRoot := e.checkpoint("/v1/audit/checkpoint", auditor, v)
	if keptSize != 3 {
		t.Fatalf("kept checkpoint of %d leaves, want 3", keptSize)
	}

	ctx := context.Background()
	for _, sql := range []string{
		`UPDATE entries SET hash = sha256(hash) WHERE id = '` + ids[1] + `'`,
		`DELETE FROM seal_heads`, `DELETE FROM merkle_hash_runs`, `DELETE FROM merkle_upper_runs`, `DELETE FROM seals`,
	} {
		if _, err := e.db.Admin.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	e.must(http.StatusCreated, req{Method: "POST", Path: "/v1/audit/seals", Key: bootstrapKey})
	size3, root3 := e.checkpoint("/v1/audit/checkpoint", auditor, v)
	if size3 != 3 || root3 == keptRoot {
		t.Fatalf("rewritten checkpoint = %d %x, want 3 leaves and another root than the kept %x", size3, root3, keptRoot)
	}
	for i := 3; i < 5; i++ {
		e.post(entryBody("rw-"+strconv.Itoa(i), posting("110:USD", "debit", "1"), posting("201:USD:alice", "credit", "1")))
	}
	e.must(http.StatusCreated, req{Method: "POST", Path: "/v1/audit/seals", Key: bootstrapKey})
	size5, root5 := e.checkpoint("/v1/audit/checkpoint", auditor, v)

	var p inclusionProof
	e.must(http.StatusOK, req{Method: "GET", Path: "/v1/audit/proofs/inclusion?entry=" + ids[1] + "&size=3", Key: auditor}).Decode(t, &p)
	leaf, err := base64.StdEncoding.DecodeString(p.Leaf)
	if err != nil {
		t.Fatal(err)
	}
	if err := tlog.CheckRecord(decodeHashes(t, p.Hashes), 3, root3, p.Index, tlog.RecordHash(leaf)); err != nil {
		t.Fatalf("the rewritten entry's proof against the rewritten checkpoint: %v", err)
	}
	if err := tlog.CheckRecord(decodeHashes(t, p.Hashes), keptSize, keptRoot, p.Index, tlog.RecordHash(leaf)); err == nil {
		t.Fatal("tlog.CheckRecord accepted the rewritten entry against the kept checkpoint")
	}

	var c struct {
		From, To int64
		Hashes   []string
	}
	e.must(http.StatusOK, req{Method: "GET", Path: "/v1/audit/proofs/consistency?from=3&to=" + strconv.FormatInt(size5, 10), Key: auditor}).Decode(t, &c)
	if err := tlog.CheckTree(decodeHashes(t, c.Hashes), size5, root5, 3, root3); err != nil {
		t.Fatalf("consistency of the rewritten trees: %v", err)
	}
	if err := tlog.CheckTree(decodeHashes(t, c.Hashes), size5, root5, keptSize, keptRoot); err == nil {
		t.Fatal("tlog.CheckTree accepted the rewritten history as an extension of the kept checkpoint")
	}
}
