package ledger

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/cockroachdb/apd/v3"
	"github.com/folioledger/folio"
	"github.com/folioledger/folio/accounts"
	"github.com/folioledger/folio/schema"
	"github.com/jackc/pgx/v5"
)

// Business time and recorded time. Every entry has an effective time
// (business time: when it happened — a trade's executed_at, possibly long
// before it was booked) and a recorded time (when it was committed, in seq
// order). Reports that bound a period or a point take a Basis:
//
//   - effective (DefaultBasis): the entries effective in the period. A
//     March trade booked in April is in March's reconciliation, statement
//     and trial balance. Opening and closing balances are by effective time
//     too (current balance less postings effective later: two indexed reads
//     per account, see effective.go), so the roll-forward
//     holds within the basis. Such a report can change when back-dated
//     entries arrive — that is its point.
//   - recorded: the journal as it stood — entries recorded in the period, a
//     seq range. It never changes once the period is past, which is what an
//     auditor comparing two runs wants.
//
// Entries are effective at most 24 hours after they are recorded
// (CheckTime), so an effective period's reads start at the seq recorded
// 48 hours before it (EffectivePeriod.Floor) instead of scanning the whole
// journal; a period far in the past still reads every entry recorded since.
//
// These functions are the journal's reads by effective time for
// reconciliation (package reconcile), statements by recorded time and the
// trial balance by effective time; the reads by seq stay in reads.go and
// reads_owned.go.

// Basis is how a report bounds its period or point.
type Basis string

const (
	// BasisEffective bounds by the entries' effective time (business
	// time: a trade's executed_at): what finance closes a month by.
	BasisEffective Basis = "effective"
	// BasisRecorded bounds by the time entries were recorded: the journal
	// as it stood at a moment, which later back-dated entries never change.
	BasisRecorded Basis = "recorded"
)

// DefaultBasis is the basis of reports that do not name one: effective,
// because commissions and fees belong to the period of the trade — a day
// of trades replayed after an outage or back-filled history must land in
// the month it happened, not the month it was booked.
const DefaultBasis = BasisEffective

// ParseBasis parses a basis parameter; "" is DefaultBasis.
func ParseBasis(s string) (Basis, error) {
	switch Basis(s) {
	case "":
		return DefaultBasis, nil
	case BasisEffective, BasisRecorded:
		return Basis(s), nil
	}
	return "", &folio.Error{Code: folio.EINVALID, Fields: []string{"basis"}, Message: "basis must be effective or recorded"}
}

// maxEffectiveLead bounds how far after its recording an entry can be
// effective: CheckTime refuses effective times more than 24 hours ahead;
// twice that leaves room for clock differences.
const maxEffectiveLead = 2 * maxFutureEffective

// EffectivePeriod is the set of entries whose effective time is in
// [From, To). Floor is a seq at or below which no entry can be in it (they
// were recorded more than maxEffectiveLead before From), so its reads scan
// the journal from Floor on rather than all of it.
//
// Late, when set, is the cut at which the previous accounting period was
// closed (package periods): the period then also holds the entries
// effective before From but recorded after Late — post-close adjustments
// of closed periods, booked in the first open one — and its opening
// balances count only the entries effective before From up to Late (the
// closed period's closing balances). Without Late the period is the
// entries effective in [From, To).
type EffectivePeriod struct {
	From, To time.Time
	Floor    Cut // per shard
	Late     Cut // per shard; nil: none
}

// member is the SQL condition "entry alias e belongs to the period", with
// the placeholders of From, To and Late (a bigint[], NULL when unset).
func member(e, from, to, late string) string {
	return `(` + e + `.effective_at < ` + to + ` AND (` + e + `.effective_at >= ` + from + ` OR (` + late + `::bigint[] IS NOT NULL AND ` +
		e + `.seq > coalesce((` + late + `::bigint[])[` + e + `.shard + 1], 0))))`
}

// late is p.Late as a query argument (nil when unset).
func (p EffectivePeriod) late() any {
	if p.Late == nil {
		return nil
	}
	return []int64(p.Late)
}

// MemberSQL is the condition of [EffectivePeriod] membership for a
// package that joins the journal with its own table (reconcile's accruals
// check): entry alias e, placeholders of From, To and Late.
func MemberSQL(e, from, to, late string) string { return member(e, from, to, late) }

// Args returns From, To and Late as query arguments, in that order.
func (p EffectivePeriod) Args() []any { return []any{p.From, p.To, p.late()} }

// NewEffectivePeriod returns the period [from, to) of effective time, its
// floor read in q's snapshot.
func NewEffectivePeriod(ctx context.Context, q schema.Querier, from, to time.Time) (EffectivePeriod, error) {
	floor, err := CutBefore(ctx, q, from.Add(-maxEffectiveLead))
	return EffectivePeriod{From: from.UTC(), To: to.UTC(), Floor: floor}, err
}

