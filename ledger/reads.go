package ledger

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/cockroachdb/apd/v3"
	"github.com/folioledger/folio"
	"github.com/folioledger/folio/accounts"
	"github.com/folioledger/folio/schema"
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
	// Children under the trade engine's keys are not in the parent index
	// (migration 047): such a child is the entry at its parent's next
	// position (ApplyTx writes it so).
	e := es[0]
	rows, err := l.DB.Pool.Query(ctx, `SELECT id::text, coalesce(parent_id::text, ''), coalesce(reverses::text, ''), coalesce(completes::text, '')
		FROM (SELECT * FROM entries WHERE (parent_id = $1::uuid AND `+keyIndexedSQL+`) OR reverses = $1::uuid OR completes = $1::uuid
			UNION ALL
			SELECT * FROM entries WHERE seq = $2 AND shard = $3 AND parent_id = $1::uuid AND NOT (`+keyIndexedSQL+`)) AS x
		ORDER BY seq, shard`, id, e.Seq+1, e.Shard)
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
// (From inclusive, To exclusive). (AfterSeq, AfterShard) is the pagination
// cursor: the position after which entries are listed (AfterShard
// MaxShards: after every entry of seq AfterSeq). ToSeq, when positive, is
// the last seq listed (in every shard).
type EntryFilter struct {
	Account    string
	Kind       string
	BatchID    string
	From, To   time.Time
	AfterSeq   int64
	AfterShard int
	ToSeq      int64
	Limit      int
}

// ListEntries returns entries in journal position order (seq, then shard)
// after the cursor, with postings. Positions never change, so the order is
// stable; entries that a lagging shard commits later may take positions
// before a cursor already passed (the events feed keeps a cursor per shard
// for that reason: see doc.go, "Shards").
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
	lo, hi := int64(0), int64(math.MaxInt64)
	if !f.From.IsZero() || !f.To.IsZero() {
		var err error
		if lo, hi, err = seqsRecordedIn(ctx, l.DB.Pool, f.From, f.To); err != nil {
			return nil, err
		}
	}
	sql := `SELECT ` + entryColumns + ` FROM entries WHERE (seq, shard) > ($1, $8) AND ($2 = '' OR kind = $2) AND ($3 = '' OR batch_id = $3)
		AND recorded_at >= $4 AND recorded_at < $5 AND ($7::bigint <= 0 OR seq <= $7) AND seq > $9 AND seq <= $10`
	args := []any{f.AfterSeq, f.Kind, f.BatchID, from, to, f.Limit, f.ToSeq, f.AfterShard, lo, hi}
	if f.Account != "" {
		sql += ` AND (seq, shard) IN (SELECT p.seq, p.shard FROM balances b CROSS JOIN LATERAL (
			` + linesBetween("q.seq, q.shard", "$1::bigint - 1", "9223372036854775807", "true", accountSet(f.Account)) + `) p WHERE b.account = $11)`
		args = append(args, f.Account)
	}
	sql += ` ORDER BY seq, shard LIMIT $6`
	return queryEntries(ctx, l.DB.Pool, sql, args...)
}

