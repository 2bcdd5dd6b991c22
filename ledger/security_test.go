package ledger_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/folioledger/folio/ledger"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// TestAppRoleCannotRewriteHistory proves docs/CONTRACT.md §1.3 rule 1 at the database:
// the role the server runs as may read and append the journal, never
// change or delete it.
func TestAppRoleCannotRewriteHistory(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for i := range 3 {
		e.fund(t, fmt.Sprintf("s%d", i), "201:USD:alice", "10")
	}
	var role string
	if err := e.app.Pool.QueryRow(ctx, `SELECT current_user`).Scan(&role); err != nil || role != "folio_app" {
		t.Fatalf("app pool runs as %q, %v; want folio_app", role, err)
	}
	before := loadBooks(t, e)
	for _, sql := range []string{
		`UPDATE entries SET description = 'rewritten'`,
		`UPDATE entries SET hash = prev_hash WHERE seq = 2`,
		`DELETE FROM entries`,
		`DELETE FROM entries WHERE seq = 3`,
		`UPDATE postings SET amount = amount + 1`,
		`DELETE FROM postings`,
		`TRUNCATE entries`,
		`TRUNCATE postings`,
		`UPDATE audit_log SET actor = 'someone else'`,
		`DELETE FROM audit_log`,
	} {
		_, err := e.app.Pool.Exec(ctx, sql)
		var pg *pgconn.PgError
		if !errors.As(err, &pg) || pg.Code != "42501" {
			t.Errorf("app role: %s: error %v, want insufficient_privilege (42501)", sql, err)
		}
	}
	e.unchanged(t, before, "refused statements")
	e.verify(t)

	// The role is not simply read-only: it appends to the journal (every
	// post above) and writes working tables such as balances.
	err := e.app.Tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO balances (account, code, currency, holder) VALUES ('201:USD:probe', '201', 'USD', 'probe')`); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM balances WHERE account = '201:USD:probe'`).Scan(&n); err != nil || n != 1 {
			return fmt.Errorf("inserted balance row count %d, %v", n, err)
		}
		return errRollback
	})
	if !errors.Is(err, errRollback) {
		t.Errorf("app role: INSERT INTO balances: %v, want allowed", err)
	}
	e.unchanged(t, before, "the rolled-back insert")
}

var errRollback = errors.New("roll back")

// TestVerifyFindsTampering changes the books behind the ledger's back as
// the superuser and checks that Verify reports the first problem.
func TestVerifyFindsTampering(t *testing.T) {
	tests := []struct {
		name      string
		sql       []string
		first     ledger.Problem // Kind and Seq (and Account when set) of the first problem
		also      []ledger.Problem
		onlyFirst bool     // the first problem is the only one
		sqlBad    []string // balance rows the test's own SQL recomputation must flag
	}{
		{
			name:  "posting amount of the 3rd of 5 entries",
			sql:   []string{`UPDATE postings SET amount = amount + 1 WHERE seq = 3 AND idx = 0`},
			first: ledger.Problem{Kind: ledger.ProblemHash, Seq: 3},
			also:  []ledger.Problem{{Kind: ledger.ProblemBalance, Seq: 3, Account: "201:USD:bob"}, {Kind: ledger.ProblemBalance, Account: "201:USD:bob"}},
		},
		{
			name:      "balance row only",
			sql:       []string{`UPDATE balances SET credits = credits + 1, balance = balance + 1 WHERE account = '201:USD:alice'`},
			first:     ledger.Problem{Kind: ledger.ProblemBalance, Account: "201:USD:alice"},
			onlyFirst: true,
			sqlBad:    []string{"201:USD:alice"},
		},
		{
			name:      "pending figure of a balance row",
			sql:       []string{`UPDATE balances SET pending_debits = 1 WHERE account = '201:USD:bob'`},
			first:     ledger.Problem{Kind: ledger.ProblemBalance, Account: "201:USD:bob"},
			onlyFirst: true,
			sqlBad:    []string{"201:USD:bob"},
		},
		{
			// The balance rows agree with what is left: alice's and the
			// funding account's figures are their last postings row's
			// (migration 048); the head gives the deletion away.
			name:  "last entry deleted",
			sql:   []string{`DELETE FROM postings WHERE seq = 5`, `DELETE FROM entries WHERE seq = 5`},
			first: ledger.Problem{Kind: ledger.ProblemSeqGap, Seq: 5},
		},
		{
			name:  "middle entry deleted",
			sql:   []string{`DELETE FROM postings WHERE seq = 2`, `DELETE FROM entries WHERE seq = 2`},
			first: ledger.Problem{Kind: ledger.ProblemSeqGap, Seq: 3},
			also:  []ledger.Problem{{Kind: ledger.ProblemHash, Seq: 3}},
		},
		{
			name:      "metadata of an entry",
			sql:       []string{`UPDATE entries SET metadata = '{"x":1}' WHERE seq = 2`},
			first:     ledger.Problem{Kind: ledger.ProblemHash, Seq: 2},
			onlyFirst: true,
		},
		{
			name:  "balance_after of a posting",
			sql:   []string{`UPDATE postings SET balance_after = balance_after + 1 WHERE seq = 4 AND idx = 1`},
			first: ledger.Problem{Kind: ledger.ProblemHash, Seq: 4},
			also:  []ledger.Problem{{Kind: ledger.ProblemBalance, Seq: 4, Account: "201:USD:alice"}},
		},
		{
			name: "recorded_at of the 3rd entry moved before the 2nd's",
			sql: []string{`UPDATE entries SET recorded_at = recorded_at - interval '1 hour' WHERE seq = 3`,
				`UPDATE postings SET recorded_at = recorded_at - interval '1 hour' WHERE seq = 3`},
			first: ledger.Problem{Kind: ledger.ProblemHash, Seq: 3},
			also:  []ledger.Problem{{Kind: ledger.ProblemSeqGap, Seq: 3}},
		},
		{
			name:      "journal head hash",
			sql:       []string{`UPDATE journal_shards SET hash = decode(repeat('ab', 32), 'hex')`},
			first:     ledger.Problem{Kind: ledger.ProblemHash, Seq: 5},
			onlyFirst: true,
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
			if tt.onlyFirst && len(rep.Problems) != 1 {
				t.Errorf("problems = %+v, want only the first", rep.Problems)
			}
			if tt.sqlBad != nil {
				if got := sqlBalanceMismatches(t, e); !slices.Equal(got, tt.sqlBad) {
					t.Errorf("SQL recomputation flags %v, want %v", got, tt.sqlBad)
				}
			}
			for _, want := range tt.also {
				found := false
				for _, p := range rep.Problems {
					found = found || matches(p, want)
				}
				if !found {
					t.Errorf("problems = %+v, want one like %+v", rep.Problems, want)
				}
			}
		})
	}
}

// matches compares a problem's kind, seq and account (when want names one).
func matches(got, want ledger.Problem) bool {
	return got.Kind == want.Kind && got.Seq == want.Seq && (want.Account == "" || got.Account == want.Account) && got.Detail != ""
}