// Flows is [Flows] over the period's entries.
func (p EffectivePeriod) Flows(ctx context.Context, q schema.Querier, codes []string) ([]Flow, error) {
	rows, err := q.Query(ctx, `SELECT p.currency, CASE WHEN e.kind = 'post_pending' THEN coalesce(t.kind, e.kind) ELSE e.kind END,
			split_part(p.account, ':', 1), p.side, sum(p.amount)::text
		FROM lines p JOIN entries e ON e.seq = p.seq AND e.shard = p.shard LEFT JOIN entries t ON t.id = e.completes
		WHERE p.seq > coalesce(($1::bigint[])[p.shard + 1], 0) AND `+member("e", "$2", "$3", "$5")+` AND NOT p.pending AND split_part(p.account, ':', 1) = ANY($4)
		GROUP BY 1, 2, 3, 4`, []int64(p.Floor), p.From, p.To, codes, p.late())
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Flow
	for rows.Next() {
		var f Flow
		var sum string
		if err := rows.Scan(&f.Currency, &f.Kind, &f.Code, &f.Side, &sum); err != nil {
			return nil, err
		}
		if f.Amount, err = ParseStored(sum); err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, rows.Err()
}

// CodeBalances sums, per currency, the posted balances of every account
// of code by effective time: at the start of the period (postings
// effective before From) or at its end (before To). They are read from the
// stored balance chain and corrected by the postings after Floor: at the
// start, the chain at Floor (every entry up to Floor is effective before
// From) plus the postings after Floor effective before From; at the end,
// the chain's last balance less the postings after Floor effective at or
// after To. A roll-forward over the period therefore checks the stored
// chain after Floor against the postings, as it does by recorded time; a
// tampered balance_after shows. Each account costs indexed reads on
// postings (account, seq).
func (p EffectivePeriod) CodeBalances(ctx context.Context, q schema.Querier, code string, end bool) (map[string]apd.Decimal, error) {
	chart, err := accounts.LoadChart(ctx, q)
	if err != nil {
		return nil, err
	}
	c, ok := chart.Code(code)
	if !ok {
		return map[string]apd.Decimal{}, nil
	}
	chain, cond, t, sign := p.Floor, `q.effective_at < $4 AND ($5::bigint[] IS NULL OR q.seq <= coalesce(($5::bigint[])[b.shard + 1], 0))`, p.From, "+"
	if end {
		chain = make(Cut, MaxShards)
		for i := range chain {
			chain[i] = math.MaxInt64
		}
		cond, t, sign = `q.effective_at >= $4 AND $5::bigint[] IS NULL`, p.To, "-"
	}
	late := p.late()
	if end {
		late = nil // the end counts every entry effective before To
	}
	out, err := CodeBalancesAt(ctx, q, code, chain)
	if err != nil {
		return nil, err
	}
	rows, err := q.Query(ctx, `SELECT b.currency, coalesce(sum(l.s), 0)::text FROM balances b
		CROSS JOIN LATERAL (SELECT sum(CASE WHEN side = $2 THEN amount ELSE -amount END) AS s FROM (
			`+linesBetween("q.side, q.amount", "coalesce(($3::bigint[])[b.shard + 1], 0)", "9223372036854775807", "NOT q.pending AND "+cond, codeSet(code))+`) q) l
		WHERE b.code = $1 GROUP BY b.currency`, code, string(c.Normal), []int64(p.Floor), t, late)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var cur, sum string
		if err := rows.Scan(&cur, &sum); err != nil {
			return nil, err
		}
		d, err := ParseStored(sum)
		if err != nil {
			return nil, err
		}
		if d.IsZero() {
			if _, ok := out[cur]; !ok {
				continue
			}
		}
		v := out[cur]
		if sign == "+" {
			err = add(&v, &v, &d)
		} else {
			err = sub(&v, &v, &d)
		}
		if err != nil {
			return nil, err
		}
		out[cur] = v
	}
	return out, rows.Err()
}

// AccountEntryIDsBefore is [AccountEntryIDs] by effective time: entries
// with a posting to account effective before t.
func AccountEntryIDsBefore(ctx context.Context, q schema.Querier, account string, t time.Time, limit int) ([]string, error) {
	after, upto, err := effectiveWindow(ctx, q, time.Time{}, t)
	if err != nil {
		return nil, err
	}
	return collectIDs(ctx, q, `SELECT DISTINCT p.entry_id::text FROM balances b CROSS JOIN LATERAL (
			`+rowPostingsByEffective("q.entry_id", "q.effective_at < $2", "$4", "$5", accountSet(account))+`) p
		WHERE b.account = $1 ORDER BY 1 DESC LIMIT $3`,
		account, t, limit, []int64(after), []int64(upto))
}

