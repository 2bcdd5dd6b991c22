package ledger_test

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/folioledger/folio"
	"github.com/folioledger/folio/ledger"
)

// tradePair writes, in one fresh batch, the two entries the trade engine
// writes for trade id: a fee entry and its child with the same metadata,
// under the engine's keys and descriptions (migration 044 stores neither
// description nor the child's metadata).
func tradePair(t *testing.T, e *env, id, childMetadata string) (fee, comm *ledger.Entry) {
	t.Helper()
	md := `{"market":"BTCUSD","trade_id":"` + id + `"}`
	if childMetadata == "" {
		childMetadata = md
	}
	feeID, commID := e.app.NewID(), e.app.NewID()
	f := entry("trade:"+id, "201:USD:alice", "debit", "5", "605:USD", "credit", "5")
	f.ID, f.Kind, f.Description, f.Metadata = feeID, "trade_fee", "Trade fee "+id, json.RawMessage(md)
	c := entry("commission:"+id, "605:USD", "debit", "5", "201:USD:bob", "credit", "5")
	c.ID, c.Kind, c.Description, c.ParentID, c.Metadata = commID, "commission", "Commission split of trade "+id, feeID, json.RawMessage(childMetadata)
	res := e.apply(t, ledger.Options{Fresh: true}, newOp(f), newOp(c))
	for _, r := range res {
		if r.Err != nil || r.Entry == nil {
			t.Fatalf("trade %s: %+v", id, res)
		}
	}
	return res[0].Entry, res[1].Entry
}

