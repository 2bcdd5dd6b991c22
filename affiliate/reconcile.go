package affiliate

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/cockroachdb/apd/v3"
	"github.com/folioledger/folio"
	"github.com/folioledger/folio/ledger"
	"github.com/jackc/pgx/v5"
)

// CurrencyReconciliation is one currency's figures for a period (docs/CONTRACT.md §4).
type CurrencyReconciliation struct {
	Currency        string
	FeesBooked      apd.Decimal // Cr 101 by trade_fee entries
	Distributed     apd.Decimal // Cr 208 by commission entries
	PlatformRevenue apd.Decimal // Cr 605 by commission entries
	DeferredResidue apd.Decimal // balance of 101 at the end (must be 0)
	AccruedOpening  apd.Decimal // Σ 208 balances at the start
	Accrued         apd.Decimal // = Distributed
	Bounties        apd.Decimal // Cr 208 by bounty entries
	BountyExpense   apd.Decimal // Dr 420 by bounty entries
	PaidOut         apd.Decimal // Dr 208 by payouts (posted)
	Forfeited       apd.Decimal // Dr 208 by forfeit entries
	Reversed        apd.Decimal // net Cr 208 by reversals (negative: clawed back)
	Adjustments     apd.Decimal // net Cr 208 by any other entry
	AccruedClosing  apd.Decimal // Σ 208 balances at the end (ledger)
}

// Discrepancy is one failed reconciliation check.
type Discrepancy struct {
	Kind     string   `json:"kind"`
	Currency string   `json:"currency,omitempty"`
	Detail   string   `json:"detail"`
	Entries  []string `json:"entries,omitempty"`
}

// Discrepancy kinds.
const (
	DiscResidue        = "deferred_residue"
	DiscSplit          = "fee_split_mismatch"
	DiscRollForward    = "accrued_roll_forward"
	DiscCommissionLink = "trade_fee_without_one_commission"
	DiscAccruals       = "accruals_mismatch"
	DiscAdjustment     = "manual_208_adjustment"
	// DiscPayoutWithoutBatch: payout or forfeit entries that no payout
	// batch wrote (the engine always sets their batch_id), such as manual
	// entries of those kinds written before the kinds were reserved.
	DiscPayoutWithoutBatch = "payout_without_batch"
)

// Reconciliation is the report of a period.
type Reconciliation struct {
	From, To      time.Time
	FromSeq       int64
	ToSeq         int64
	Currencies    []CurrencyReconciliation
	Discrepancies []Discrepancy
	// PayoutBatches lists the payout batches executed in the period.
	PayoutBatches []PayoutSummary
}

// PayoutSummary is one executed batch's total per currency.
type PayoutSummary struct {
	BatchID  string
	Currency string
	Amount   apd.Decimal
}

// maxListed bounds the entry ids listed in one discrepancy.
const maxListed = 50