// seqsRecordedIn bounds the seqs of the entries recorded in [from, to)
// (a zero time: unbounded), over all shards: every such entry has
// lo < seq ≤ hi. There is no index by recorded time; the bounds let a
// listing by position start and stop near the period. Entries recorded
// before from end at or before each shard's cut before from, whatever
// commits later (recorded_at never goes back along a shard). hi is finite
// only when every shard already has an entry recorded at or after to: a
// shard without one could still commit entries before to.
func seqsRecordedIn(ctx context.Context, q schema.Querier, from, to time.Time) (lo, hi int64, err error) {
	heads, err := Heads(ctx, q)
	if err != nil {
		return 0, 0, err
	}
	bound := make(Cut, len(heads))
	for i, h := range heads {
		bound[i] = h.Seq
	}
	hi = math.MaxInt64
	if !from.IsZero() && len(bound) > 0 {
		c, err := cutByRecorded(ctx, q, from.Add(-time.Microsecond), bound)
		if err != nil {
			return 0, 0, err
		}
		lo = slices.Min(c)
	}
	if to.IsZero() {
		return lo, hi, nil
	}
	c, err := cutByRecorded(ctx, q, to.Add(-time.Microsecond), bound)
	if err != nil {
		return 0, 0, err
	}
	// Each shard's cut is below its head only if the entry after the cut,
	// already committed, is recorded at or after to.
	hi = 0
	for i := range c {
		if c[i] >= bound[i] {
			return lo, math.MaxInt64, nil
		}
		hi = max(hi, c[i])
	}
	return lo, hi, nil
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
			v, err := ParseStored(x.s)
			if err != nil {
				return err
			}
			x.dst.Set(&v)
		}
		return nil
	}
	switch {
	case !at.Effective.IsZero():
		// The lines effective at or before t: those of the cut upto (every
		// line recorded up to t + LateAfter: no prompt line after it is
		// effective at or before t), less those of the cut effective after
		// t (the prompt ones recorded after t - LateAfter, the window; the
		// late ones by the late index), plus the late lines after the cut
		// effective at or before t. The window and the late lines, not
		// every line after t; for an inline account also its rows after
		// the cut, one a block (lines.go).
		after, upto, err := effectiveWindow(ctx, tx, at.Effective, at.Effective)
		if err != nil {
			return nil, err
		}
		err = scan(tx.QueryRow(ctx, `SELECT coalesce(sum(p.debits_after), 0)::text, coalesce(sum(p.credits_after), 0)::text,
				coalesce(sum(p.balance_after), 0)::text, max(b.last_seq)
			FROM balances_current b LEFT JOIN LATERAL (
				`+lineAsOf("q.debits_after, q.credits_after, q.balance_after", "($2::bigint[])[b.shard + 1]", accountSet(k.String()))+`) p ON true
			WHERE b.account = $1 HAVING count(*) > 0`, k.String(), []int64(upto)), false)
		if err != nil || b.Seq == 0 {
			return b, err
		}
		rows, err := tx.Query(ctx, `SELECT q.side, q.amount::text, false FROM balances b CROSS JOIN LATERAL (
				`+linesBetween("q.side, q.amount", "coalesce(($3::bigint[])[b.shard + 1], 0)", "($4::bigint[])[b.shard + 1]",
			"q.effective_at > $2 AND NOT q.pending AND NOT "+late("q"), accountSet(k.String()))+`) q
			WHERE b.account = $1
			UNION ALL
			SELECT q.side, q.amount::text, false FROM balances b JOIN postings q ON q.account = b.account AND q.shard = b.shard
			WHERE b.account = $1 AND q.effective_at > $2 AND NOT q.pending AND `+late("q")+` AND q.seq <= ($4::bigint[])[b.shard + 1]
			UNION ALL
			SELECT q.side, q.amount::text, true FROM balances b JOIN postings q ON q.account = b.account AND q.shard = b.shard
			WHERE b.account = $1 AND q.seq > ($4::bigint[])[b.shard + 1] AND q.effective_at <= $2 AND NOT q.pending AND `+late("q"),
			k.String(), at.Effective, []int64(after), []int64(upto))
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		for rows.Next() {
			var side, amt string
			var plus bool
			if err := rows.Scan(&side, &amt, &plus); err != nil {
				return nil, err
			}
			a, err := ParseStored(amt)
			if err != nil {
				return nil, err
			}
			if !plus {
				a.Neg(&a)
			}
			if accounts.Side(side) == accounts.Debit {
				err = add(&b.Debits, &b.Debits, &a)
			} else {
				err = add(&b.Credits, &b.Credits, &a)
			}
			if err == nil && accounts.Side(side) == normal {
				err = add(&b.Balance, &b.Balance, &a)
			} else if err == nil {
				err = sub(&b.Balance, &b.Balance, &a)
			}
			if err != nil {
				return nil, err
			}
		}
		return b, rows.Err()
	case !at.Recorded.IsZero() || at.Seq > 0:
		cut, err := cutOf(ctx, tx, at)
		if err != nil {
			return nil, err
		}
		// Each of the account's balance rows (one per shard that wrote to
		// it) as of its shard's seq in the cut, summed.
		err = scan(tx.QueryRow(ctx, `SELECT sum(p.debits_after)::text, sum(p.credits_after)::text, sum(p.balance_after)::text, max(p.seq)
			FROM balances b CROSS JOIN LATERAL (
				`+lineAsOf("q.debits_after, q.credits_after, q.balance_after, q.seq", "($2::bigint[])[b.shard + 1]", accountSet(k.String()))+`) p
			WHERE b.account = $1 HAVING count(*) > 0`, k.String(), []int64(cut)), false)
		return b, err
	default:
		err := scan(tx.QueryRow(ctx, `SELECT sum(debits)::text, sum(credits)::text, sum(pending_debits)::text, sum(pending_credits)::text, sum(balance)::text, max(last_seq)
			FROM balances_current WHERE account = $1 HAVING count(*) > 0`, k.String()), true)
		return b, err
	}
}

// Cut is a point of the journal: for each shard (by index), the last seq
// included. Reads as of a seq or a recorded time use one.
type Cut []int64