// TestDerivedEntryFields: a trade's entries store no content hash, no
// description and the child no metadata when they follow from the key and the parent; every
// read gives them back as written, and a child whose metadata differs, or
// an entry whose description is not its key's, is stored whole.
func TestDerivedEntryFields(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.fund(t, "fund", "201:USD:alice", "100")
	fee, comm := tradePair(t, e, "t-1", "")
	fee2, comm2 := tradePair(t, e, "t-2", `{"market":"ETHUSD"}`)
	other := entry("trade:t-3", "201:USD:alice", "debit", "1", "605:USD", "credit", "1")
	other.Description = "a description of its own"
	third := e.apply(t, ledger.Options{Fresh: true}, newOp(other))[0].Entry

	stored := func(id string) (desc, md *string) {
		t.Helper()
		var content []byte
		if err := e.db.Admin.QueryRow(ctx, `SELECT description, metadata::text, content_hash FROM entries WHERE id = $1::uuid`, id).Scan(&desc, &md, &content); err != nil {
			t.Fatal(err)
		}
		// The trade engine's entries have no content hash (migration 045).
		if content != nil {
			t.Errorf("entry %s stored content hash %x, want NULL", id, content)
		}
		return desc, md
	}
	var fundContent []byte
	if err := e.db.Admin.QueryRow(ctx, `SELECT content_hash FROM entries WHERE idempotency_key = 'fund'`).Scan(&fundContent); err != nil || len(fundContent) != 32 {
		t.Errorf("a client entry's content hash: %x, %v; want 32 bytes", fundContent, err)
	}
	for _, c := range []struct {
		id               string
		descNull, mdNull bool
	}{
		{fee.ID, true, false}, {comm.ID, true, true}, {fee2.ID, true, false}, {comm2.ID, true, false}, {third.ID, false, false},
	} {
		desc, md := stored(c.id)
		if (desc == nil) != c.descNull || (md == nil) != c.mdNull {
			t.Errorf("entry %s stored description %v, metadata %v; want NULL %t, %t", c.id, desc, md, c.descNull, c.mdNull)
		}
	}

	want := map[string][2]string{
		fee.ID:   {"Trade fee t-1", `{"market":"BTCUSD","trade_id":"t-1"}`},
		comm.ID:  {"Commission split of trade t-1", `{"market":"BTCUSD","trade_id":"t-1"}`},
		fee2.ID:  {"Trade fee t-2", `{"market":"BTCUSD","trade_id":"t-2"}`},
		comm2.ID: {"Commission split of trade t-2", `{"market":"ETHUSD"}`},
		third.ID: {"a description of its own", `{}`},
	}
	check := func(how string, got *ledger.Entry) {
		t.Helper()
		w, ok := want[got.ID]
		if !ok {
			return
		}
		if got.Description != w[0] || string(got.Metadata) != w[1] {
			t.Errorf("%s %s: description %q, metadata %s; want %q, %s", how, got.ID, got.Description, got.Metadata, w[0], w[1])
		}
	}
	// One by one: the child's parent is not among the entries read.
	for id := range want {
		got, _, err := e.ledger.GetEntry(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		check("GetEntry", got)
	}
	list, err := e.ledger.ListEntries(ctx, ledger.EntryFilter{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range list {
		check("ListEntries", x)
	}
	// A statement line's description.
	st, err := e.ledger.Statement(ctx, "201:USD:bob", e.clock.t.Add(-time.Hour), e.clock.t.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Lines) != 2 || st.Lines[0].Description != "Commission split of trade t-1" {
		t.Errorf("statement of 201:USD:bob: %+v", st.Lines)
	}
	e.verify(t)

	// The hash covers the fields as read: a changed parent metadata breaks
	// the parent and its metadata-less child; a changed key, the entry.
	tamperFinds(t, e, `UPDATE entries SET metadata = '{"market":"XRPUSD","trade_id":"t-1"}' WHERE id = '`+fee.ID+`'`, fee.Seq, comm.Seq)
	tamperFinds(t, e, `UPDATE entries SET idempotency_key = 'trade:t-9' WHERE id = '`+fee2.ID+`'`, fee2.Seq)
}

// tamperFinds runs sql as the superuser and expects Verify to report a
// hash problem at each of seqs.
func tamperFinds(t *testing.T, e *env, sql string, seqs ...int64) {
	t.Helper()
	ctx := context.Background()
	if _, err := e.db.Admin.Exec(ctx, sql); err != nil {
		t.Fatal(err)
	}
	rep, err := e.ledger.Verify(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, seq := range seqs {
		if !slices.ContainsFunc(rep.Problems, func(p ledger.Problem) bool { return p.Kind == ledger.ProblemHash && p.Seq == seq }) {
			t.Errorf("after %s: problems %+v, want a hash problem at seq %d", sql, rep.Problems, seq)
		}
	}
}

// TestDerivedPrevHash: entries store no prev_hash (migration 046); every
// read gives the hash of the entry before them in their shard, whether it
// is among the entries read or not, and Verify still finds a rewritten
// hash (at the next entry too) and a missing entry.
func TestDerivedPrevHash(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	var posted []*ledger.Entry
	for _, k := range []string{"p-1", "p-2", "p-3", "p-4"} {
		posted = append(posted, e.fund(t, k, "201:USD:alice", "10"))
	}
	var stored int
	if err := e.db.Admin.QueryRow(ctx, `SELECT count(*) FROM entries WHERE prev_hash IS NOT NULL`).Scan(&stored); err != nil || stored != 0 {
		t.Fatalf("%d entries store a prev_hash (%v), want none", stored, err)
	}
	prev := ledger.GenesisHash
	for _, p := range posted {
		got, _, err := e.ledger.GetEntry(ctx, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got.PrevHash, prev) || !slices.Equal(got.PrevHash, p.PrevHash) {
			t.Errorf("GetEntry(seq %d).PrevHash = %x, want %x", got.Seq, got.PrevHash, prev)
		}
		prev = got.Hash
	}
	list, err := e.ledger.ListEntries(ctx, ledger.EntryFilter{AfterSeq: 2, AfterShard: ledger.MaxShards, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || !slices.Equal(list[0].PrevHash, posted[1].Hash) || !slices.Equal(list[1].PrevHash, posted[2].Hash) {
		t.Errorf("ListEntries after seq 2: %+v", list)
	}
	e.verify(t)

	tamperFinds(t, e, `UPDATE entries SET hash = sha256(hash) WHERE seq = 2`, 2, 3)
	tamperFinds(t, e, `DELETE FROM entries WHERE seq = 3`, 4)
}

// TestEngineChildFollowsParent: a child under the trade engine's keys is
// left out of the parent index (migration 047) and found by position, so
// ApplyTx writes it only right after its parent in the same shard; its
// parent's links list it, beside a manual child found by the index.
func TestEngineChildFollowsParent(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.fund(t, "fund", "201:USD:alice", "100")
	fee, comm := tradePair(t, e, "t-1", "")
	manual := entry("note-1", "201:USD:alice", "debit", "1", "605:USD", "credit", "1")
	manual.ParentID = fee.ID
	note := e.post(t, manual)
	_, links, err := e.ledger.GetEntry(ctx, fee.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(links.Children, []string{comm.ID, note.ID}) {
		t.Errorf("children of the fee entry: %v, want [%s %s]", links.Children, comm.ID, note.ID)
	}
	var indexed bool
	if err := e.db.Admin.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_indexes WHERE indexname = 'entries_parent')`).Scan(&indexed); err != nil || indexed {
		t.Errorf("the index of every child is still there (%v)", err)
	}

	// A child under an engine key after another entry, or whose parent is
	// stored, is refused; nothing is written.
	before := loadBooks(t, e)
	feeID := e.app.NewID()
	f := entry("trade:t-2", "201:USD:alice", "debit", "5", "605:USD", "credit", "5")
	f.ID = feeID
	other := entry("trade:t-3", "201:USD:alice", "debit", "1", "605:USD", "credit", "1")
	late := entry("commission:t-2", "605:USD", "debit", "5", "201:USD:bob", "credit", "5")
	late.ParentID = feeID
	orphan := entry("commission:t-1b", "605:USD", "debit", "5", "201:USD:bob", "credit", "5")
	orphan.ParentID = fee.ID
	for _, ops := range [][]ledger.Op{{newOp(f), newOp(other), newOp(late)}, {newOp(orphan)}} {
		res, err := e.ledger.Apply(ctx, ops, ledger.Options{Fresh: true, Atomic: true})
		if err == nil || folio.ErrorCode(res[len(res)-1].Err) != folio.EINVALID {
			t.Errorf("engine child not after its parent: %v, %+v; want invalid_request", err, res)
		}
	}
	e.unchanged(t, before, "refused engine children")
	e.verify(t)
}
