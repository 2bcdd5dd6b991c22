package reconcile

import (
	"context"
	"fmt"

	"github.com/folioledger/folio/ledger"
	"github.com/jackc/pgx/v5"
)

// checkAccruals compares, per commission or bounty entry of the period,
// the accrual rows with the entry's 208 credits.
//
// This is the one statement of the package that names other packages'
// tables (the journal's and affiliate's accruals): a FULL OUTER JOIN of two
// per-entry aggregates, which the database computes without the report
// holding every entry of the period in memory, as comparing the owners'
// separate reads would. schema's ownership test allowlists this file.
func checkAccruals(ctx context.Context, tx pgx.Tx, rep *Report) error {
	sql, args := rep.per.accrualsQuery()
	rows, err := tx.Query(ctx, sql, append([]any{maxListed}, args...)...)
	if err != nil {
		return err
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || len(ids) == 0 {
		return err
	}
	rep.Discrepancies = append(rep.Discrepancies, Discrepancy{Kind: DiscAccruals,
		Detail: fmt.Sprintf("%d commission or bounty entries (at most %d listed) do not match their accrual rows", len(ids), maxListed), Entries: ids})
	return nil
}

// The accruals check by recorded time: the entries of (FromSeq, ToSeq]
// against the accruals recorded in [From, To).
var sqlAccrualsRecorded = `WITH j AS (
		SELECT e.id AS entry_id, sum(p.amount) AS amount FROM entries e CROSS JOIN LATERAL ` + ledger.LinesAtSQL("e") + ` p
		WHERE e.kind IN ('commission', 'bounty') AND e.seq > coalesce(($2::bigint[])[e.shard + 1], 0) AND e.seq <= coalesce(($3::bigint[])[e.shard + 1], 0)
			AND split_part(p.account, ':', 1) = '208' AND p.side = 'credit'
		GROUP BY e.id
	), a AS (
		SELECT entry_id, sum(amount) AS amount FROM accruals_whole WHERE source IN ('trade', 'bounty') AND recorded_at >= $4 AND recorded_at < $5
		GROUP BY entry_id
	)
	SELECT coalesce(j.entry_id, a.entry_id)::text FROM j FULL OUTER JOIN a ON a.entry_id = j.entry_id
	WHERE coalesce(j.amount, 0) <> coalesce(a.amount, 0) ORDER BY 1 LIMIT $1`

// The accruals check by effective time: the entries effective in
// [From, To) against the accruals of those entries, and the accruals
// without an entry whose business time is in the period (a bounty's; a
// trade's accrual keeps its business time on its trade row, which this
// package does not read, so an orphaned one is reported in the period of
// its recorded time — its trade_fee entry, without its commission child,
// is reported in the trade's period by the commission-link check). $5 is
// the cut of a closed previous period (ledger.EffectivePeriod.Late), or
// NULL.
var sqlAccrualsEffective = `WITH j AS (
		SELECT e.id AS entry_id, sum(p.amount) AS amount FROM entries e CROSS JOIN LATERAL ` + ledger.LinesAtSQL("e") + ` p
		WHERE e.kind IN ('commission', 'bounty') AND e.seq > coalesce(($2::bigint[])[e.shard + 1], 0) AND ` + ledger.MemberSQL("e", "$3", "$4", "$5") + `
			AND split_part(p.account, ':', 1) = '208' AND p.side = 'credit'
		GROUP BY e.id
	), a AS (
		SELECT a.entry_id, sum(a.amount) AS amount FROM accruals_whole a LEFT JOIN entries e ON e.id = a.entry_id
		WHERE a.source IN ('trade', 'bounty')
			AND coalesce(e.effective_at, a.business_at, a.recorded_at) < $4 AND (coalesce(e.effective_at, a.business_at, a.recorded_at) >= $3
				OR ($5::bigint[] IS NOT NULL AND e.seq > coalesce(($5::bigint[])[e.shard + 1], 0)))
		GROUP BY a.entry_id
	)
	SELECT coalesce(j.entry_id, a.entry_id)::text FROM j FULL OUTER JOIN a ON a.entry_id = j.entry_id
	WHERE coalesce(j.amount, 0) <> coalesce(a.amount, 0) ORDER BY 1 LIMIT $1`
