package schema_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/folioledger/folio/schema"
)

// Zip's text: one unnest per array, named, in a subquery; a mismatch is a
// programming error and panics.
func TestZipText(t *testing.T) {
	got := schema.Zip("$1::text[],\n\t$2::bigint[]", " a,b ")
	if want := "(SELECT unnest($1::text[]) AS a, unnest($2::bigint[]) AS b)"; got != want {
		t.Errorf("Zip = %q, want %q", got, want)
	}
	got = schema.ZipNumbered("$1::text[], $2::bigint[]", "a, b", "i")
	if want := "(SELECT unnest($1::text[]) AS a, unnest($2::bigint[]) AS b, generate_series(1, array_length($1::text[], 1)) AS i)"; got != want {
		t.Errorf("ZipNumbered = %q, want %q", got, want)
	}
	for _, c := range []struct{ arrays, names string }{{"$1::text[]", "a, b"}, {"$1::text[], $2::text[]", "a"}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Zip(%q, %q) did not panic", c.arrays, c.names)
				}
			}()
			schema.Zip(c.arrays, c.names)
		}()
	}
}

// Zip's rows are unnest(a, b)'s: the arrays side by side in order, the
// shorter padded with NULLs; and PostgreSQL reads them as a ProjectSet,
// not a function scan that copies them first.
func TestZipRows(t *testing.T) {
	env := newRunnerEnv(t)
	ctx := context.Background()
	sql := `SELECT u.a, u.b FROM ` + schema.Zip("$1::text[], $2::bigint[]", "a, b") + ` AS u`
	rows, err := env.app.Pool.Query(ctx, sql, []string{"x", "y", "z"}, []int64{1, 2})
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		A *string
		B *int64
	}
	got, err := pgx.CollectRows(rows, pgx.RowToStructByPos[row])
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, r := range got {
		a, n := "NULL", "NULL"
		if r.A != nil {
			a = *r.A
		}
		if r.B != nil {
			n = strings.Repeat("|", int(*r.B))
		}
		b.WriteString(a + ":" + n + " ")
	}
	if want := "x:| y:|| z:NULL "; b.String() != want {
		t.Errorf("rows %q, want %q", b.String(), want)
	}
	// ZipNumbered numbers the rows from 1, in the arrays' order.
	rows, err = env.app.Pool.Query(ctx, `SELECT u.i, u.a FROM `+schema.ZipNumbered("$1::text[]", "a", "i")+` AS u`, []string{"p", "q", "r"})
	if err != nil {
		t.Fatal(err)
	}
	numbered, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (string, error) {
		var i int64
		var a string
		err := r.Scan(&i, &a)
		return fmt.Sprintf("%d%s", i, a), err
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(numbered, " "), "1p 2q 3r"; got != want {
		t.Errorf("numbered rows %q, want %q", got, want)
	}
	crdb, err := schema.IsCockroach(ctx, env.app.Pool)
	if err != nil {
		t.Fatal(err)
	}
	if crdb {
		return // CockroachDB's plans name no ProjectSet
	}
	rows, err = env.app.Pool.Query(ctx, `EXPLAIN `+sql, []string{"x"}, []int64{1})
	if err != nil {
		t.Fatal(err)
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	plan := strings.Join(lines, "\n")
	if !strings.Contains(plan, "ProjectSet") || strings.Contains(plan, "Function Scan") {
		t.Errorf("plan without ProjectSet, or with a function scan:\n%s", plan)
	}
}
