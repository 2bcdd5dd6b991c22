package ledger

import (
	"bytes"
	"context"
	"fmt"

	"github.com/cockroachdb/apd/v3"
	"github.com/folioledger/folio/accounts"
	"github.com/jackc/pgx/v5"
)

// Problem kinds reported by Verify.
const (
	ProblemHash    = "hash_mismatch"
	ProblemSeqGap  = "seq_gap"
	ProblemBalance = "balance_mismatch"
)

// Problem is one inconsistency found by Verify.
type Problem struct {
	Kind    string `json:"kind"`
	Seq     int64  `json:"seq,omitempty"`
	Account string `json:"account,omitempty"`
	Detail  string `json:"detail"`
}

// Report is the outcome of Verify.
type Report struct {
	OK              bool      `json:"ok"`
	EntriesChecked  int64     `json:"entries_checked"`
	AccountsChecked int64     `json:"accounts_checked"`
	Problems        []Problem `json:"problems"`
}

// maxProblems bounds a report; the first problem is what matters.
const maxProblems = 100

// Verify recomputes the hash chain from the first entry, checks that seqs
// are gapless and end at the journal head, recomputes every stored balance
// (posted and pending) from the postings, and checks each posting's running
// totals against the recomputation. Problems are reported in seq order (the
// first is the first bad seq), then by account. It reads one consistent
// snapshot.
func (l *Ledger) Verify(ctx context.Context) (*Report, error) {
	var rep *Report
	err := l.DB.ReadTx(ctx, func(tx pgx.Tx) error {
		rep = &Report{Problems: []Problem{}}
		if err := verifyChain(ctx, tx, rep); err != nil {
			return err
		}
		return verifyBalances(ctx, tx, rep)
	})
	if err != nil {
		return nil, err
	}
	rep.OK = len(rep.Problems) == 0
	return rep, nil
}

func (r *Report) add(p Problem) {
	if len(r.Problems) < maxProblems {
		r.Problems = append(r.Problems, p)
	}
}

// verifyChain walks the journal in pages of seq order.
func verifyChain(ctx context.Context, tx pgx.Tx, rep *Report) error {
	const page = 5000
	prev := GenesisHash
	var lastSeq int64
	running := map[accounts.Key]*[3]apd.Decimal{} // balance, debits, credits
	normals := map[string]accounts.Side{}
	chart, err := accounts.LoadChart(ctx, tx)
	if err != nil {
		return err
	}
	for _, c := range chart.Codes() {
		normals[c.Code] = c.Normal
	}
	for {
		es, err := queryEntries(ctx, tx, `SELECT `+entryColumns+` FROM entries WHERE seq > $1 ORDER BY seq LIMIT $2`, lastSeq, page)
		if err != nil {
			return err
		}
		for _, e := range es {
			rep.EntriesChecked++
			if e.Seq != lastSeq+1 {
				rep.add(Problem{Kind: ProblemSeqGap, Seq: e.Seq, Detail: fmt.Sprintf("seq %d follows seq %d", e.Seq, lastSeq)})
			}
			if !bytes.Equal(e.PrevHash, prev) {
				rep.add(Problem{Kind: ProblemHash, Seq: e.Seq, Detail: "prev_hash does not match the hash of the previous entry"})
			}
			if h := ComputeHash(e.PrevHash, e); !bytes.Equal(h, e.Hash) {
				rep.add(Problem{Kind: ProblemHash, Seq: e.Seq, Detail: "stored hash does not match the entry's contents"})
			}
			for _, p := range e.Postings {
				r := running[p.Account]
				if r == nil {
					r = &[3]apd.Decimal{}
					running[p.Account] = r
				}
				if !p.Pending {
					if p.Side == normals[p.Account.Code] {
						_ = add(&r[0], &r[0], &p.Amount)
					} else {
						_ = sub(&r[0], &r[0], &p.Amount)
					}
					if p.Side == accounts.Debit {
						_ = add(&r[1], &r[1], &p.Amount)
					} else {
						_ = add(&r[2], &r[2], &p.Amount)
					}
				}
				if r[0].Cmp(&p.BalanceAfter) != 0 || r[1].Cmp(&p.DebitsAfter) != 0 || r[2].Cmp(&p.CreditsAfter) != 0 {
					rep.add(Problem{Kind: ProblemBalance, Seq: e.Seq, Account: p.Account.String(),
						Detail: fmt.Sprintf("posting %d records balance %s, the postings before it sum to %s", p.Index, Format(&p.BalanceAfter), Format(&r[0]))})
				}
			}
			prev, lastSeq = e.Hash, e.Seq
		}
		if len(es) < page {
			break
		}
	}
	var headSeq int64
	var headHash []byte
	if err := tx.QueryRow(ctx, `SELECT seq, hash FROM journal_head WHERE id = 1`).Scan(&headSeq, &headHash); err != nil {
		return err
	}
	if headSeq != lastSeq {
		rep.add(Problem{Kind: ProblemSeqGap, Seq: lastSeq + 1, Detail: fmt.Sprintf("the journal head is at seq %d but the last entry is seq %d", headSeq, lastSeq)})
	} else if !bytes.Equal(headHash, prev) {
		rep.add(Problem{Kind: ProblemHash, Seq: headSeq, Detail: "the journal head's hash does not match the last entry"})
	}
	return nil
}