// Reconcile reports, per currency, the flows of entries recorded in
// [from, to): fees booked, their split, the 101 residue, the 208
// roll-forward (opening + accrued + bounties − paid − forfeited ± reversed ±
// adjustments = closing, checked against the ledger), bounty expense,
// payouts per batch, trade_fee entries without exactly one commission
// child, payout and forfeit entries without a batch, and accruals against
// the journal. Every failed check is a discrepancy naming the entries
// concerned: whatever the journal holds (entries of any kind, written by
// any version), the report is produced; an error means the database could
// not be read.
func (s *Service) Reconcile(ctx context.Context, from, to time.Time) (*Reconciliation, error) {
	if !from.Before(to) {
		return nil, folio.Errorf(folio.EINVALID, "from must be before to")
	}
	rep := &Reconciliation{From: from.UTC(), To: to.UTC()}
	err := s.DB.ReadTx(ctx, func(tx pgx.Tx) error {
		rep.Currencies, rep.Discrepancies, rep.PayoutBatches = nil, nil, nil
		var err error
		if rep.FromSeq, err = seqBefore(ctx, tx, from); err != nil {
			return err
		}
		if rep.ToSeq, err = seqBefore(ctx, tx, to); err != nil {
			return err
		}
		byCur := map[string]*CurrencyReconciliation{}
		get := func(c string) *CurrencyReconciliation {
			if r := byCur[c]; r != nil {
				return r
			}
			r := &CurrencyReconciliation{Currency: c}
			byCur[c] = r
			return r
		}
		rows, err := tx.Query(ctx, `SELECT p.currency, CASE WHEN e.kind = 'post_pending' THEN coalesce(t.kind, e.kind) ELSE e.kind END,
				split_part(p.account, ':', 1), p.side, sum(p.amount)::text
			FROM postings p JOIN entries e ON e.seq = p.seq LEFT JOIN entries t ON t.id = e.completes
			WHERE p.seq > $1 AND p.seq <= $2 AND NOT p.pending AND split_part(p.account, ':', 1) IN ('101', '208', '420', '605')
			GROUP BY 1, 2, 3, 4`, rep.FromSeq, rep.ToSeq)
		if err != nil {
			return err
		}
		for rows.Next() {
			var cur, kind, code, side, sum string
			if err := rows.Scan(&cur, &kind, &code, &side, &sum); err != nil {
				rows.Close()
				return err
			}
			amt, err := ledger.ParseStored(sum)
			if err != nil {
				rows.Close()
				return err
			}
			r := get(cur)
			credit := side == "credit"
			var dst *apd.Decimal
			sign := 1
			switch {
			case code == "101" && kind == EntryTradeFee && credit:
				dst = &r.FeesBooked
			case code == "605" && kind == EntryCommission && credit:
				dst = &r.PlatformRevenue
			case code == "420" && kind == EntryBounty && !credit:
				dst = &r.BountyExpense
			case code == "208" && kind == EntryCommission && credit:
				dst = &r.Distributed
			case code == "208" && kind == EntryBounty && credit:
				dst = &r.Bounties
			case code == "208" && kind == EntryPayout && !credit:
				dst = &r.PaidOut
			case code == "208" && kind == EntryForfeit && !credit:
				dst = &r.Forfeited
			case code == "208" && kind == ledger.KindReversal:
				dst = &r.Reversed
			case code == "208":
				dst = &r.Adjustments
			}
			if dst == nil {
				continue
			}
			if code == "208" && (kind == ledger.KindReversal || dst == &r.Adjustments) && !credit {
				sign = -1
			}
			if sign < 0 {
				amt.Negative = !amt.Negative
			}
			if _, err := exact.Add(dst, dst, &amt); err != nil {
				rows.Close()
				return err
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, x := range []struct {
			code string
			seq  int64
			set  func(*CurrencyReconciliation) *apd.Decimal
		}{
			{"208", rep.FromSeq, func(r *CurrencyReconciliation) *apd.Decimal { return &r.AccruedOpening }},
			{"208", rep.ToSeq, func(r *CurrencyReconciliation) *apd.Decimal { return &r.AccruedClosing }},
			{"101", rep.ToSeq, func(r *CurrencyReconciliation) *apd.Decimal { return &r.DeferredResidue }},
		} {
			sums, err := codeBalancesAt(ctx, tx, x.code, x.seq)
			if err != nil {
				return err
			}
			for cur, v := range sums {
				*x.set(get(cur)) = v
			}
		}
		for _, r := range byCur {
			r.Accrued = r.Distributed
			rep.Currencies = append(rep.Currencies, *r)
		}
		sort.Slice(rep.Currencies, func(i, j int) bool { return rep.Currencies[i].Currency < rep.Currencies[j].Currency })
		for i := range rep.Currencies {
			if err := checkCurrency(ctx, tx, rep, &rep.Currencies[i]); err != nil {
				return err
			}
		}
		if err := checkCommissionLinks(ctx, tx, rep); err != nil {
			return err
		}
		if err := checkAccruals(ctx, tx, rep); err != nil {
			return err
		}
		return payoutSummaries(ctx, tx, rep)
	})
	if err != nil {
		return nil, err
	}
	return rep, nil
}

// seqBefore is the last seq recorded before t.
func seqBefore(ctx context.Context, tx pgx.Tx, t time.Time) (int64, error) {
	var seq int64
	err := tx.QueryRow(ctx, `SELECT coalesce(max(seq), 0) FROM entries WHERE recorded_at < $1`, t).Scan(&seq)
	return seq, err
}

// codeBalancesAt sums, per currency, the balances of every account of a
// code as of seq (each account's last posting at or before it).
func codeBalancesAt(ctx context.Context, tx pgx.Tx, code string, seq int64) (map[string]apd.Decimal, error) {
	rows, err := tx.Query(ctx, `SELECT b.currency, sum(p.balance_after)::text FROM balances b CROSS JOIN LATERAL (
			SELECT balance_after FROM postings WHERE account = b.account AND seq <= $2 ORDER BY seq DESC, idx DESC LIMIT 1) p
		WHERE b.code = $1 GROUP BY b.currency`, code, seq)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]apd.Decimal{}
	for rows.Next() {
		var cur, sum string
		if err := rows.Scan(&cur, &sum); err != nil {
			return nil, err
		}
		d, err := ledger.ParseStored(sum)
		if err != nil {
			return nil, err
		}
		out[cur] = d
	}
	return out, rows.Err()
}

func checkCurrency(ctx context.Context, tx pgx.Tx, rep *Reconciliation, r *CurrencyReconciliation) error {
	c := r.Currency
	if !r.DeferredResidue.IsZero() {
		ids, err := listIDs(ctx, tx, `SELECT DISTINCT p.entry_id::text FROM postings p WHERE p.account = $1 AND p.seq <= $2 ORDER BY 1 DESC LIMIT $3`,
			"101:"+c, rep.ToSeq, maxListed)
		if err != nil {
			return err
		}
		rep.Discrepancies = append(rep.Discrepancies, Discrepancy{Kind: DiscResidue, Currency: c,
			Detail: fmt.Sprintf("account 101:%s holds %s at the end of the period; it must be 0", c, ledger.Format(&r.DeferredResidue)), Entries: ids})
	}
	var split apd.Decimal
	if _, err := exact.Add(&split, &r.Distributed, &r.PlatformRevenue); err != nil {
		return err
	}
	if split.Cmp(&r.FeesBooked) != 0 {
		rep.Discrepancies = append(rep.Discrepancies, Discrepancy{Kind: DiscSplit, Currency: c,
			Detail: fmt.Sprintf("fees booked %s ≠ distributed %s + platform revenue %s", ledger.Format(&r.FeesBooked), ledger.Format(&r.Distributed), ledger.Format(&r.PlatformRevenue))})
	}
	var expect apd.Decimal
	steps := []struct {
		d   *apd.Decimal
		neg bool
	}{{&r.AccruedOpening, false}, {&r.Accrued, false}, {&r.Bounties, false}, {&r.PaidOut, true}, {&r.Forfeited, true}, {&r.Reversed, false}, {&r.Adjustments, false}}
	for _, st := range steps {
		var err error
		if st.neg {
			_, err = exact.Sub(&expect, &expect, st.d)
		} else {
			_, err = exact.Add(&expect, &expect, st.d)
		}
		if err != nil {
			return err
		}
	}
	if expect.Cmp(&r.AccruedClosing) != 0 {
		rep.Discrepancies = append(rep.Discrepancies, Discrepancy{Kind: DiscRollForward, Currency: c,
			Detail: fmt.Sprintf("208 roll-forward gives %s but the ledger's 208 accounts total %s", ledger.Format(&expect), ledger.Format(&r.AccruedClosing))})
	}
	if !r.Adjustments.IsZero() {
		ids, err := listIDs(ctx, tx, `SELECT DISTINCT p.entry_id::text FROM postings p JOIN entries e ON e.seq = p.seq
			WHERE p.currency = $1 AND split_part(p.account, ':', 1) = '208' AND p.seq > $2 AND p.seq <= $3
			AND e.kind NOT IN ('commission', 'bounty', 'payout', 'forfeit', 'reversal', 'post_pending', 'void_pending') ORDER BY 1 LIMIT $4`,
			c, rep.FromSeq, rep.ToSeq, maxListed)
		if err != nil {
			return err
		}
		rep.Discrepancies = append(rep.Discrepancies, Discrepancy{Kind: DiscAdjustment, Currency: c,
			Detail: fmt.Sprintf("entries outside the commission flow moved 208:%s by %s", c, ledger.Format(&r.Adjustments)), Entries: ids})
	}
	return nil
}

// checkCommissionLinks finds trade_fee entries of the period without
// exactly one commission child.
func checkCommissionLinks(ctx context.Context, tx pgx.Tx, rep *Reconciliation) error {
	// One scan and one aggregate, grouping each fee entry with its
	// commission children (written after their parent, so their seq is above
	// the period start). No join: a join's plan depends on statistics, and
	// right after a large ingestion, before autovacuum analyzes the journal,
	// a nested loop over stale estimates took minutes.
	ids, err := listIDs(ctx, tx, `SELECT fee::text FROM (
			SELECT coalesce(parent_id, id) AS fee,
				min(seq) FILTER (WHERE kind = 'trade_fee') AS fee_seq,
				count(*) FILTER (WHERE kind = 'commission') AS n
			FROM entries WHERE kind IN ('trade_fee', 'commission') AND seq > $1
			GROUP BY 1) g
		WHERE fee_seq <= $2 AND n <> 1 ORDER BY fee_seq LIMIT $3`,
		rep.FromSeq, rep.ToSeq, maxListed)
	if err != nil || len(ids) == 0 {
		return err
	}
	rep.Discrepancies = append(rep.Discrepancies, Discrepancy{Kind: DiscCommissionLink,
		Detail: fmt.Sprintf("%d trade_fee entries (at most %d listed) do not have exactly one commission entry", len(ids), maxListed), Entries: ids})
	return nil
}

// checkAccruals compares, per commission or bounty entry of the period,
// the accrual rows with the entry's 208 credits.
func checkAccruals(ctx context.Context, tx pgx.Tx, rep *Reconciliation) error {
	ids, err := listIDs(ctx, tx, `WITH j AS (
			SELECT p.entry_id, sum(p.amount) AS amount FROM postings p JOIN entries e ON e.seq = p.seq
			WHERE e.kind IN ('commission', 'bounty') AND p.seq > $1 AND p.seq <= $2 AND split_part(p.account, ':', 1) = '208' AND p.side = 'credit'
			GROUP BY p.entry_id
		), a AS (
			SELECT entry_id, sum(amount) AS amount FROM accruals WHERE source IN ('trade', 'bounty') AND recorded_at >= $4 AND recorded_at < $5
			GROUP BY entry_id
		)
		SELECT coalesce(j.entry_id, a.entry_id)::text FROM j FULL OUTER JOIN a ON a.entry_id = j.entry_id
		WHERE coalesce(j.amount, 0) <> coalesce(a.amount, 0) ORDER BY 1 LIMIT $3`, rep.FromSeq, rep.ToSeq, maxListed, rep.From, rep.To)
	if err != nil || len(ids) == 0 {
		return err
	}
	rep.Discrepancies = append(rep.Discrepancies, Discrepancy{Kind: DiscAccruals,
		Detail: fmt.Sprintf("%d commission or bounty entries (at most %d listed) do not match their accrual rows", len(ids), maxListed), Entries: ids})
	return nil
}

// payoutSummaries totals the payout entries of the period per batch and
// currency; payout and forfeit entries without a batch are a discrepancy.
func payoutSummaries(ctx context.Context, tx pgx.Tx, rep *Reconciliation) error {
	rows, err := tx.Query(ctx, `SELECT e.batch_id, p.currency, sum(p.amount)::text FROM entries e JOIN postings p ON p.seq = e.seq
		WHERE e.kind = 'payout' AND e.seq > $1 AND e.seq <= $2 AND p.side = 'debit' AND e.batch_id <> '' GROUP BY 1, 2 ORDER BY 1, 2`, rep.FromSeq, rep.ToSeq)
	if err != nil {
		return err
	}
	for rows.Next() {
		var ps PayoutSummary
		var sum string
		if err := rows.Scan(&ps.BatchID, &ps.Currency, &sum); err != nil {
			rows.Close()
			return err
		}
		if ps.Amount, err = ledger.ParseStored(sum); err != nil {
			rows.Close()
			return err
		}
		rep.PayoutBatches = append(rep.PayoutBatches, ps)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	ids, err := listIDs(ctx, tx, `SELECT id::text FROM entries WHERE kind IN ('payout', 'forfeit') AND seq > $1 AND seq <= $2
		AND coalesce(batch_id, '') = '' ORDER BY seq LIMIT $3`, rep.FromSeq, rep.ToSeq, maxListed)
	if err != nil || len(ids) == 0 {
		return err
	}
	rep.Discrepancies = append(rep.Discrepancies, Discrepancy{Kind: DiscPayoutWithoutBatch,
		Detail: fmt.Sprintf("%d payout or forfeit entries (at most %d listed) belong to no payout batch: the engine always writes them with one", len(ids), maxListed), Entries: ids})
	return nil
}

func listIDs(ctx context.Context, tx pgx.Tx, sql string, args ...any) ([]string, error) {
	rows, err := tx.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}
