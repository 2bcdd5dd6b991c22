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
	"github.com/folioledger/folio/schema"
)

// inlineBooks writes a journal in which 101 and 605 lines are inline
// (lines.go) among everything that keeps them rows: trade-like pairs of
// entries over two shards and several blocks, a manual entry with three
// 101 lines (one more than an entry's slots), late entries, pending
// entries posted or voided later, and a rare currency (101:BTC, a few
// lines far apart). It returns the recorded time of every step.
func inlineBooks(t *testing.T, e *env) []time.Time {
	t.Helper()
	ctx := context.Background()
	if err := ledger.SetShards(ctx, e.app, 2); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(14, 40))
	var times []time.Time
	var pending []string
	for i := range 180 {
		e.clock.Advance(time.Second)
		times = append(times, e.clock.Now())
		trader := fmt.Sprintf("u%d", rng.IntN(9))
		fee := 10 + rng.IntN(90)
		share := rng.IntN(fee)
		fe := entry(fmt.Sprintf("fee%d", i), "202:USD:"+trader, "debit", fmt.Sprint(fee), "101:USD", "credit", fmt.Sprint(fee))
		ce := entry(fmt.Sprintf("comm%d", i), "101:USD", "debit", fmt.Sprint(fee), "208:USD:a"+trader, "credit", fmt.Sprint(share),
			"605:USD", "credit", fmt.Sprint(fee-share))
		if share == 0 {
			ce = entry(fmt.Sprintf("comm%d", i), "101:USD", "debit", fmt.Sprint(fee), "605:USD", "credit", fmt.Sprint(fee))
		}
		fe.Route, ce.Route = trader, trader
		if i%23 == 5 {
			fe.EffectiveAt = e.clock.Now().Add(-2 * time.Hour) // late: its lines stay rows
			ce.EffectiveAt = fe.EffectiveAt
		}
		if _, err := e.ledger.Post(ctx, []ledger.NewEntry{fe, ce}, ledger.Options{}); err != nil {
			t.Fatal(err)
		}
		switch {
		case i%17 == 3:
			e.post(t, entry(fmt.Sprintf("three%d", i), "101:USD", "debit", "1", "101:USD", "debit", "2", "101:USD", "credit", "3"))
		case i%29 == 7:
			hold := entry(fmt.Sprintf("hold%d", i), "605:USD", "debit", "4", "110:USD", "credit", "4")
			hold.Pending = true
			pending = append(pending, e.post(t, hold).ID)
		case i%29 == 20 && len(pending) > 0:
			op := voidOp(pending[0])
			if len(pending)%2 == 0 {
				op = postOp(pending[0], "605:USD", "debit", "4", "110:USD", "credit", "4")
			}
			if r := e.one(t, op); r.Err != nil {
				t.Fatal(r.Err)
			}
			pending = pending[1:]
		case i%61 == 11:
			e.post(t, entry(fmt.Sprintf("btc%d", i), "110:BTC", "debit", "0.5", "101:BTC", "credit", "0.5"))
		}
	}
	var inline, rows101 int
	if err := e.db.Admin.QueryRow(ctx, `SELECT (SELECT count(*) FROM inline_lines), (SELECT count(*) FROM postings WHERE account = '101:USD')`).Scan(&inline, &rows101); err != nil {
		t.Fatal(err)
	}
	if inline < 300 || rows101 > 60 {
		t.Fatalf("%d inline lines and %d postings rows of 101:USD: want most of 101's and 605's lines inline", inline, rows101)
	}
	return times
}

