package schema_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/folioledger/folio/schema"
)

const (
	pipeInsert = `INSERT INTO runner_log (attempt) SELECT unnest($1::bigint[])`
	pipeBump   = `UPDATE runner_counter SET n = n + $1 WHERE id = 1`
	pipeDup    = `INSERT INTO runner_on_call (id, on_call) VALUES ($1, true)`
)

// A pipe's statements all take effect in the transaction, in order, and
// the transaction reads them after Close.
func TestPipeWrites(t *testing.T) {
	env := newRunnerEnv(t)
	ctx := context.Background()
	var logged, n int64
	err := env.app.Tx(ctx, func(tx pgx.Tx) error {
		p := schema.NewPipe(tx, pipeInsert, pipeBump)
		if p.Started() {
			t.Error("a pipe started before its first statement")
		}
		for i := int64(1); i <= 50; i++ {
			if _, err := p.Exec(ctx, pipeInsert, []int64{i, i * 10}); err != nil {
				return err
			}
			if _, err := p.Exec(ctx, pipeBump, i); err != nil {
				return err
			}
		}
		if p.Statements() != 100 {
			t.Errorf("Statements() = %d, want 100", p.Statements())
		}
		if err := p.Close(); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `SELECT (SELECT count(*) FROM runner_log), (SELECT n FROM runner_counter WHERE id = 1)`).Scan(&logged, &n)
	})
	if err != nil {
		t.Fatal(err)
	}
	if logged != 100 || n != 50*51/2 {
		t.Errorf("after the pipe: %d log rows and counter %d, want 100 and %d", logged, n, 50*51/2)
	}
}

// A failing statement fails Close with its SQLSTATE (so the runner's retry
// rules apply), the transaction writes nothing, and the pool's connection
// serves the next transaction.
func TestPipeFailure(t *testing.T) {
	env := newRunnerEnv(t)
	ctx := context.Background()
	err := env.app.Tx(ctx, func(tx pgx.Tx) error {
		p := schema.NewPipe(tx, pipeInsert, pipeDup)
		if _, err := p.Exec(ctx, pipeInsert, []int64{7}); err != nil {
			return err
		}
		if _, err := p.Exec(ctx, pipeDup, int64(1)); err != nil { // id 1 exists
			return err
		}
		if _, err := p.Exec(ctx, pipeInsert, []int64{8}); err != nil {
			return err
		}
		return p.Close()
	})
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "23505" {
		t.Fatalf("transaction error = %v, want a unique violation (23505)", err)
	}
	for i := 0; i < 3; i++ { // every pooled connection still works
		var rows int64
		if err := env.app.Tx(ctx, func(tx pgx.Tx) error {
			return tx.QueryRow(ctx, `SELECT count(*) FROM runner_log`).Scan(&rows)
		}); err != nil {
			t.Fatalf("transaction after the failed pipe: %v", err)
		}
		if rows != 0 {
			t.Fatalf("%d log rows after the failed transaction, want 0", rows)
		}
	}
}

// A statement not declared to NewPipe is refused (it could not be prepared
// once the pipeline is open), and Close reports it.
func TestPipeUndeclared(t *testing.T) {
	env := newRunnerEnv(t)
	ctx := context.Background()
	err := env.app.Tx(ctx, func(tx pgx.Tx) error {
		p := schema.NewPipe(tx, pipeInsert)
		if _, err := p.Exec(ctx, pipeInsert, []int64{1}); err != nil {
			return err
		}
		if _, err := p.Exec(ctx, pipeBump, int64(1)); err == nil || !strings.Contains(err.Error(), "not declared") {
			t.Errorf("Exec of an undeclared statement = %v, want a refusal", err)
		}
		return p.Close()
	})
	if err == nil || !strings.Contains(err.Error(), "not declared") {
		t.Fatalf("transaction error = %v, want the refusal", err)
	}
	var rows int64
	if err := env.db.Admin.QueryRow(ctx, `SELECT count(*) FROM runner_log`).Scan(&rows); err != nil || rows != 0 {
		t.Fatalf("%d log rows (%v), want 0: the transaction must not commit", rows, err)
	}
}