// verifyBalances recomputes every balance row from the postings in SQL and
// compares all five figures.
func verifyBalances(ctx context.Context, tx pgx.Tx, rep *Report) error {
	rows, err := tx.Query(ctx, `
		WITH open_pending AS (
			SELECT e.seq FROM entries e WHERE e.phase = 'pending'
			AND NOT EXISTS (SELECT 1 FROM entries c WHERE c.completes = e.id)
		), sums AS (
			SELECT p.account,
				sum(CASE WHEN NOT p.pending AND p.side = 'debit' THEN p.amount ELSE 0 END) AS debits,
				sum(CASE WHEN NOT p.pending AND p.side = 'credit' THEN p.amount ELSE 0 END) AS credits,
				sum(CASE WHEN p.pending AND p.side = 'debit' AND p.seq IN (SELECT seq FROM open_pending) THEN p.amount ELSE 0 END) AS pdebits,
				sum(CASE WHEN p.pending AND p.side = 'credit' AND p.seq IN (SELECT seq FROM open_pending) THEN p.amount ELSE 0 END) AS pcredits
			FROM postings p GROUP BY p.account
		)
		SELECT coalesce(b.account, s.account), c.normal_side,
			coalesce(b.debits, 0) = coalesce(s.debits, 0) AND coalesce(b.credits, 0) = coalesce(s.credits, 0)
			AND coalesce(b.pending_debits, 0) = coalesce(s.pdebits, 0) AND coalesce(b.pending_credits, 0) = coalesce(s.pcredits, 0)
			AND coalesce(b.balance, 0) = CASE WHEN c.normal_side = 'debit' THEN coalesce(s.debits, 0) - coalesce(s.credits, 0)
				ELSE coalesce(s.credits, 0) - coalesce(s.debits, 0) END,
			coalesce(b.balance, 0)::text, coalesce(s.debits, 0)::text, coalesce(s.credits, 0)::text
		FROM balances b FULL OUTER JOIN sums s ON s.account = b.account
		LEFT JOIN account_codes c ON c.code = split_part(coalesce(b.account, s.account), ':', 1)
		ORDER BY 1`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var account string
		var normal *string
		var ok bool
		var bal, d, c string
		if err := rows.Scan(&account, &normal, &ok, &bal, &d, &c); err != nil {
			return err
		}
		rep.AccountsChecked++
		if !ok || normal == nil {
			rep.add(Problem{Kind: ProblemBalance, Account: account,
				Detail: fmt.Sprintf("stored balance %s does not match its postings (debits %s, credits %s)", trimZeros(bal), trimZeros(d), trimZeros(c))})
		}
	}
	return rows.Err()
}

func trimZeros(s string) string {
	d, err := ParseStored(s)
	if err != nil {
		return s
	}
	return Format(&d)
}