// TestInlineLinesReads checks every read by account of the inline accounts
// against the lines themselves (the view lines, summed in SQL): balances
// and trial balances as of recorded times, balance rows and code balances
// as of cuts, statements by recorded and by effective time, the entries of
// an account. Then Verify passes.
func TestInlineLinesReads(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	times := inlineBooks(t, e)
	texts := func(sql string, args ...any) []string {
		t.Helper()
		rows, err := e.db.Admin.Query(ctx, sql, args...)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				t.Fatal(err)
			}
			out = append(out, s)
		}
		return out
	}
	one := func(sql string, args ...any) string {
		t.Helper()
		if s := texts(sql, args...); len(s) == 1 {
			return s[0]
		}
		return ""
	}
	accounts := []string{"101:USD", "605:USD", "101:BTC", "202:USD:u3", "208:USD:au3"}
	for k := 0; k < len(times); k += 7 {
		at := times[k]
		for _, a := range accounts {
			b := e.bal(t, a, ledger.AsOf{Recorded: at})
			got := strings.Join([]string{ledger.Format(&b.Debits), ledger.Format(&b.Credits), ledger.Format(&b.Balance)}, " ")
			want := one(`SELECT trim_scale(coalesce(sum(amount) FILTER (WHERE side = 'debit'), 0))::text || ' ' ||
					trim_scale(coalesce(sum(amount) FILTER (WHERE side = 'credit'), 0))::text || ' ' ||
					trim_scale(coalesce(sum(CASE WHEN side = c.normal_side THEN amount ELSE -amount END), 0))::text
				FROM lines l JOIN account_codes c ON c.code = split_part(l.account, ':', 1)
				WHERE l.account = $1 AND NOT l.pending AND l.recorded_at <= $2 GROUP BY c.normal_side`, a, at)
			if want == "" {
				want = "0 0 0"
			}
			if got != want {
				t.Errorf("%s as of %v: debits, credits, balance %s, the lines say %s", a, at, got, want)
			}
		}
		tb, err := e.ledger.TrialBalance(ctx, ledger.AsOf{Recorded: at}, "USD")
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, c := range tb.Currencies {
			for _, r := range c.Lines {
				got = append(got, r.Account.String()+" "+ledger.Format(&r.Balance))
			}
		}
		want := texts(`SELECT l.account || ' ' || trim_scale(sum(CASE WHEN pending THEN 0 WHEN side = c.normal_side THEN amount ELSE -amount END))::text
			FROM lines l JOIN account_codes c ON c.code = split_part(l.account, ':', 1)
			WHERE l.currency = 'USD' AND l.recorded_at <= $1 GROUP BY l.account ORDER BY l.account`, at)
		if !slices.Equal(got, want) {
			t.Errorf("trial balance as of %v:\n got %v\nwant %v", at, got, want)
		}
	}

	var heads [2]int64
	if err := e.db.Admin.QueryRow(ctx, `SELECT (SELECT seq FROM journal_shards WHERE shard = 0), (SELECT seq FROM journal_shards WHERE shard = 1)`).Scan(&heads[0], &heads[1]); err != nil {
		t.Fatal(err)
	}
	for _, cut := range []ledger.Cut{{0, 0}, {1, 0}, {63, 64}, {64, 63}, {65, 128}, {heads[0] / 2, heads[1] / 3}, {heads[0], heads[1]}, {heads[0] - 1, 127}} {
		rows, err := ledger.BalanceRowsAt(ctx, e.app.Pool, cut)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range rows {
			got = append(got, fmt.Sprintf("%s %d %s %s %s", r.Account, r.Shard, ledger.Format(&r.Debits), ledger.Format(&r.Credits), ledger.Format(&r.Balance)))
		}
		want := texts(`SELECT l.account || ' ' || l.shard || ' ' || trim_scale(coalesce(sum(amount) FILTER (WHERE side = 'debit' AND NOT pending), 0))::text || ' ' ||
				trim_scale(coalesce(sum(amount) FILTER (WHERE side = 'credit' AND NOT pending), 0))::text || ' ' ||
				trim_scale(coalesce(sum(CASE WHEN pending THEN 0 WHEN side = c.normal_side THEN amount ELSE -amount END), 0))::text
			FROM lines l JOIN account_codes c ON c.code = split_part(l.account, ':', 1)
			WHERE l.seq <= ($1::bigint[])[l.shard + 1] GROUP BY l.account, l.shard ORDER BY l.account, l.shard`, []int64(cut))
		if !slices.Equal(got, want) {
			t.Errorf("balance rows at %v:\n got %v\nwant %v", cut, got, want)
		}
		for _, code := range []string{"101", "605"} {
			sums, err := ledger.CodeBalancesAt(ctx, e.app.Pool, code, cut)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for cur, d := range sums {
				got = append(got, cur+" "+ledger.Format(&d))
			}
			slices.Sort(got)
			want := texts(`SELECT currency || ' ' || trim_scale(sum(CASE WHEN pending THEN 0 WHEN side = 'credit' THEN amount ELSE -amount END))::text
				FROM lines WHERE split_part(account, ':', 1) = $2 AND seq <= ($1::bigint[])[shard + 1] GROUP BY currency ORDER BY 1`, []int64(cut), code)
			if !slices.Equal(got, want) {
				t.Errorf("code %s balances at %v: got %v, want %v", code, cut, got, want)
			}
		}
		for _, a := range accounts {
			got, err := ledger.AccountEntryIDs(ctx, e.app.Pool, a, cut, 10000)
			if err != nil {
				t.Fatal(err)
			}
			want := texts(`SELECT DISTINCT entry_id::text FROM lines WHERE account = $1 AND seq <= ($2::bigint[])[shard + 1] ORDER BY 1 DESC`, a, []int64(cut))
			if !slices.Equal(got, want) {
				t.Errorf("entries of %s at %v: %d, want %d", a, cut, len(got), len(want))
			}
		}
	}

	for _, w := range [][2]int{{0, len(times) - 1}, {10, 11}, {40, 90}, {100, 170}} {
		from, to := times[w[0]], times[w[1]]
		for _, a := range accounts {
			for _, by := range []string{"recorded_at", "effective_at"} {
				read := e.ledger.StatementRecorded
				if by == "effective_at" {
					read = e.ledger.Statement
				}
				st, err := read(ctx, a, from, to)
				if err != nil {
					t.Fatal(err)
				}
				var got []string
				for _, l := range st.Lines {
					got = append(got, fmt.Sprintf("%s %s %s", l.EntryID, l.Side, ledger.Format(&l.Amount)))
				}
				want := texts(`SELECT entry_id::text || ' ' || side || ' ' || trim_scale(amount)::text FROM lines
					WHERE account = $1 AND `+by+` >= $2 AND `+by+` < $3 AND NOT pending ORDER BY `+by+`, seq, shard, idx`, a, from, to)
				if !slices.Equal(got, want) {
					t.Errorf("statement of %s by %s [%d, %d):\n got %v\nwant %v", a, by, w[0], w[1], got, want)
				}
				open := one(`SELECT trim_scale(coalesce(sum(CASE WHEN side = c.normal_side THEN amount ELSE -amount END), 0))::text
					FROM lines l JOIN account_codes c ON c.code = split_part(l.account, ':', 1)
					WHERE l.account = $1 AND NOT l.pending AND l.`+by+` < $2 GROUP BY c.normal_side`, a, from)
				if open == "" {
					open = "0"
				}
				if got := ledger.Format(&st.Opening); got != open {
					t.Errorf("statement of %s by %s [%d, %d): opening %s, the lines say %s", a, by, w[0], w[1], got, open)
				}
			}
		}
	}

	for _, a := range accounts {
		es, err := e.ledger.ListEntries(ctx, ledger.EntryFilter{Account: a, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, x := range es {
			got = append(got, x.ID)
		}
		want := texts(`SELECT e.id::text FROM entries e WHERE (e.seq, e.shard) IN (SELECT seq, shard FROM lines WHERE account = $1) ORDER BY e.seq, e.shard`, a)
		if !slices.Equal(got, want) {
			t.Errorf("entries listed for %s: %d, want %d", a, len(got), len(want))
		}
	}
	e.verify(t)
}

// TestVerifyInlineLines changes, as the superuser, the inline lines and
// what their reads rely on; Verify reports each change.
func TestVerifyInlineLines(t *testing.T) {
	tests := []struct {
		name string
		sql  string
		kind string
	}{
		{"an inline amount", `UPDATE entries SET l1_amount = l1_amount + 1 WHERE seq = (SELECT max(seq) FROM entries WHERE shard = 0 AND l1_idx IS NOT NULL) AND shard = 0`, ledger.ProblemHash},
		{"an inline running balance", `UPDATE entries SET l2_balance_after = l2_balance_after + 1 WHERE seq = (SELECT min(seq) FROM entries WHERE shard = 1 AND l2_idx IS NOT NULL) AND shard = 1`, ledger.ProblemHash},
		{"an inline account", `UPDATE entries SET l1_account = '605:USD' WHERE seq = (SELECT min(seq) FROM entries WHERE shard = 0 AND l1_account = '101:USD') AND shard = 0`, ledger.ProblemHash},
		{"the row that opens a block", `DELETE FROM postings WHERE (seq, shard, idx) = (SELECT seq, shard, idx FROM postings p WHERE account = '101:USD'
			AND EXISTS (SELECT 1 FROM inline_lines i WHERE i.account = p.account AND i.shard = p.shard AND i.seq > p.seq AND i.seq < p.seq - mod(p.seq, 64) + 64) LIMIT 1)`, ledger.ProblemHash},
		{"row_seq of a balance row", `UPDATE balances SET row_seq = row_seq - 1 WHERE account = '605:USD' AND shard = 1`, ledger.ProblemBalance},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			ctx := context.Background()
			inlineBooks(t, e)
			e.verify(t)
			tag, err := e.db.Admin.Exec(ctx, tt.sql)
			if err != nil || tag.RowsAffected() != 1 {
				t.Fatalf("tamper: %v, %d rows", err, tag.RowsAffected())
			}
			rep, err := e.ledger.Verify(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if rep.OK || !slices.ContainsFunc(rep.Problems, func(p ledger.Problem) bool { return p.Kind == tt.kind }) {
				t.Errorf("Verify = ok %t, problems %+v; want a %s", rep.OK, rep.Problems, tt.kind)
			}
		})
	}
}