// A statement sent with schema.PlanEachTime goes unnamed, planned for its
// arguments each time: its prepared statement is never executed, while the
// others' are (pg_prepared_statements counts the plans of each). It still
// takes effect in order with the rest.
func TestPipePlanEachTime(t *testing.T) {
	env := newRunnerEnv(t)
	ctx := context.Background()
	plans := func(tx pgx.Tx, sql string) int64 {
		t.Helper()
		var n int64
		if err := tx.QueryRow(ctx, `SELECT generic_plans + custom_plans FROM pg_prepared_statements WHERE statement = $1`, sql).Scan(&n); err != nil {
			t.Fatalf("plans of %.40s: %v", sql, err)
		}
		return n
	}
	var n, bumpPlans, insertPlans int64
	err := env.app.Tx(ctx, func(tx pgx.Tx) error {
		p := schema.NewPipe(tx, pipeInsert, pipeBump)
		for i := int64(1); i <= 8; i++ {
			if _, err := p.Exec(ctx, pipeInsert, []int64{i}); err != nil {
				return err
			}
			if _, err := p.Exec(ctx, pipeBump, schema.PlanEachTime, i); err != nil {
				return err
			}
		}
		if err := p.Close(); err != nil {
			return err
		}
		bumpPlans, insertPlans = plans(tx, pipeBump), plans(tx, pipeInsert)
		if _, err := schema.NewPipe(tx, pipeBump).Exec(ctx, pipeBump, pgx.QueryExecModeSimpleProtocol, 1); err == nil {
			t.Error("a pipe accepted an exec mode other than PlanEachTime")
		}
		return tx.QueryRow(ctx, `SELECT n FROM runner_counter WHERE id = 1`).Scan(&n)
	})
	if err != nil {
		t.Fatal(err)
	}
	if bumpPlans != 0 || insertPlans != 8 {
		t.Errorf("plans of the prepared statements: %d of the one sent unnamed (want 0), %d of the other (want 8)", bumpPlans, insertPlans)
	}
	if n != 8*9/2 {
		t.Errorf("counter = %d, want %d", n, 8*9/2)
	}
}

