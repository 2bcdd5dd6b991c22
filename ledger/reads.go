package ledger

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cockroachdb/apd/v3"
	"github.com/folioledger/folio"
	"github.com/folioledger/folio/accounts"
	"github.com/jackc/pgx/v5"
)

// EntryLinks are the entries related to one entry.
type EntryLinks struct {
	Children    []string // entries whose parent is this one
	ReversedBy  string   // the reversal of this entry, if any
	CompletedBy string   // the post or void of this pending entry, if any
}

// GetEntry returns an entry with its postings and links, or not_found.
func (l *Ledger) GetEntry(ctx context.Context, id string) (*Entry, *EntryLinks, error) {
	if !ValidUUID(id) {
		return nil, nil, folio.Errorf(folio.ENOTFOUND, "entry %q not found", truncate(id))
	}
	es, err := loadEntriesBy(ctx, l.DB.Pool, "id = ANY($1::uuid[])", []string{id})
	if err != nil {
		return nil, nil, err
	}
	if len(es) == 0 {
		return nil, nil, folio.Errorf(folio.ENOTFOUND, "entry %s not found", id)
	}
	links := &EntryLinks{}
	rows, err := l.DB.Pool.Query(ctx, `SELECT id::text, coalesce(parent_id::text, ''), coalesce(reverses::text, ''), coalesce(completes::text, '')
		FROM entries WHERE parent_id = $1::uuid OR reverses = $1::uuid OR completes = $1::uuid ORDER BY seq`, id)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var cid, parent, rev, comp string
		if err := rows.Scan(&cid, &parent, &rev, &comp); err != nil {
			return nil, nil, err
		}
		switch id {
		case parent:
			links.Children = append(links.Children, cid)
		case rev:
			links.ReversedBy = cid
		case comp:
			links.CompletedBy = cid
		}
	}
	return es[0], links, rows.Err()
}

// EntryFilter selects entries for ListEntries. Times bound recorded_at
// (From inclusive, To exclusive). AfterSeq is the pagination cursor (and a
// seq range's start); ToSeq, when positive, is the last seq listed.
type EntryFilter struct {
	Account  string
	Kind     string
	BatchID  string
	From, To time.Time
	AfterSeq int64
	ToSeq    int64
	Limit    int
}

