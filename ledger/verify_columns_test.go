package ledger_test

import (
	"context"
	"testing"

	"github.com/folioledger/folio/ledger"
)

// TestVerifyCoversStoredColumns changes, as the superuser, stored columns
// that readers rely on but that the hash chain and the balance
// recomputation did not cover (each of these passed Verify before it
// checked them), and checks that Verify reports the first bad position.
//
// The books: seq 1 funds alice 10, 2 funds bob 20, 3 moves 5 from bob to
// alice, 4 and 5 fund alice 1 and 2, 6 holds 3 of bob's (pending), 7 voids
// the hold (no postings; it releases bob's and 110:USD's pending amounts,
// so it is their last seq).
func TestVerifyCoversStoredColumns(t *testing.T) {
	tests := []struct {
		name  string
		sql   []string
		first ledger.Problem // Kind and Seq (and Account when set) of the first problem
		only  bool           // the first problem is the only one
	}{
		{
			name:  "effective_at of a posting (statements, as-of-effective balances)",
			sql:   []string{`UPDATE postings SET effective_at = effective_at - interval '30 days' WHERE seq = 3 AND idx = 0`},
			first: ledger.Problem{Kind: ledger.ProblemHash, Seq: 3},
			only:  true,
		},
		{
			name:  "recorded_at of a posting",
			sql:   []string{`UPDATE postings SET recorded_at = recorded_at + interval '1 hour' WHERE seq = 2 AND idx = 1`},
			first: ledger.Problem{Kind: ledger.ProblemHash, Seq: 2},
			only:  true,
		},
		{
			name:  "entry_id of a posting (statement lines name their entry)",
			sql:   []string{`UPDATE postings SET entry_id = (SELECT id FROM entries WHERE seq = 1) WHERE seq = 4 AND idx = 0`},
			first: ledger.Problem{Kind: ledger.ProblemHash, Seq: 4},
			only:  true,
		},
		{
			name:  "currency of a posting",
			sql:   []string{`UPDATE postings SET currency = 'BTC' WHERE seq = 3 AND idx = 1`},
			first: ledger.Problem{Kind: ledger.ProblemHash, Seq: 3},
			only:  true,
		},
		{
			name:  "content_hash of an entry (replays of its key)",
			sql:   []string{`UPDATE entries SET content_hash = sha256('another request'::bytea) WHERE seq = 2`},
			first: ledger.Problem{Kind: ledger.ProblemHash, Seq: 2},
			only:  true,
		},
		{
			name: "posting beyond the last entry, its balance row adjusted",
			sql: []string{
				`UPDATE balances b SET credits = c.credits + 100, balance = c.balance + 100, last_seq = 8, row_seq = 8
					FROM balances_current c WHERE c.account = b.account AND c.shard = b.shard AND b.account = '201:USD:alice'`,
				`INSERT INTO postings (entry_id, idx, seq, account, currency, side, amount, pending, balance_after, debits_after, credits_after, effective_at, recorded_at)
					SELECT gen_random_uuid(), 0, 8, '201:USD:alice', 'USD', 'credit', 100, false, 118, 0, 118, recorded_at, recorded_at FROM entries WHERE seq = 7`,
			},
			first: ledger.Problem{Kind: ledger.ProblemHash, Seq: 8},
			only:  true,
		},
		{
			// The row was last written at alice's first entry (seq 1; her
			// later lines are postings rows, migration 048): a last_seq
			// after it claims figures her lines up to it do not give.
			name:  "last_seq of a balance row",
			sql:   []string{`UPDATE balances SET last_seq = 4 WHERE account = '201:USD:alice'`},
			first: ledger.Problem{Kind: ledger.ProblemBalance, Account: "201:USD:alice"},
			only:  true,
		},
		{
			name:  "last_seq of a balance row released by a void",
			sql:   []string{`UPDATE balances SET last_seq = 6 WHERE account = '201:USD:bob'`},
			first: ledger.Problem{Kind: ledger.ProblemBalance, Account: "201:USD:bob"},
			only:  true,
		},
		{
			name:  "holder of a balance row",
			sql:   []string{`UPDATE balances SET holder = 'mallory' WHERE account = '201:USD:alice'`},
			first: ledger.Problem{Kind: ledger.ProblemBalance, Account: "201:USD:alice"},
			only:  true,
		},
		{
			name:  "currency of a balance row (balances by currency)",
			sql:   []string{`UPDATE balances SET currency = 'BTC' WHERE account = '201:USD:bob'`},
			first: ledger.Problem{Kind: ledger.ProblemBalance, Account: "201:USD:bob"},
			only:  true,
		},
		{
			name:  "code of a balance row",
			sql:   []string{`UPDATE balances SET code = '202' WHERE account = '201:USD:bob'`},
			first: ledger.Problem{Kind: ledger.ProblemBalance, Account: "201:USD:bob"},
			only:  true,
		},
		{
			name:  "recorded_at of the journal head (the floor of the next entry's)",
			sql:   []string{`UPDATE journal_shards SET recorded_at = recorded_at + interval '1 day'`},
			first: ledger.Problem{Kind: ledger.ProblemHash, Seq: 7},
			only:  true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			ctx := context.Background()
			e.fund(t, "v1", "201:USD:alice", "10")
			e.fund(t, "v2", "201:USD:bob", "20")
			e.post(t, entry("v3", "201:USD:bob", "debit", "5", "201:USD:alice", "credit", "5"))
			e.fund(t, "v4", "201:USD:alice", "1")
			e.fund(t, "v5", "201:USD:alice", "2")
			hold := entry("v6", "201:USD:bob", "debit", "3", "110:USD", "credit", "3")
			hold.Pending = true
			h := e.post(t, hold)
			if r := e.one(t, voidOp(h.ID)); r.Err != nil || r.Entry.Seq != 7 {
				t.Fatalf("void: %+v", r)
			}
			e.verify(t)
			for _, sql := range tt.sql {
				if _, err := e.db.Admin.Exec(ctx, sql); err != nil {
					t.Fatalf("tamper: %s: %v", sql, err)
				}
			}
			rep, err := e.ledger.Verify(ctx)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if rep.OK || len(rep.Problems) == 0 {
				t.Fatalf("Verify = ok %t with %d problems, want not ok", rep.OK, len(rep.Problems))
			}
			if !matches(rep.Problems[0], tt.first) {
				t.Errorf("first problem = %+v, want %+v", rep.Problems[0], tt.first)
			}
			if tt.only && len(rep.Problems) != 1 {
				t.Errorf("problems = %+v, want only the first", rep.Problems)
			}
		})
	}
}
