package audit_test

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/folioledger/folio/audit"
	"github.com/folioledger/folio/schema"
	"github.com/folioledger/folio/schema/schematest"
)

func TestMain(m *testing.M) { os.Exit(schematest.Main(m)) }

// newApp returns a fresh migrated database, connected as the server's
// restricted role.
func newApp(t *testing.T) *schema.DB {
	t.Helper()
	db := schematest.New(t, schema.Migrate)
	app, err := schema.Open(context.Background(), db.URL, schema.OpenOptions{Role: schema.AppRole})
	if err != nil {
		t.Fatalf("open app pool: %v", err)
	}
	t.Cleanup(app.Close)
	return app
}

var t0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

func write(t *testing.T, app *schema.DB, r audit.Record) {
	t.Helper()
	ctx := context.Background()
	if err := app.Tx(ctx, func(tx pgx.Tx) error { return audit.Write(ctx, tx, r) }); err != nil {
		t.Fatalf("Write(%+v): %v", r, err)
	}
}

func list(t *testing.T, app *schema.DB, f audit.Filter) []audit.Record {
	t.Helper()
	recs, err := audit.List(context.Background(), app.Pool, f)
	if err != nil {
		t.Fatalf("List(%+v): %v", f, err)
	}
	return recs
}

func TestListPagination(t *testing.T) {
	t.Parallel()
	app := newApp(t)
	// Seven changes at four instants: records sharing a time are ordered by id.
	ids := []string{"A", "B", "C", "D", "E", "F", "G"}
	for i, id := range ids {
		now := t0.Add(time.Duration(i/2) * time.Second)
		write(t, app, audit.Record{At: now, Actor: "carol", Action: "currency.put", Object: "currency:" + id,
			After: []byte(`{"id":"` + id + `","precision":2,"enabled":true}`)})
	}
	write(t, app, audit.Record{At: t0, Actor: "carol", Action: "chart.put", Object: "code:700", After: []byte(`{"code":"700"}`)})

	all := list(t, app, audit.Filter{Action: "currency.put"})
	if len(all) != len(ids) {
		t.Fatalf("List(currency.put) returned %d records, want %d", len(all), len(ids))
	}
	for i := 1; i < len(all); i++ {
		a, b := all[i-1], all[i]
		if b.At.Before(a.At) || (b.At.Equal(a.At) && b.ID <= a.ID) {
			t.Errorf("records %d and %d out of (at, id) order: (%v, %s) then (%v, %s)", i-1, i, a.At, a.ID, b.At, b.ID)
		}
	}
	if a := list(t, app, audit.Filter{Object: "currency:A"}); len(a) != 1 || a[0].Actor != "carol" || len(a[0].Before) != 0 ||
		string(a[0].After) != `{"id": "A", "enabled": true, "precision": 2}` {
		t.Errorf("List(Object currency:A) = %+v, want carol's creation of A, no before", a)
	}

	for _, limit := range []int{1, 2, 3, 7, 10} {
		var paged []audit.Record
		f := audit.Filter{Action: "currency.put", Limit: limit}
		for pages := 0; ; pages++ {
			if pages > len(ids)+1 {
				t.Fatalf("limit %d: pagination does not end", limit)
			}
			page := list(t, app, f)
			if len(page) > limit {
				t.Fatalf("limit %d: page of %d records", limit, len(page))
			}
			paged = append(paged, page...)
			if len(page) < limit {
				break
			}
			last := page[len(page)-1]
			f.AfterAt, f.AfterID = last.At, last.ID
		}
		if len(paged) != len(all) {
			t.Errorf("limit %d: pages hold %d records, want %d", limit, len(paged), len(all))
			continue
		}
		for i := range all {
			if paged[i].ID != all[i].ID {
				t.Errorf("limit %d: record %d is %s, want %s", limit, i, paged[i].ID, all[i].ID)
			}
		}
	}

	byObject := list(t, app, audit.Filter{Object: "currency:D"})
	if len(byObject) != 1 || byObject[0].Object != "currency:D" {
		t.Errorf("List(Object currency:D) = %+v, want the one record of D", byObject)
	}
	if chart := list(t, app, audit.Filter{Action: "chart.put"}); len(chart) != 1 || chart[0].Object != "code:700" {
		t.Errorf("List(Action chart.put) = %+v, want the one record of code 700", chart)
	}
	if n := len(list(t, app, audit.Filter{})); n != len(ids)+1 {
		t.Errorf("List() returned %d records, want %d", n, len(ids)+1)
	}
}

// TestAppendOnlyForApp checks the grants: the server's role may append to
// the audit log but never rewrite it.
func TestAppendOnlyForApp(t *testing.T) {
	t.Parallel()
	app := newApp(t)
	ctx := context.Background()
	write(t, app, audit.Record{At: t0, Actor: "dave", Action: "currency.put", Object: "currency:USDT", After: []byte(`{"id":"USDT"}`)})
	for _, sql := range []string{
		`UPDATE audit_log SET actor = 'mallory'`,
		`DELETE FROM audit_log`,
		`TRUNCATE audit_log`,
	} {
		err := app.Tx(ctx, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, sql)
			return err
		})
		var pg *pgconn.PgError
		if !errors.As(err, &pg) || pg.Code != "42501" {
			t.Errorf("%s as %s: error = %v, want SQLSTATE 42501 (insufficient_privilege)", sql, schema.AppRole, err)
		}
	}
	recs := list(t, app, audit.Filter{})
	if len(recs) != 1 || recs[0].Actor != "dave" {
		t.Errorf("audit log after the refused statements = %+v, want the one record by dave", recs)
	}
}