// ListEntries returns entries in seq order after the cursor, with postings.
func (l *Ledger) ListEntries(ctx context.Context, f EntryFilter) ([]*Entry, error) {
	if f.Limit <= 0 {
		f.Limit = 100
	}
	from, to := f.From, f.To
	if from.IsZero() {
		from = time.Unix(0, 0)
	}
	if to.IsZero() {
		to = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	sql := `SELECT ` + entryColumns + ` FROM entries WHERE seq > $1 AND ($2 = '' OR kind = $2) AND ($3 = '' OR batch_id = $3)
		AND recorded_at >= $4 AND recorded_at < $5 AND ($7::bigint <= 0 OR seq <= $7)`
	args := []any{f.AfterSeq, f.Kind, f.BatchID, from, to, f.Limit, f.ToSeq}
	if f.Account != "" {
		sql += ` AND seq IN (SELECT p.seq FROM postings p WHERE p.account = $8 AND p.seq > $1)`
		args = append(args, f.Account)
	}
	sql += ` ORDER BY seq LIMIT $6`
	return queryEntries(ctx, l.DB.Pool, sql, args...)
}

// AsOf selects a point in time for balances: at most one field is set; the
// zero AsOf means now. Seq and Recorded select by commit order; Effective
// by business time (entries back-dated before it count).
type AsOf struct {
	Seq       int64
	Recorded  time.Time
	Effective time.Time
}

// GetBalance returns the balance of a valid account key (zero if it was
// never posted to). Pending amounts are reported for the current balance
// only.
func (l *Ledger) GetBalance(ctx context.Context, account string, at AsOf) (*Balance, error) {
	var out *Balance
	err := l.DB.ReadTx(ctx, func(tx pgx.Tx) error {
		chart, err := accounts.LoadChart(ctx, tx)
		if err != nil {
			return err
		}
		k, code, _, err := chart.ParseAndResolve(account)
		if err != nil {
			return err
		}
		out, err = balanceAt(ctx, tx, k, code.Normal, at)
		return err
	})
	return out, err
}

func balanceAt(ctx context.Context, tx pgx.Tx, k accounts.Key, normal accounts.Side, at AsOf) (*Balance, error) {
	b := &Balance{Account: k, Normal: normal}
	var d, c, pd, pc, bal string
	scan := func(row pgx.Row, pending bool) error {
		var err error
		if pending {
			err = row.Scan(&d, &c, &pd, &pc, &bal, &b.Seq)
		} else {
			err = row.Scan(&d, &c, &bal, &b.Seq)
		}
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		for _, x := range []struct {
			dst *apd.Decimal
			s   string
		}{{&b.Debits, d}, {&b.Credits, c}, {&b.Balance, bal}, {&b.PendingDebits, pd}, {&b.PendingCredits, pc}} {
			if x.s == "" {
				continue
			}
			if _, _, err := x.dst.SetString(x.s); err != nil {
				return err
			}
		}
		return nil
	}
	switch {
	case !at.Effective.IsZero():
		if err := scan(tx.QueryRow(ctx, `SELECT debits::text, credits::text, balance::text, last_seq FROM balances WHERE account = $1`, k.String()), false); err != nil {
			return nil, err
		}
		// Subtract what was posted with a later effective time.
		rows, err := tx.Query(ctx, `SELECT side, amount::text FROM postings WHERE account = $1 AND effective_at > $2 AND NOT pending`, k.String(), at.Effective)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		for rows.Next() {
			var side, amt string
			if err := rows.Scan(&side, &amt); err != nil {
				return nil, err
			}
			a, err := ParseStored(amt)
			if err != nil {
				return nil, err
			}
			if accounts.Side(side) == accounts.Debit {
				err = sub(&b.Debits, &b.Debits, &a)
			} else {
				err = sub(&b.Credits, &b.Credits, &a)
			}
			if err == nil && accounts.Side(side) == normal {
				err = sub(&b.Balance, &b.Balance, &a)
			} else if err == nil {
				err = add(&b.Balance, &b.Balance, &a)
			}
			if err != nil {
				return nil, err
			}
		}
		return b, rows.Err()
	case !at.Recorded.IsZero() || at.Seq > 0:
		seq := at.Seq
		if !at.Recorded.IsZero() {
			var err error
			if seq, err = seqAtTime(ctx, tx, at.Recorded); err != nil {
				return nil, err
			}
		}
		err := scan(tx.QueryRow(ctx, `SELECT debits_after::text, credits_after::text, balance_after::text, seq FROM postings
			WHERE account = $1 AND seq <= $2 ORDER BY seq DESC, idx DESC LIMIT 1`, k.String(), seq), false)
		return b, err
	default:
		err := scan(tx.QueryRow(ctx, `SELECT debits::text, credits::text, pending_debits::text, pending_credits::text, balance::text, last_seq
			FROM balances WHERE account = $1`, k.String()), true)
		return b, err
	}
}

// seqAtTime returns the last seq recorded at or before t (0 if none).
func seqAtTime(ctx context.Context, q pgx.Tx, t time.Time) (int64, error) {
	var seq int64
	err := q.QueryRow(ctx, `SELECT seq FROM entries WHERE recorded_at <= $1 ORDER BY recorded_at DESC, seq DESC LIMIT 1`, t).Scan(&seq)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	return seq, err
}

// TrialBalanceLine is one account of a trial balance.
type TrialBalanceLine struct {
	Account accounts.Key
	Normal  accounts.Side
	Debits  apd.Decimal
	Credits apd.Decimal
	Balance apd.Decimal
}

// TrialBalanceCurrency groups the accounts of one currency with totals.
type TrialBalanceCurrency struct {
	Currency     string
	Lines        []TrialBalanceLine
	TotalDebits  apd.Decimal
	TotalCredits apd.Decimal
	Balanced     bool
}

// TrialBalance is every account's totals as of a point, grouped by currency.
type TrialBalance struct {
	Seq        int64
	Currencies []TrialBalanceCurrency
}

// TrialBalance computes the trial balance as of a seq or recorded time (the
// zero AsOf: now), optionally for one currency. As of a past point it reads
// each account's last posting at or before it: one indexed read per
// account, independent of the journal's length.
func (l *Ledger) TrialBalance(ctx context.Context, at AsOf, currency string) (*TrialBalance, error) {
	if !at.Effective.IsZero() {
		return nil, folio.Errorf(folio.EINVALID, "trial balance is by seq or recorded time; as_of_effective is not supported here")
	}
	tb := &TrialBalance{}
	err := l.DB.ReadTx(ctx, func(tx pgx.Tx) error {
		tb.Currencies = nil
		chart, err := accounts.LoadChart(ctx, tx)
		if err != nil {
			return err
		}
		var head int64
		if err := tx.QueryRow(ctx, `SELECT seq FROM journal_head WHERE id = 1`).Scan(&head); err != nil {
			return err
		}
		seq := at.Seq
		if !at.Recorded.IsZero() {
			if seq, err = seqAtTime(ctx, tx, at.Recorded); err != nil {
				return err
			}
		}
		if seq <= 0 || seq > head {
			seq = head
		}
		tb.Seq = seq
		rows, err := tx.Query(ctx, `SELECT b.account, p.debits_after::text, p.credits_after::text, p.balance_after::text
			FROM balances b CROSS JOIN LATERAL (
				SELECT debits_after, credits_after, balance_after FROM postings
				WHERE account = b.account AND seq <= $1 ORDER BY seq DESC, idx DESC LIMIT 1) p
			WHERE ($2 = '' OR b.currency = $2)
			ORDER BY b.currency, b.account`, seq, currency)
		if err != nil {
			return err
		}
		defer rows.Close()
		var cur *TrialBalanceCurrency
		for rows.Next() {
			var name, d, c, bal string
			if err := rows.Scan(&name, &d, &c, &bal); err != nil {
				return err
			}
			k, err := accounts.ParseKey(name)
			if err != nil {
				return err
			}
			code, _ := chart.Code(k.Code)
			line := TrialBalanceLine{Account: k, Normal: code.Normal}
			if line.Debits, err = ParseStored(d); err != nil {
				return err
			}
			if line.Credits, err = ParseStored(c); err != nil {
				return err
			}
			if line.Balance, err = ParseStored(bal); err != nil {
				return err
			}
			if cur == nil || cur.Currency != k.Currency {
				tb.Currencies = append(tb.Currencies, TrialBalanceCurrency{Currency: k.Currency})
				cur = &tb.Currencies[len(tb.Currencies)-1]
			}
			if err := add(&cur.TotalDebits, &cur.TotalDebits, &line.Debits); err != nil {
				return err
			}
			if err := add(&cur.TotalCredits, &cur.TotalCredits, &line.Credits); err != nil {
				return err
			}
			cur.Lines = append(cur.Lines, line)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		for i := range tb.Currencies {
			c := &tb.Currencies[i]
			c.Balanced = c.TotalDebits.Cmp(&c.TotalCredits) == 0
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return tb, nil
}

// StatementLine is one posting of a statement.
type StatementLine struct {
	Seq             int64
	EntryID         string
	EffectiveAt     time.Time
	RecordedAt      time.Time
	Kind            string
	Description     string
	CounterAccounts []string
	Side            accounts.Side
	Amount          apd.Decimal
	Running         apd.Decimal
}

// Statement is an account's postings for a period of effective time.
type Statement struct {
	Account  accounts.Key
	Currency string
	From, To time.Time
	Opening  apd.Decimal
	Closing  apd.Decimal
	Lines    []StatementLine
}

// MaxStatementLines bounds one statement; narrow the period for more.
const MaxStatementLines = 100000

// Statement returns the posted postings of an account with effective time
// in [from, to), in (effective time, seq) order, with the opening balance
// (as of effective time from), a running balance and the closing balance.
func (l *Ledger) Statement(ctx context.Context, account string, from, to time.Time) (*Statement, error) {
	if !from.Before(to) {
		return nil, folio.Errorf(folio.EINVALID, "statement period: from must be before to")
	}
	var st *Statement
	err := l.DB.ReadTx(ctx, func(tx pgx.Tx) error {
		chart, err := accounts.LoadChart(ctx, tx)
		if err != nil {
			return err
		}
		k, code, _, err := chart.ParseAndResolve(account)
		if err != nil {
			return err
		}
		open, err := balanceAt(ctx, tx, k, code.Normal, AsOf{Effective: from.Add(-time.Microsecond)})
		if err != nil {
			return err
		}
		st = &Statement{Account: k, Currency: k.Currency, From: from, To: to, Opening: open.Balance}
		rows, err := tx.Query(ctx, `SELECT p.seq, p.entry_id::text, p.effective_at, p.recorded_at, e.kind, e.description, p.side, p.amount::text,
				coalesce((SELECT string_agg(DISTINCT o.account, ' ') FROM postings o WHERE o.seq = p.seq AND o.side <> p.side), '')
			FROM postings p JOIN entries e ON e.seq = p.seq
			WHERE p.account = $1 AND p.effective_at >= $2 AND p.effective_at < $3 AND NOT p.pending
			ORDER BY p.effective_at, p.seq, p.idx LIMIT $4`, k.String(), from, to, MaxStatementLines+1)
		if err != nil {
			return err
		}
		defer rows.Close()
		running := clone(&st.Opening)
		for rows.Next() {
			var ln StatementLine
			var side, amt, counter string
			if err := rows.Scan(&ln.Seq, &ln.EntryID, &ln.EffectiveAt, &ln.RecordedAt, &ln.Kind, &ln.Description, &side, &amt, &counter); err != nil {
				return err
			}
			ln.EffectiveAt, ln.RecordedAt, ln.Side = ln.EffectiveAt.UTC(), ln.RecordedAt.UTC(), accounts.Side(side)
			if ln.Amount, err = ParseStored(amt); err != nil {
				return err
			}
			if counter != "" {
				ln.CounterAccounts = splitSpaces(counter)
			}
			if ln.Side == code.Normal {
				err = add(&running, &running, &ln.Amount)
			} else {
				err = sub(&running, &running, &ln.Amount)
			}
			if err != nil {
				return err
			}
			ln.Running = clone(&running)
			st.Lines = append(st.Lines, ln)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		if len(st.Lines) > MaxStatementLines {
			return folio.Errorf(folio.EINVALID, "the statement has more than %d postings; choose a shorter period", MaxStatementLines)
		}
		st.Closing = clone(&running)
		return nil
	})
	return st, err
}

func splitSpaces(s string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == ' ' {
			if i > start {
				out = append(out, s[start:i])
			}
			start = i + 1
		}
	}
	return out
}

// ExpirePending voids every pending entry whose expiry has passed, in
// batches, and returns how many it voided.
func (l *Ledger) ExpirePending(ctx context.Context) (int, error) {
	total := 0
	for {
		rows, err := l.DB.Pool.Query(ctx, `SELECT e.id::text FROM entries e
			WHERE e.phase = 'pending' AND e.expires_at IS NOT NULL AND e.expires_at <= $1
			AND NOT EXISTS (SELECT 1 FROM entries c WHERE c.completes = e.id) ORDER BY e.expires_at LIMIT 500`, l.now())
		if err != nil {
			return total, err
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return total, err
		}
		if len(ids) == 0 {
			return total, nil
		}
		ops := make([]Op, len(ids))
		for i, id := range ids {
			ops[i] = Op{Void: &VoidOp{EntryID: id, IdempotencyKey: "expire:" + id}}
		}
		results, err := l.Apply(ctx, ops, Options{sweep: true})
		if err != nil {
			return total, err
		}
		n, settled := 0, 0
		for _, r := range results {
			switch {
			case r.Err == nil && !r.Replayed:
				n++
				settled++
			case r.Err == nil, folio.ErrorCode(r.Err) == folio.ECONFLICT:
				settled++ // completed meanwhile by someone else (another sweeper, a post or void)
			}
		}
		total += n
		if settled == 0 {
			return total, fmt.Errorf("expire pending: no progress on %d expired entries: %v", len(ids), results[0].Err)
		}
	}
}
