package audit_test

import (
	"context"
	"testing"
	"time"

	"github.com/folioledger/folio/audit"
	"github.com/folioledger/folio/schema"
	"github.com/folioledger/folio/schema/schematest"
)

// TestMigration027NumbersExistingRecords: migration 027, run over an audit
// log as it was before it (no positions, no head), numbers the records in
// (at, id) order, and the next Write continues after them.
func TestMigration027NumbersExistingRecords(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := schematest.New(t, schema.Migrate)
	app, err := schema.Open(ctx, db.URL, schema.OpenOptions{Role: schema.AppRole})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(app.Close)
	// Records written out of time order.
	for i, at := range []time.Duration{3, 1, 2, 1} {
		write(t, app, audit.Record{At: t0.Add(at * time.Second), Actor: "t", Action: "currency.put", Object: "currency:" + string(rune('A'+i))})
	}
	for _, q := range []string{`DROP TABLE audit_head`, `DROP INDEX audit_log_pos`, `ALTER TABLE audit_log DROP COLUMN pos`} {
		if _, err := db.Admin.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	steps, err := schema.Steps()
	if err != nil {
		t.Fatal(err)
	}
	ran := 0
	for _, st := range steps {
		if st.Version == 27 {
			if _, err := db.Admin.Exec(ctx, st.SQL); err != nil {
				t.Fatalf("027 step %d: %v", st.Index, err)
			}
			ran++
		}
	}
	if ran == 0 {
		t.Fatal("no step of migration 027")
	}
	if _, err := db.Admin.Exec(ctx, `GRANT SELECT ON audit_head TO folio_app; GRANT UPDATE (pos) ON audit_head TO folio_app`); err != nil {
		t.Fatal(err)
	}
	write(t, app, audit.Record{At: t0, Actor: "t", Action: "currency.put", Object: "currency:E"})
	recs, err := audit.After(ctx, app.Pool, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var got string
	for i, r := range recs {
		if r.Pos != int64(i+1) {
			t.Errorf("record %d has position %d", i, r.Pos)
		}
		got += r.Object[len("currency:"):]
	}
	// B and D at +1 s (in id order), C at +2 s, A at +3 s, then E.
	if len(got) != 5 || got[2:] != "CAE" || (got[:2] != "BD" && got[:2] != "DB") {
		t.Errorf("positions order the records %s, want B/D, C, A, then E", got)
	}
}
