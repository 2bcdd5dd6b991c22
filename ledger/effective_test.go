package ledger_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/folioledger/folio/ledger"
	"github.com/jackc/pgx/v5"
)

// TestReadsByEffectiveTime checks every read by effective time against a
// brute-force scan of the postings, over a journal of three shards whose
// entries are prompt (recorded within LateAfter of their effective time,
// both bounds included), late (recorded later) or dated further in the
// future: balances as of an effective time, statements, the trial balance
// by effective time (one line per account however many shards wrote to
// it) and the entries of an account effective before a time. Prompt
// postings are read by position, the others through the late index; a
// posting missed or counted twice shows here.
func TestReadsByEffectiveTime(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	if err := ledger.SetShards(ctx, e.app, 3); err != nil {
		t.Fatal(err)
	}
	e.ledger = ledger.New(e.app)
	e.ledger.Now = e.clock.Now
	rng := rand.New(rand.NewPCG(7, 14))
	offsets := []time.Duration{0, -time.Second, 30 * time.Second, -ledger.LateAfter + time.Microsecond, -ledger.LateAfter,
		-ledger.LateAfter - time.Microsecond, ledger.LateAfter - time.Microsecond, ledger.LateAfter, ledger.LateAfter + time.Microsecond,
		-90 * time.Second, 90 * time.Second, -30 * time.Minute, -50 * time.Hour, 20 * time.Hour}
	accts := []string{"201:USD:a", "201:USD:b", "201:USD:c"}
	start := e.clock.t
	var times []time.Time
	for i := range 160 {
		e.clock.Advance(time.Duration(rng.IntN(90)) * time.Second)
		a := accts[rng.IntN(len(accts))]
		amt := fmt.Sprintf("%d.%02d", rng.IntN(50)+1, rng.IntN(100))
		ne := entry(fmt.Sprintf("eff%d", i), "110:USD", "debit", amt, a, "credit", amt)
		if rng.IntN(3) == 0 {
			ne = entry(fmt.Sprintf("eff%d", i), a, "debit", amt, "605:USD", "credit", amt)
		}
		ne.EffectiveAt = e.clock.t.Add(offsets[rng.IntN(len(offsets))])
		ne.Pending = rng.IntN(10) == 0
		posted := e.post(t, ne)
		times = append(times, posted.EffectiveAt, posted.EffectiveAt.Add(-time.Microsecond), posted.RecordedAt)
	}
	var lateN, promptN, shards int
	if err := e.db.Admin.QueryRow(ctx, `SELECT count(*) FILTER (WHERE abs(extract(epoch FROM recorded_at - effective_at)) > 60),
		count(*) FILTER (WHERE abs(extract(epoch FROM recorded_at - effective_at)) <= 60), count(DISTINCT shard) FROM lines`).Scan(&lateN, &promptN, &shards); err != nil {
		t.Fatal(err)
	}
	if lateN < 50 || promptN < 50 || shards != 3 {
		t.Fatalf("%d late and %d prompt postings in %d shards; the test wants many of both in 3", lateN, promptN, shards)
	}
	times = append(times, start.Add(-time.Hour), e.clock.t.Add(48*time.Hour))
	for range 40 {
		times = append(times, start.Add(time.Duration(rng.Int64N(int64(e.clock.t.Sub(start)+24*time.Hour)))))
	}

	// brute sums the posted amounts per account and side over postings
	// matching cond ($1 its time).
	brute := func(cond string, at time.Time) map[string]string {
		rows, err := e.db.Admin.Query(ctx, `SELECT account || ' ' || side, sum(amount)::text FROM lines WHERE NOT pending AND `+cond+` GROUP BY 1`, at)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for rows.Next() {
			var k, v string
			if err := rows.Scan(&k, &v); err != nil {
				t.Fatal(err)
			}
			d, _ := ledger.ParseStored(v)
			out[k] = ledger.Format(&d)
		}
		return out
	}
	// texts is a brute-force query's one text column.
	texts := func(sql string, args ...any) []string {
		rows, err := e.db.Admin.Query(ctx, sql, args...)
		if err != nil {
			t.Fatal(err)
		}
		out, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	get := func(m map[string]string, k string) string {
		if v, ok := m[k]; ok {
			return v
		}
		return "0"
	}
	for _, at := range times {
		want := brute("effective_at <= $1", at)
		for _, a := range append(accts, "110:USD", "605:USD") {
			b := e.bal(t, a, ledger.AsOf{Effective: at})
			if d, c := ledger.Format(&b.Debits), ledger.Format(&b.Credits); d != get(want, a+" debit") || c != get(want, a+" credit") {
				t.Fatalf("%s as of effective %v: debits %s credits %s, want %s %s", a, at.Sub(start), d, c, get(want, a+" debit"), get(want, a+" credit"))
			}
		}
		tb, err := e.ledger.TrialBalanceEffective(ctx, at, "USD")
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for _, cur := range tb.Currencies {
			for _, l := range cur.Lines {
				a := l.Account.String()
				if seen[a] {
					t.Fatalf("trial balance as of effective %v lists %s twice", at.Sub(start), a)
				}
				seen[a] = true
				if d, c := ledger.Format(&l.Debits), ledger.Format(&l.Credits); d != get(want, a+" debit") || c != get(want, a+" credit") {
					t.Fatalf("trial balance as of effective %v: %s debits %s credits %s, want %s %s", at.Sub(start), a, d, c, get(want, a+" debit"), get(want, a+" credit"))
				}
			}
		}
		for _, a := range accts {
			ids, err := ledger.AccountEntryIDsBefore(ctx, e.app.Pool, a, at, 1000)
			if err != nil {
				t.Fatal(err)
			}
			wantIDs := texts(`SELECT DISTINCT entry_id::text FROM lines WHERE account = $1 AND effective_at < $2 ORDER BY 1 DESC`, a, at)
			if !slices.Equal(ids, wantIDs) {
				t.Fatalf("entries of %s effective before %v: %d ids, want %d", a, at.Sub(start), len(ids), len(wantIDs))
			}
		}
	}
	for range 60 {
		from, to := times[rng.IntN(len(times))], times[rng.IntN(len(times))]
		if !from.Before(to) {
			continue
		}
		a := accts[rng.IntN(len(accts))]
		st, err := e.ledger.Statement(ctx, a, from, to)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, l := range st.Lines {
			got = append(got, fmt.Sprintf("%s %s %s", l.EntryID, l.Side, ledger.Format(&l.Amount)))
		}
		want := texts(`SELECT entry_id::text || ' ' || side || ' ' || trim_scale(amount)::text FROM lines
			WHERE account = $1 AND effective_at >= $2 AND effective_at < $3 AND NOT pending ORDER BY effective_at, seq, shard, idx`, a, from, to)
		if !slices.Equal(got, want) {
			t.Fatalf("statement of %s for [%v, %v): %d lines, want %d\n got %v\nwant %v", a, from.Sub(start), to.Sub(start), len(got), len(want), got, want)
		}
	}
}

// TestLateIndexServesReads checks, on the generic plan the app's prepared
// statements get, that the late half of a read by effective time can use
// postings_account_late (its condition contains the index predicate
// word for word: otherwise PostgreSQL cannot prove it and scans the table)
// and the prompt half the position index.
func TestLateIndexServesReads(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	conn, err := e.db.Admin.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	for _, sql := range []string{`SET enable_seqscan = off`, `SET plan_cache_mode = force_generic_plan`,
		`PREPARE eff(text, timestamptz, bigint[], bigint[]) AS SELECT q.amount FROM balances b CROSS JOIN LATERAL (` +
			ledger.RowPostingsByEffective("q.amount", "q.effective_at > $2 AND NOT q.pending", "$3", "$4") + `) q WHERE b.account = $1`} {
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	rows, err := conn.Query(ctx, `EXPLAIN EXECUTE eff('201:USD:a', now(), '{}', '{}')`)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Join(plan, "\n")
	if !strings.Contains(text, "postings_account_late") || !strings.Contains(text, "postings_account_shard_seq") || strings.Contains(text, "Seq Scan on postings") {
		t.Fatalf("plan of a read by effective time, want both postings indexes and no scan of postings:\n%s", text)
	}
}