// TestMigration040 puts a journal back into the layout before migration
// 040 (every line a postings row, no slots, no row_seq), runs 040's steps
// (twice: a migrator may run them again), and expects books that verify,
// each row_seq at its account's last row, and writing that goes on inline
// from the next block.
func TestMigration040(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	inlineBooks(t, e)
	slots := ""
	for _, c := range []string{"idx", "account", "side", "amount", "balance_after", "debits_after", "credits_after"} {
		slots += fmt.Sprintf(", l1_%s = NULL, l2_%s = NULL", c, c)
	}
	before := []string{
		`INSERT INTO postings (entry_id, idx, seq, account, currency, side, amount, pending, balance_after, debits_after, credits_after, effective_at, recorded_at, shard)
			SELECT entry_id, idx, seq, account, currency, side, amount, pending, balance_after, debits_after, credits_after, effective_at, recorded_at, shard FROM inline_lines`,
		`UPDATE entries SET ` + slots[2:] + ` WHERE l1_idx IS NOT NULL`,
		`UPDATE balances SET row_seq = 0`,
	}
	steps, err := schema.Steps()
	if err != nil {
		t.Fatal(err)
	}
	var m040 []string
	for _, s := range steps {
		if s.Version == 40 {
			m040 = append(m040, s.SQL)
		}
	}
	if len(m040) == 0 {
		t.Fatal("no steps in migration 040")
	}
	for _, sql := range append(append(before, m040...), m040...) {
		if _, err := e.db.Admin.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	var inline, zero int
	if err := e.db.Admin.QueryRow(ctx, `SELECT (SELECT count(*) FROM inline_lines), (SELECT count(*) FROM balances WHERE row_seq = 0)`).Scan(&inline, &zero); err != nil {
		t.Fatal(err)
	}
	if inline != 0 || zero != 0 {
		t.Fatalf("after 040: %d inline lines and %d balance rows without row_seq; want 0 and 0", inline, zero)
	}
	e.verify(t)
	for i := range 150 {
		e.clock.Advance(time.Second)
		e.post(t, entry(fmt.Sprintf("after%d", i), "202:USD:u1", "debit", "7", "101:USD", "credit", "7"))
		e.post(t, entry(fmt.Sprintf("split%d", i), "101:USD", "debit", "7", "208:USD:au1", "credit", "2", "605:USD", "credit", "5"))
	}
	if err := e.db.Admin.QueryRow(ctx, `SELECT count(*) FROM inline_lines`).Scan(&inline); err != nil {
		t.Fatal(err)
	}
	if inline < 300 {
		t.Errorf("%d inline lines after 300 entries on 101 and 605, want most of their 450", inline)
	}
	e.verify(t)
}
