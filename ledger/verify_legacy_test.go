package ledger

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/folioledger/folio/accounts"
	"github.com/folioledger/folio/schema"
	"github.com/folioledger/folio/schema/schematest"
	"github.com/jackc/pgx/v5"
)

// TestVerifyAcceptsV1Prefix checks the upgrade path of the hash format: a
// journal hashed in v1 (before the content hash was covered) verifies, new
// entries chain onto it in v2, and a v1 hash after a v2 entry is a
// hash_mismatch. It also records the limitation: in the v1 prefix a
// changed content hash goes unnoticed.
func TestVerifyAcceptsV1Prefix(t *testing.T) {
	ctx := context.Background()
	db := schematest.New(t, schema.Migrate)
	app, err := schema.Open(ctx, db.URL, schema.OpenOptions{Role: schema.AppRole})
	if err != nil {
		t.Fatalf("open app pool: %v", err)
	}
	t.Cleanup(app.Close)
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	l := New(app)
	l.Now = func() time.Time { return now }
	err = app.Tx(ctx, func(tx pgx.Tx) error {
		_, err := accounts.PutCurrency(ctx, tx, accounts.Currency{ID: "USD", Precision: 2, Enabled: true}, "test", now, InUse)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	post := func(key string) {
		t.Helper()
		res, err := l.Post(ctx, []NewEntry{{IdempotencyKey: key, Postings: []NewPosting{
			{Account: "110:USD", Side: accounts.Debit, Amount: "1"}, {Account: "201:USD:alice", Side: accounts.Credit, Amount: "1"}}}}, Options{})
		if err != nil || res[0].Err != nil {
			t.Fatalf("Post(%s) = %v, %v", key, res, err)
		}
	}
	// rehash rewrites the chain from seq `from` on in the given format, as
	// the superuser.
	rehash := func(from int64, version string) {
		t.Helper()
		es, err := queryEntries(ctx, db.Admin, `SELECT `+entryColumns+` FROM entries WHERE seq >= $1 ORDER BY seq`, from)
		if err != nil {
			t.Fatal(err)
		}
		prev := es[0].PrevHash
		for _, e := range es {
			h := computeHash(prev, e, version)
			if _, err := db.Admin.Exec(ctx, `UPDATE entries SET prev_hash = $2, hash = $3 WHERE seq = $1`, e.Seq, prev, h); err != nil {
				t.Fatal(err)
			}
			prev = h
		}
		if _, err := db.Admin.Exec(ctx, `UPDATE journal_shards SET hash = $1`, prev); err != nil {
			t.Fatal(err)
		}
	}
	verify := func(wantFirst string) {
		t.Helper()
		rep, err := l.Verify(ctx)
		if err != nil {
			t.Fatalf("Verify: %v", err)
		}
		got := ""
		if len(rep.Problems) > 0 {
			got = fmt.Sprintf("%s at %d", rep.Problems[0].Kind, rep.Problems[0].Seq)
		}
		if got != wantFirst || rep.OK != (wantFirst == "") {
			t.Errorf("Verify: ok %t, first problem %q, want %q", rep.OK, got, wantFirst)
		}
	}

	for i := range 3 {
		post(fmt.Sprintf("k%d", i))
	}
	rehash(1, hashV1)
	verify("")
	if _, err := db.Admin.Exec(ctx, `UPDATE entries SET content_hash = sha256('another request'::bytea) WHERE seq = 2`); err != nil {
		t.Fatal(err)
	}
	verify("") // the limitation of the v1 prefix

	post("k3") // chained in v2 onto the v1 prefix
	verify("")
	post("k4")
	rehash(5, hashV1)
	verify(ProblemHash + " at 5")
}