// The pipe's parameters arrive as sent, whatever their type and size:
// arrays of text (with NULL elements), numeric as text, bigint and
// timestamptz, a NULL scalar, in statements large enough to grow the
// encoding buffer, over two pipes (the second reuses the first's buffer),
// planned each time or prepared.
func TestPipeParameters(t *testing.T) {
	env := newRunnerEnv(t)
	ctx := context.Background()
	const ddl = `CREATE TABLE pipe_params (id BIGINT PRIMARY KEY, s TEXT, n NUMERIC NOT NULL, at TIMESTAMPTZ NOT NULL, tag TEXT)`
	if _, err := env.db.Admin.Exec(ctx, ddl); err != nil {
		t.Fatal(err)
	}
	if _, err := env.db.Admin.Exec(ctx, `GRANT SELECT, INSERT ON pipe_params TO `+schema.AppRole); err != nil {
		t.Fatal(err)
	}
	const insert = `INSERT INTO pipe_params (id, s, n, at, tag)
		SELECT i, s, n::numeric, at, $5 FROM unnest($1::bigint[], $2::text[], $3::text[], $4::timestamptz[]) AS u(i, s, n, at)`
	base := time.Date(2026, 12, 6, 12, 0, 0, 123456000, time.UTC)
	const rows = 5000
	send := func(pipe, from int, tag *string, mode bool) {
		t.Helper()
		err := env.app.Tx(ctx, func(tx pgx.Tx) error {
			p := schema.NewPipe(tx, insert)
			for part := range 2 {
				var ids []int64
				var ss []*string
				var ns []string
				var ats []time.Time
				for i := from + part*rows; i < from+(part+1)*rows; i++ {
					ids = append(ids, int64(i))
					s := fmt.Sprintf("pipe %d row %d: %s", pipe, i, strings.Repeat("x", i%50))
					if i%7 == 0 {
						ss = append(ss, nil)
					} else {
						ss = append(ss, &s)
					}
					ns = append(ns, fmt.Sprintf("%d.%06d", i, i%1000000))
					ats = append(ats, base.Add(time.Duration(i)*time.Second))
				}
				args := []any{ids, ss, ns, ats, tag}
				if mode {
					args = append([]any{schema.PlanEachTime}, args...)
				}
				if _, err := p.Exec(ctx, insert, args...); err != nil {
					return err
				}
			}
			return p.Close()
		})
		if err != nil {
			t.Fatalf("pipe %d: %v", pipe, err)
		}
	}
	tag := "second"
	send(1, 0, nil, true)
	send(2, 2*rows, &tag, false)

	rowsRead, err := env.db.Admin.Query(ctx, `SELECT id, s, n::text, at, tag FROM pipe_params ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rowsRead.Close()
	want := 0
	for rowsRead.Next() {
		var id int64
		var s, gotTag *string
		var n string
		var at time.Time
		if err := rowsRead.Scan(&id, &s, &n, &at, &gotTag); err != nil {
			t.Fatal(err)
		}
		if id != int64(want) {
			t.Fatalf("row %d: id %d", want, id)
		}
		pipe := 1 + want/(2*rows)
		wantS := fmt.Sprintf("pipe %d row %d: %s", pipe, want, strings.Repeat("x", want%50))
		switch {
		case want%7 == 0 && s != nil, want%7 != 0 && (s == nil || *s != wantS):
			t.Fatalf("row %d: s = %v, want %q (NULL every 7th)", want, s, wantS)
		case n != fmt.Sprintf("%d.%06d", want, want%1000000):
			t.Fatalf("row %d: n = %s", want, n)
		case !at.Equal(base.Add(time.Duration(want) * time.Second)):
			t.Fatalf("row %d: at = %s", want, at)
		case (pipe == 1) != (gotTag == nil), pipe == 2 && *gotTag != tag:
			t.Fatalf("row %d: tag = %v", want, gotTag)
		}
		want++
	}
	if err := rowsRead.Err(); err != nil {
		t.Fatal(err)
	}
	if want != 4*rows {
		t.Errorf("%d rows, want %d", want, 4*rows)
	}
}

// TestFlatArraysRoundTrip: arrays a connection of Open sends (text[],
// int8[] and timestamptz[] from Go slices take the direct encoding) are the
// server's values, as one statement's arguments and in a pipe.
func TestFlatArraysRoundTrip(t *testing.T) {
	env := newRunnerEnv(t)
	ctx := context.Background()
	strs := []string{"", "a", `ü b,c"{}\`, strings.Repeat("x", 3000)}
	ints := []int64{0, -1, math.MaxInt64, math.MinInt64}
	times := []time.Time{time.Date(1999, 12, 31, 23, 59, 59, 999999000, time.UTC),
		time.Date(2026, 12, 6, 12, 0, 0, 123456000, time.FixedZone("UTC+1", 3600)), time.Unix(0, 0)}
	var gotS []string
	var gotI []int64
	var gotT []time.Time
	var n int64
	var joined, sum, first string
	err := env.app.Tx(ctx, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT $1::text[], $2::bigint[], $3::timestamptz[], array_length($1::text[], 1),
			array_to_string($1::text[], '|'), (SELECT sum(x::numeric)::text FROM unnest($2::bigint[]) AS x),
			to_char(($3::timestamptz[])[2] AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')`, strs, ints, times).
			Scan(&gotS, &gotI, &gotT, &n, &joined, &sum, &first)
	})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(gotS) != fmt.Sprint(strs) || fmt.Sprint(gotI) != fmt.Sprint(ints) || n != 4 || joined != strings.Join(strs, "|") || sum != "-2" {
		t.Fatalf("strings or ints not as sent (%d strings, joined %d bytes), ints %v, n %d, sum %s", len(gotS), len(joined), gotI, n, sum)
	}
	for i := range times {
		if !gotT[i].Equal(times[i]) {
			t.Errorf("time %d: %v, sent %v", i, gotT[i], times[i])
		}
	}
	if first != "2026-12-06 11:00:00.123456" {
		t.Errorf("the server reads the second time as %s", first)
	}
	var empty, null bool
	if err := env.app.Tx(ctx, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT cardinality($1::text[]) = 0, $2::bigint[] IS NULL`, []string{}, []int64(nil)).Scan(&empty, &null)
	}); err != nil || !empty || !null {
		t.Fatalf("empty %v, null %v, %v", empty, null, err)
	}
	// Nullable elements: the server sees the NULLs where the nils are.
	a, at := "a", times[1]
	var nulls string
	if err := env.app.Tx(ctx, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT concat_ws(',', (SELECT string_agg(coalesce(x, '∅'), '/' ORDER BY i) FROM unnest($1::text[]) WITH ORDINALITY AS u(x, i)),
			(SELECT string_agg(coalesce(x::text, '∅'), '/' ORDER BY i) FROM unnest($2::bigint[]) WITH ORDINALITY AS u(x, i)),
			(SELECT string_agg(coalesce(to_char(x AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US'), '∅'), '/' ORDER BY i) FROM unnest($3::timestamptz[]) WITH ORDINALITY AS u(x, i)))`,
			[]*string{nil, &a, nil}, []*int64{&ints[3], nil}, []*time.Time{nil, &at}).Scan(&nulls)
	}); err != nil || nulls != "∅/a/∅,-9223372036854775808/∅,∅/2026-12-06 11:00:00.123456" {
		t.Fatalf("nullable arrays read back as %q, %v", nulls, err)
	}
}