// CodeEntryIDsExcept is [CodeEntryIDsExcept] over the period's entries.
func (p EffectivePeriod) CodeEntryIDsExcept(ctx context.Context, q schema.Querier, code, currency string, kinds []string, limit int) ([]string, error) {
	return collectIDs(ctx, q, `SELECT DISTINCT p.entry_id::text FROM lines p JOIN entries e ON e.seq = p.seq AND e.shard = p.shard
		WHERE p.currency = $1 AND split_part(p.account, ':', 1) = $2 AND p.seq > coalesce(($3::bigint[])[p.shard + 1], 0) AND `+member("e", "$4", "$5", "$8")+`
		AND e.kind <> ALL($6) ORDER BY 1 LIMIT $7`, currency, code, []int64(p.Floor), p.From, p.To, kinds, limit, p.late())
}

// ParentsWithoutOneChild is [ParentsWithoutOneChild] for the parents in
// the period (their children counted wherever they are).
func (p EffectivePeriod) ParentsWithoutOneChild(ctx context.Context, q schema.Querier, parent, child string, limit int) ([]string, error) {
	return collectIDs(ctx, q, `SELECT fee::text FROM (
			SELECT coalesce(parent_id, id) AS fee,
				min(seq) FILTER (WHERE kind = $1) AS seq,
				min(shard) FILTER (WHERE kind = $1) AS shard,
				min(effective_at) FILTER (WHERE kind = $1) AS effective_at,
				count(*) FILTER (WHERE kind = $2) AS n
			FROM entries WHERE kind IN ($1, $2) AND seq > coalesce(($3::bigint[])[shard + 1], 0)
			GROUP BY 1) g
		WHERE `+member("g", "$4", "$5", "$7")+` AND n <> 1 ORDER BY g.seq LIMIT $6`,
		parent, child, []int64(p.Floor), p.From, p.To, limit, p.late())
}

