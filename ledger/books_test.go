package ledger_test

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/cockroachdb/apd/v3"
	"github.com/folioledger/folio"
	"github.com/folioledger/folio/accounts"
	"github.com/folioledger/folio/ledger"
)

// This file reads the books directly over the superuser pool and checks
// them without the ledger's own code paths: the concurrency test and the
// invariant harness use it to recompute what Verify recomputes, and to take
// fingerprints that show a rejected operation changed nothing.

// books is a full dump of the journal tables.
type books struct {
	headSeq  int64
	headHash []byte
	entries  []bookEntry // in seq order
	postings []bookPosting
	balances map[string]bookBalance
	keys     map[string]int // idempotency key -> number of entries
}

type bookEntry struct {
	id, phase, completes, reverses, key string
	seq                                 int64
	prevHash, hash                      []byte
}

type bookPosting struct {
	entryID, account, currency, side         string
	seq                                      int64
	amount, balanceAfter, debitsAf, credsAft apd.Decimal
	pending                                  bool
}

type bookBalance struct {
	debits, credits, pendingDebits, pendingCredits, balance apd.Decimal
	text                                                    string
}

// loadBooks reads every journal table in one snapshot.
func loadBooks(t testing.TB, e *env) *books {
	t.Helper()
	ctx := context.Background()
	tx, err := e.db.Admin.Begin(ctx)
	if err != nil {
		t.Fatalf("begin: %v", err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"); err != nil {
		t.Fatalf("set isolation: %v", err)
	}
	b := &books{balances: map[string]bookBalance{}, keys: map[string]int{}}
	if err := tx.QueryRow(ctx, `SELECT seq, hash FROM journal_shards WHERE shard = 0`).Scan(&b.headSeq, &b.headHash); err != nil {
		t.Fatalf("read head: %v", err)
	}
	rows, err := tx.Query(ctx, `SELECT id::text, seq, phase, coalesce(completes::text, ''), coalesce(reverses::text, ''), idempotency_key, prev_hash, hash
		FROM entries ORDER BY seq`)
	if err != nil {
		t.Fatalf("read entries: %v", err)
	}
	for rows.Next() {
		var x bookEntry
		if err := rows.Scan(&x.id, &x.seq, &x.phase, &x.completes, &x.reverses, &x.key, &x.prevHash, &x.hash); err != nil {
			t.Fatalf("scan entry: %v", err)
		}
		b.entries = append(b.entries, x)
		b.keys[x.key]++
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("read entries: %v", err)
	}
	rows, err = tx.Query(ctx, `SELECT entry_id::text, seq, account, currency, side, amount::text, pending,
		balance_after::text, debits_after::text, credits_after::text FROM lines ORDER BY seq, idx`)
	if err != nil {
		t.Fatalf("read postings: %v", err)
	}
	for rows.Next() {
		var p bookPosting
		var amt, bal, deb, cred string
		if err := rows.Scan(&p.entryID, &p.seq, &p.account, &p.currency, &p.side, &amt, &p.pending, &bal, &deb, &cred); err != nil {
			t.Fatalf("scan posting: %v", err)
		}
		p.amount, p.balanceAfter, p.debitsAf, p.credsAft = dec(t, amt), dec(t, bal), dec(t, deb), dec(t, cred)
		b.postings = append(b.postings, p)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("read postings: %v", err)
	}
	rows, err = tx.Query(ctx, `SELECT account, debits::text, credits::text, pending_debits::text, pending_credits::text, balance::text, last_seq FROM balances_current`)
	if err != nil {
		t.Fatalf("read balances: %v", err)
	}
	for rows.Next() {
		var acct, d, c, pd, pc, bal string
		var seq int64
		if err := rows.Scan(&acct, &d, &c, &pd, &pc, &bal, &seq); err != nil {
			t.Fatalf("scan balance: %v", err)
		}
		b.balances[acct] = bookBalance{debits: dec(t, d), credits: dec(t, c), pendingDebits: dec(t, pd), pendingCredits: dec(t, pc),
			balance: dec(t, bal), text: fmt.Sprintf("%s %s %s %s %s %d", d, c, pd, pc, bal, seq)}
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("read balances: %v", err)
	}
	return b
}

// fingerprint summarizes the books; equal fingerprints mean nothing was
// written in between.
func (b *books) fingerprint() string {
	var s strings.Builder
	fmt.Fprintf(&s, "head=%d/%x entries=%d postings=%d\n", b.headSeq, b.headHash, len(b.entries), len(b.postings))
	accts := make([]string, 0, len(b.balances))
	for a := range b.balances {
		accts = append(accts, a)
	}
	sort.Strings(accts)
	for _, a := range accts {
		fmt.Fprintf(&s, "%s %s\n", a, b.balances[a].text)
	}
	return s.String()
}

// sums is what the postings say an account's balance row must hold.
type sums struct{ debits, credits, pendingDebits, pendingCredits apd.Decimal }

// recompute sums the postings per account: posted postings into debits and
// credits, postings of still-open pending entries into the pending figures.
func (b *books) recompute(t testing.TB) map[string]*sums {
	t.Helper()
	completed := map[string]bool{}
	for _, x := range b.entries {
		if x.completes != "" {
			completed[x.completes] = true
		}
	}
	out := map[string]*sums{}
	for _, p := range b.postings {
		s := out[p.account]
		if s == nil {
			s = &sums{}
			out[p.account] = s
		}
		var dst *apd.Decimal
		switch {
		case p.pending && completed[p.entryID]:
			continue
		case p.pending && p.side == "debit":
			dst = &s.pendingDebits
		case p.pending:
			dst = &s.pendingCredits
		case p.side == "debit":
			dst = &s.debits
		default:
			dst = &s.credits
		}
		mustAdd(t, dst, dst, &p.amount)
	}
	return out
}

// check returns every broken invariant of the books (see invariant_test.go
// for the list), independently of ledger.Verify.
func (b *books) check(t testing.TB, chart *accounts.Chart) []string {
	t.Helper()
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	// Seq gapless from 1, chain linked, head at the last entry, keys unique.
	prev := ledger.GenesisHash
	for i, x := range b.entries {
		if x.seq != int64(i+1) {
			bad("entry %d has seq %d", i+1, x.seq)
		}
		// A row without prev_hash (migration 046) links by position: its
		// hash, which Verify recomputes, covers the previous entry's.
		if x.prevHash != nil && !bytes.Equal(x.prevHash, prev) {
			bad("seq %d: prev_hash does not link to seq %d", x.seq, x.seq-1)
		}
		prev = x.hash
	}
	if b.headSeq != int64(len(b.entries)) || !bytes.Equal(b.headHash, prev) {
		bad("journal head at seq %d, but %d entries", b.headSeq, len(b.entries))
	}
	for k, n := range b.keys {
		if n != 1 {
			bad("idempotency key %q used by %d entries", k, n)
		}
	}

	// Conservation: per currency and phase, debits = credits.
	type cp struct {
		currency string
		pending  bool
	}
	cons := map[cp]*[2]apd.Decimal{}
	for _, p := range b.postings {
		k := cp{p.currency, p.pending}
		if cons[k] == nil {
			cons[k] = &[2]apd.Decimal{}
		}
		i := 0
		if p.side == "credit" {
			i = 1
		}
		mustAdd(t, &cons[k][i], &cons[k][i], &p.amount)
	}
	for k, v := range cons {
		if v[0].Cmp(&v[1]) != 0 {
			bad("currency %s (pending=%t): debits %s != credits %s", k.currency, k.pending, ledger.Format(&v[0]), ledger.Format(&v[1]))
		}
	}

	// Each posting's running totals equal the posted postings up to it.
	running := map[string]*[3]apd.Decimal{} // balance, debits, credits
	for _, p := range b.postings {
		r := running[p.account]
		if r == nil {
			r = &[3]apd.Decimal{}
			running[p.account] = r
		}
		if !p.pending {
			k, _ := accounts.ParseKey(p.account)
			code, _ := chart.Code(k.Code)
			if accounts.Side(p.side) == code.Normal {
				mustAdd(t, &r[0], &r[0], &p.amount)
			} else {
				mustSub(t, &r[0], &r[0], &p.amount)
			}
			i := 1
			if p.side == "credit" {
				i = 2
			}
			mustAdd(t, &r[i], &r[i], &p.amount)
		}
		if r[0].Cmp(&p.balanceAfter) != 0 || r[1].Cmp(&p.debitsAf) != 0 || r[2].Cmp(&p.credsAft) != 0 {
			bad("seq %d %s: balance/debits/credits after = %s/%s/%s, the postings up to it sum to %s/%s/%s", p.seq, p.account,
				ledger.Format(&p.balanceAfter), ledger.Format(&p.debitsAf), ledger.Format(&p.credsAft), ledger.Format(&r[0]), ledger.Format(&r[1]), ledger.Format(&r[2]))
		}
	}

	// Each balance row equals the sum of its postings; posted and pending
	// figures are consistent; rules hold.
	want := b.recompute(t)
	for acct := range b.balances {
		if want[acct] == nil {
			bad("balance row %s has no postings", acct)
		}
	}
	for acct, s := range want {
		got, ok := b.balances[acct]
		if !ok {
			bad("account %s has postings but no balance row", acct)
			continue
		}
		k, err := accounts.ParseKey(acct)
		if err != nil {
			bad("account %s: %v", acct, err)
			continue
		}
		code, _ := chart.Code(k.Code)
		var wantBal apd.Decimal
		if code.Normal == accounts.Debit {
			mustSub(t, &wantBal, &s.debits, &s.credits)
		} else {
			mustSub(t, &wantBal, &s.credits, &s.debits)
		}
		for _, f := range []struct {
			name      string
			got, want *apd.Decimal
		}{{"debits", &got.debits, &s.debits}, {"credits", &got.credits, &s.credits}, {"pending_debits", &got.pendingDebits, &s.pendingDebits},
			{"pending_credits", &got.pendingCredits, &s.pendingCredits}, {"balance", &got.balance, &wantBal}} {
			if f.got.Cmp(f.want) != 0 {
				bad("account %s: %s = %s, postings say %s", acct, f.name, ledger.Format(f.got), ledger.Format(f.want))
			}
		}
		if got.pendingDebits.Sign() < 0 || got.pendingCredits.Sign() < 0 {
			bad("account %s: negative pending figures", acct)
		}
		if code.Rule == accounts.RuleNonNegative {
			pending := got.pendingDebits
			if code.Normal == accounts.Debit {
				pending = got.pendingCredits
			}
			var avail apd.Decimal
			mustSub(t, &avail, &got.balance, &pending)
			if avail.Sign() < 0 {
				bad("account %s (non_negative): available %s", acct, ledger.Format(&avail))
			}
		}
	}
	return problems
}

func dec(t testing.TB, s string) apd.Decimal {
	t.Helper()
	d, err := ledger.ParseStored(s)
	if err != nil {
		t.Fatalf("decimal %q: %v", s, err)
	}
	return d
}

func mustAdd(t testing.TB, d, x, y *apd.Decimal) {
	t.Helper()
	if _, err := ledger.Decimal.Add(d, x, y); err != nil {
		t.Fatalf("add %s + %s: %v", x, y, err)
	}
}

func mustSub(t testing.TB, d, x, y *apd.Decimal) {
	t.Helper()
	if _, err := ledger.Decimal.Sub(d, x, y); err != nil {
		t.Fatalf("sub %s - %s: %v", x, y, err)
	}
}

// count returns the number of rows of a table.
func (e *env) count(t testing.TB, table string) int {
	t.Helper()
	var n int
	if err := e.db.Admin.QueryRow(context.Background(), "SELECT count(*) FROM "+table).Scan(&n); err != nil {
		t.Fatalf("count %s: %v", table, err)
	}
	return n
}

// chart is the built-in chart with the test currencies.
func testChart() *accounts.Chart {
	return accounts.NewChart(accounts.Builtin(), []accounts.Currency{{ID: "USD", Precision: 2, Enabled: true},
		{ID: "USDT", Precision: 6, Enabled: true}, {ID: "BTC", Precision: 8, Enabled: true}, {ID: "JPY", Precision: 0, Enabled: true},
		{ID: "OLD", Precision: 2, Enabled: false}})
}

// code returns err's folio code ("" for nil).
func code(err error) string { return folio.ErrorCode(err) }

// sqlBalanceMismatches recomputes every balance row from the postings with
// one aggregate query (database arithmetic, independent of both the ledger
// and books.check) and returns the accounts whose figures differ: as read
// (balances_current) against all their lines, or as stored against their
// lines up to the stored last_seq (a row the writer left as it was, its
// last postings row carrying its figures since: migration 048).
func sqlBalanceMismatches(t testing.TB, e *env) []string {
	t.Helper()
	rows, err := e.db.Admin.Query(context.Background(), `
		WITH completed AS (SELECT completes AS id FROM entries WHERE completes IS NOT NULL),
		s AS (
			SELECT account, shard,
				coalesce(sum(amount) FILTER (WHERE NOT pending AND side = 'debit'), 0) AS d,
				coalesce(sum(amount) FILTER (WHERE NOT pending AND side = 'credit'), 0) AS c,
				coalesce(sum(amount) FILTER (WHERE pending AND side = 'debit' AND entry_id NOT IN (SELECT id FROM completed)), 0) AS pd,
				coalesce(sum(amount) FILTER (WHERE pending AND side = 'credit' AND entry_id NOT IN (SELECT id FROM completed)), 0) AS pc,
				coalesce(sum(l.amount) FILTER (WHERE NOT pending AND side = 'debit' AND l.seq <= o.last_seq), 0) AS sd,
				coalesce(sum(l.amount) FILTER (WHERE NOT pending AND side = 'credit' AND l.seq <= o.last_seq), 0) AS sc
			FROM lines l LEFT JOIN balances o USING (account, shard) GROUP BY account, shard)
		SELECT DISTINCT coalesce(b.account, s.account) FROM balances_current b FULL JOIN s ON s.account = b.account AND s.shard = b.shard
		LEFT JOIN balances o ON o.account = b.account AND o.shard = b.shard
		LEFT JOIN account_codes k ON k.code = b.code
		WHERE b.account IS NULL OR s.account IS NULL
			OR b.debits <> s.d OR b.credits <> s.c OR b.pending_debits <> s.pd OR b.pending_credits <> s.pc
			OR b.balance <> CASE WHEN k.normal_side = 'debit' THEN s.d - s.c ELSE s.c - s.d END
			OR o.debits <> s.sd OR o.credits <> s.sc OR o.balance <> CASE WHEN k.normal_side = 'debit' THEN s.sd - s.sc ELSE s.sc - s.sd END
		ORDER BY 1`)
	if err != nil {
		t.Fatalf("recompute balances: %v", err)
	}
	var bad []string
	for rows.Next() {
		var a string
		if err := rows.Scan(&a); err != nil {
			t.Fatalf("recompute balances: %v", err)
		}
		bad = append(bad, a)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("recompute balances: %v", err)
	}
	return bad
}