// cutOf is the cut of an AsOf: as of seq n, every shard's entries up to
// seq n (seqs are per shard, so as_of_seq is a per-shard bound); as of a
// recorded time, each shard's last entry recorded at or before it (within a
// shard recorded_at never goes backwards along seq).
func cutOf(ctx context.Context, q schema.Querier, at AsOf) (Cut, error) {
	heads, err := Heads(ctx, q)
	if err != nil {
		return nil, err
	}
	cut := make(Cut, len(heads))
	for i, h := range heads {
		cut[i] = h.Seq
		if at.Seq > 0 && at.Seq < h.Seq {
			cut[i] = at.Seq
		}
	}
	if at.Recorded.IsZero() {
		return cut, nil
	}
	return cutByRecorded(ctx, q, at.Recorded, cut)
}

// cutByRecorded is, for each shard i, the last seq ≤ bound[i] recorded at
// or before t: a binary search along each shard's seq (gapless, recorded_at
// never going back: verify checks both), one point read of
// entries_position a step, ~log2(n) reads a shard, and no index by
// recorded time to write.
func cutByRecorded(ctx context.Context, q schema.Querier, t time.Time, bound Cut) (Cut, error) {
	cut := slices.Clone(bound)
	rows, err := q.Query(ctx, sqlCutByRecorded, t, []int64(bound))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var shard int
		var seq int64
		if err := rows.Scan(&shard, &seq); err != nil {
			return nil, err
		}
		if shard < len(cut) {
			cut[shard] = seq
		}
	}
	return cut, rows.Err()
}

// sqlCutByRecorded is, for each shard s (the ordinal of $2 less one), the
// last seq ≤ $2[s] recorded at or before $1, found by bisection: lo is a
// seq known recorded at or before $1 (0: none), hi the largest seq that
// may be; the middle entry moves one of them. An entry missing in the
// middle (a gap verify would report) counts as recorded after $1.
const sqlCutByRecorded = `WITH RECURSIVE s (shard, lo, hi) AS (
		SELECT c.ord - 1, 0::BIGINT, c.head FROM unnest($2::BIGINT[]) WITH ORDINALITY AS c (head, ord)
	UNION ALL
		SELECT s.shard, CASE WHEN m.before THEN m.mid ELSE s.lo END, CASE WHEN m.before THEN s.hi ELSE m.mid - 1 END
		FROM s CROSS JOIN LATERAL (SELECT (s.lo + s.hi + 1) / 2 AS mid) d
			CROSS JOIN LATERAL (SELECT d.mid, coalesce((SELECT e.recorded_at <= $1 FROM entries e WHERE e.seq = d.mid AND e.shard = s.shard), false) AS before) m
		WHERE s.lo < s.hi
	)
	SELECT shard, lo FROM s WHERE lo >= hi ORDER BY shard`

// CutBefore returns the cut of the entries recorded strictly before t.
func CutBefore(ctx context.Context, q schema.Querier, t time.Time) (Cut, error) {
	return cutOf(ctx, q, AsOf{Recorded: t.Add(-time.Microsecond)})
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
// Cut is that point: each shard's last seq included; Seq its largest.
type TrialBalance struct {
	Seq        int64
	Cut        Cut
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
		cut, err := cutOf(ctx, tx, at)
		if err != nil {
			return err
		}
		tb.Cut, tb.Seq = cut, 0
		for _, s := range cut {
			tb.Seq = max(tb.Seq, s)
		}
		rows, err := tx.Query(ctx, `SELECT b.account, sum(p.debits_after)::text, sum(p.credits_after)::text, sum(p.balance_after)::text
			FROM balances b CROSS JOIN LATERAL (
				`+lineAsOf("q.debits_after, q.credits_after, q.balance_after", "($1::bigint[])[b.shard + 1]", anyAccount)+`) p
			WHERE ($2 = '' OR b.currency = $2)
			GROUP BY b.currency, b.account
			ORDER BY b.currency, b.account`, []int64(cut), currency)
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
		after, upto, err := effectiveWindow(ctx, tx, from, to)
		if err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT p.seq, p.entry_id::text, p.effective_at, p.recorded_at, e.kind, `+descriptionSQL("e")+`, p.side, p.amount::text,
				coalesce((SELECT string_agg(DISTINCT o.account, ' ') FROM lines o WHERE o.seq = p.seq AND o.shard = p.shard AND o.side <> p.side), '')
			FROM balances b CROSS JOIN LATERAL (`+rowPostingsByEffective("q.seq, q.shard, q.idx, q.entry_id, q.effective_at, q.recorded_at, q.side, q.amount",
			"q.effective_at >= $2 AND q.effective_at < $3 AND NOT q.pending", "$5", "$6", accountSet(k.String()))+`) p
			JOIN entries e ON e.seq = p.seq AND e.shard = p.shard
			WHERE b.account = $1
			ORDER BY p.effective_at, p.seq, p.shard, p.idx LIMIT $4`, k.String(), from, to, MaxStatementLines+1, []int64(after), []int64(upto))
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