// BatchTotals is [BatchTotals] over the period's entries.
func (p EffectivePeriod) BatchTotals(ctx context.Context, q schema.Querier, kind string) ([]BatchTotal, error) {
	rows, err := q.Query(ctx, `SELECT e.batch_id, p.currency, sum(p.amount)::text FROM entries e CROSS JOIN LATERAL `+LinesAtSQL("e")+` p
		WHERE e.kind = $4 AND e.seq > coalesce(($1::bigint[])[e.shard + 1], 0) AND `+member("e", "$2", "$3", "$5")+` AND p.side = 'debit' AND e.batch_id <> ''
		GROUP BY 1, 2 ORDER BY 1, 2`, planEachTime, []int64(p.Floor), p.From, p.To, kind, p.late())
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []BatchTotal
	for rows.Next() {
		var b BatchTotal
		var sum string
		if err := rows.Scan(&b.BatchID, &b.Currency, &sum); err != nil {
			return nil, err
		}
		if b.Amount, err = ParseStored(sum); err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, rows.Err()
}

// EntryIDsWithoutBatch is [EntryIDsWithoutBatch] over the period's
// entries.
func (p EffectivePeriod) EntryIDsWithoutBatch(ctx context.Context, q schema.Querier, kinds []string, limit int) ([]string, error) {
	return collectIDs(ctx, q, `SELECT e.id::text FROM entries e WHERE e.kind = ANY($1) AND e.seq > coalesce(($2::bigint[])[e.shard + 1], 0) AND `+member("e", "$3", "$4", "$6")+`
		AND coalesce(e.batch_id, '') = '' ORDER BY e.seq, e.shard LIMIT $5`, planEachTime, kinds, []int64(p.Floor), p.From, p.To, limit, p.late())
}

// StatementRecorded is [Ledger.Statement] by recorded time: the posted
// postings of an account recorded in [from, to), in recording order
// (recorded time, then position), with
// the opening balance as the journal stood at from (the account's last
// posting recorded before it) and a running balance.
func (l *Ledger) StatementRecorded(ctx context.Context, account string, from, to time.Time) (*Statement, error) {
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
		fromCut, err := CutBefore(ctx, tx, from)
		if err != nil {
			return err
		}
		toCut, err := CutBefore(ctx, tx, to)
		if err != nil {
			return err
		}
		st = &Statement{Account: k, Currency: k.Currency, From: from, To: to}
		// The opening balance: each of the account's balance rows (one per
		// shard) as of its shard's seq in the cut, summed.
		var open *string
		err = tx.QueryRow(ctx, `SELECT sum(p.balance_after)::text FROM balances b CROSS JOIN LATERAL (
				`+lineAsOf("q.balance_after", "coalesce(($2::bigint[])[b.shard + 1], 0)", accountSet(k.String()))+`) p
			WHERE b.account = $1`, k.String(), []int64(fromCut)).Scan(&open)
		if err != nil {
			return err
		}
		if open != nil {
			if st.Opening, err = ParseStored(*open); err != nil {
				return err
			}
		}
		rows, err := tx.Query(ctx, `SELECT p.seq, p.entry_id::text, p.effective_at, p.recorded_at, e.kind, `+descriptionSQL("e")+`, p.side, p.amount::text,
				coalesce((SELECT string_agg(DISTINCT o.account, ' ') FROM lines o WHERE o.seq = p.seq AND o.shard = p.shard AND o.side <> p.side), '')
			FROM balances b CROSS JOIN LATERAL (`+linesBetween("q.seq, q.shard, q.idx, q.entry_id, q.effective_at, q.recorded_at, q.side, q.amount",
			"coalesce(($2::bigint[])[b.shard + 1], 0)", "coalesce(($3::bigint[])[b.shard + 1], 0)", "NOT q.pending", accountSet(k.String()))+`) p
			JOIN entries e ON e.seq = p.seq AND e.shard = p.shard
			WHERE b.account = $1
			ORDER BY p.recorded_at, p.seq, p.shard, p.idx LIMIT $4`, k.String(), []int64(fromCut), []int64(toCut), MaxStatementLines+1)
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

// TrialBalanceEffective is the trial balance by effective time: every
// account's posted debits, credits and balance counting the postings
// effective at or before at (the zero time: now), optionally for one
// currency. Seq is the journal head it was read at. Each account costs one
// indexed read of its postings effective after at.
func (l *Ledger) TrialBalanceEffective(ctx context.Context, at time.Time, currency string) (*TrialBalance, error) {
	tb := &TrialBalance{}
	err := l.DB.ReadTx(ctx, func(tx pgx.Tx) error {
		tb.Currencies = nil
		if at.IsZero() {
			at = l.now()
		}
		chart, err := accounts.LoadChart(ctx, tx)
		if err != nil {
			return err
		}
		heads, err := Heads(ctx, tx)
		if err != nil {
			return err
		}
		for _, h := range heads {
			tb.Seq += h.Seq
		}
		after, upto, err := effectiveWindow(ctx, tx, at, time.Time{})
		if err != nil {
			return err
		}
		// Each balance row (account, shard) less its shard's postings
		// effective after at, summed per account.
		rows, err := tx.Query(ctx, `SELECT b.account, (sum(b.debits) - coalesce(sum(l.d), 0))::text, (sum(b.credits) - coalesce(sum(l.c), 0))::text
			FROM balances_current b LEFT JOIN LATERAL (
				SELECT sum(amount) FILTER (WHERE side = 'debit') AS d, sum(amount) FILTER (WHERE side = 'credit') AS c FROM (
					`+rowPostingsByEffective("q.side, q.amount", "q.effective_at > $1 AND NOT q.pending", "$3", "$4", anyAccount)+`) x) l ON true
			WHERE ($2 = '' OR b.currency = $2)
			GROUP BY b.currency, b.account
			ORDER BY b.currency, b.account`, at, currency, []int64(after), []int64(upto))
		if err != nil {
			return err
		}
		defer rows.Close()
		var cur *TrialBalanceCurrency
		for rows.Next() {
			var name, d, c string
			if err := rows.Scan(&name, &d, &c); err != nil {
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
			if code.Normal == accounts.Debit {
				err = sub(&line.Balance, &line.Debits, &line.Credits)
			} else {
				err = sub(&line.Balance, &line.Credits, &line.Debits)
			}
			if err != nil {
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
			return fmt.Errorf("trial balance by effective time: %w", err)
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

// EntriesAfterCut returns the entries effective in [from, to) that lie
// beyond cut (seq above their shard's seq in it; a shard not in cut is all
// beyond), with their postings, in (shard, seq) order, at most limit: the
// post-close adjustments of an accounting period closed at cut (package
// periods). A zero from is no lower bound.
func EntriesAfterCut(ctx context.Context, q schema.Querier, cut Cut, from, to time.Time, limit int) ([]*Entry, error) {
	if from.IsZero() {
		from = time.Unix(0, 0).UTC().AddDate(-100, 0, 0)
	}
	return queryEntries(ctx, q, `SELECT `+entryColumns+` FROM entries WHERE seq > coalesce(($1::bigint[])[shard + 1], 0)
		AND effective_at >= $2 AND effective_at < $3 ORDER BY shard, seq LIMIT $4`, []int64(cut), from, to, limit)
}
