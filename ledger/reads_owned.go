package ledger

import (
	"context"

	"github.com/cockroachdb/apd/v3"
	"github.com/jackc/pgx/v5"

	"github.com/folioledger/folio/accounts"
	"github.com/folioledger/folio/schema"
)

// Reads of the journal for the packages above it (the commission engine,
// reconciliation, the benchmark, the API's chart handlers), which may not
// name the journal's tables themselves (schema.Owners). Each takes the
// caller's Querier, so that it reads inside the caller's transaction and
// snapshot; none writes.

// JournalTx runs fn in a transaction that writes the journal
// (schema.DB.WriterTx: READ COMMITTED with row locks on PostgreSQL,
// SERIALIZABLE on CockroachDB or in the CockroachDB-path mode). ApplyTx
// locks the heads of the shards it writes, in shard order; a caller that
// knows its shard may lock it first with LockShard so that everything it
// reads sees the shard's previous writer. Like Tx, fn may run several
// times.
func (l *Ledger) JournalTx(ctx context.Context, fn func(pgx.Tx) error) error {
	return JournalTx(ctx, l.DB, fn)
}

// JournalTx is [Ledger.JournalTx] on db, for callers without a Ledger.
func JournalTx(ctx context.Context, db *schema.DB, fn func(pgx.Tx) error) error {
	return db.WriterTx(ctx, fn)
}

// GroupJournalTx is JournalTx for a group commit's batch of trades
// (schema.DB.GroupWriterTx: its prepared statements run their generic
// plans, made per size generation, instead of being planned every call).
func GroupJournalTx(ctx context.Context, db *schema.DB, fn func(pgx.Tx) error) error {
	return db.GroupWriterTx(ctx, fn)
}

// LockShard locks one shard's head for the rest of tx (ApplyTx takes it
// again at no cost). The group-commit writer of a shard calls it first.
func LockShard(ctx context.Context, tx pgx.Tx, shard int) error {
	_, err := lockShards(ctx, tx, []int{shard})
	return err
}

// Counts returns the number of entries and of postings in the journal.
func Counts(ctx context.Context, q schema.Querier) (entries, postings int64, err error) {
	err = q.QueryRow(ctx, `SELECT (SELECT count(*) FROM entries), (SELECT count(*) FROM lines)`).Scan(&entries, &postings)
	return entries, postings, err
}

var sqlEntryIDsByKey = `SELECT id::text FROM entries WHERE ` + condByKey + ` ORDER BY seq, shard`

// EntryIDsByKey returns the ids of the entries recorded under any of the
// idempotency keys, in journal (seq) order; keys without an entry are left
// out, and so are the keys of trades' entries (unindexedKeyPrefixes),
// which are looked up through their trade.
func EntryIDsByKey(ctx context.Context, q schema.Querier, keys []string) ([]string, error) {
	rows, err := q.Query(ctx, sqlEntryIDsByKey, keys)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// InUse reports whether the journal has an account of the given code and
// currency; an empty code or currency matches any. An account is in use
// from its first posting (pending or posted) on, even if its balance is
// back at zero: stored amounts were validated against its currency's
// precision and its code's normal side. Its signature is accounts.InUse,
// the check that PutCurrency and PutCode take from the layer above.
func InUse(ctx context.Context, q schema.Querier, code, currency string) (bool, error) {
	var used bool
	err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM balances WHERE ($1 = '' OR code = $1) AND ($2 = '' OR currency = $2))`,
		code, currency).Scan(&used)
	return used, err
}

// CodeBalancesAt sums, per currency, the posted balances as of a cut of
// every account of an account code (each balance row's balance after its
// last posting at or before its shard's seq in the cut; rows without one
// count as zero). Currencies without such an account are absent.
func CodeBalancesAt(ctx context.Context, q schema.Querier, code string, cut Cut) (map[string]apd.Decimal, error) {
	rows, err := q.Query(ctx, `SELECT b.currency, sum(p.balance_after)::text FROM balances b CROSS JOIN LATERAL (
			`+lineAsOf("q.balance_after", "coalesce(($2::bigint[])[b.shard + 1], 0)", codeSet(code))+`) p
		WHERE b.code = $1 GROUP BY b.currency`, code, []int64(cut))
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
		d, err := ParseStored(sum)
		if err != nil {
			return nil, err
		}
		out[cur] = d
	}
	return out, rows.Err()
}

// Flow is the total of the posted postings of one kind of entry to the
// accounts of one code in one currency on one side.
type Flow struct {
	Currency string
	// Kind is the entry's kind; for a post_pending entry, the kind of the
	// pending entry it completes (the completion posts that entry's
	// postings).
	Kind   string
	Code   string
	Side   string // debit or credit
	Amount apd.Decimal
}

// Flows totals the posted (not pending) postings of the entries between
// two cuts (after from, up to to) to accounts of the given codes, per
// currency, kind, code and side, in no particular order.
func Flows(ctx context.Context, q schema.Querier, from, to Cut, codes []string) ([]Flow, error) {
	rows, err := q.Query(ctx, `SELECT p.currency, CASE WHEN e.kind = 'post_pending' THEN coalesce(t.kind, e.kind) ELSE e.kind END,
			split_part(p.account, ':', 1), p.side, sum(p.amount)::text
		FROM lines p JOIN entries e ON e.seq = p.seq AND e.shard = p.shard LEFT JOIN entries t ON t.id = e.completes
		WHERE `+inCuts("p")+` AND NOT p.pending AND split_part(p.account, ':', 1) = ANY($3)
		GROUP BY 1, 2, 3, 4`, []int64(from), []int64(to), codes)
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

// AccountEntryIDs returns the ids of the entries with a posting (pending
// or not) to account up to a cut, largest id first, at most limit.
func AccountEntryIDs(ctx context.Context, q schema.Querier, account string, cut Cut, limit int) ([]string, error) {
	return collectIDs(ctx, q, `SELECT DISTINCT p.entry_id::text FROM balances b CROSS JOIN LATERAL (
			`+linesBetween("q.entry_id", "0", "coalesce(($2::bigint[])[b.shard + 1], 0)", "true", accountSet(account))+`) p
		WHERE b.account = $1 ORDER BY 1 DESC LIMIT $3`,
		account, []int64(cut), limit)
}

// inCuts is the condition "alias's (shard, seq) lies after cut $1 and up to
// cut $2"; the seq range bounds it for the (seq, shard) indexes.
func inCuts(alias string) string {
	return alias + `.seq > coalesce(($1::bigint[])[` + alias + `.shard + 1], 0) AND ` + alias + `.seq <= coalesce(($2::bigint[])[` + alias + `.shard + 1], 0)
		AND ` + alias + `.seq > (SELECT coalesce(min(x), 0) FROM unnest($1::bigint[]) x) AND ` + alias + `.seq <= (SELECT coalesce(max(x), 0) FROM unnest($2::bigint[]) x)`
}

// CodeEntryIDsExcept returns the ids of the entries between two cuts with
// a posting (pending or not) to an account of code in currency, leaving out
// entries of the given kinds; smallest id first, at most limit.
func CodeEntryIDsExcept(ctx context.Context, q schema.Querier, code, currency string, from, to Cut, kinds []string, limit int) ([]string, error) {
	return collectIDs(ctx, q, `SELECT DISTINCT p.entry_id::text FROM lines p JOIN entries e ON e.seq = p.seq AND e.shard = p.shard
		WHERE `+inCuts("p")+` AND p.currency = $3 AND split_part(p.account, ':', 1) = $4
		AND e.kind <> ALL($5) ORDER BY 1 LIMIT $6`, []int64(from), []int64(to), currency, code, kinds, limit)
}

// ParentsWithoutOneChild returns the ids of the entries of kind parent
// between two cuts that do not have exactly one child (an entry whose
// parent_id is theirs) of kind child, in position order, at most limit.
// Children are counted wherever they are after from: a child is written
// after its parent, in the same shard.
func ParentsWithoutOneChild(ctx context.Context, q schema.Querier, parent, child string, from, to Cut, limit int) ([]string, error) {
	// One scan and one aggregate, grouping each parent with its children.
	// No join: a join's plan depends on statistics, and right after a large
	// ingestion, before autovacuum analyzes the journal, a nested loop over
	// stale estimates took minutes.
	return collectIDs(ctx, q, `SELECT fee::text FROM (
			SELECT coalesce(parent_id, id) AS fee,
				min(seq) FILTER (WHERE kind = $3) AS fee_seq,
				min(shard) FILTER (WHERE kind = $3) AS fee_shard,
				count(*) FILTER (WHERE kind = $4) AS n
			FROM entries WHERE kind IN ($3, $4) AND seq > coalesce(($1::bigint[])[shard + 1], 0)
			GROUP BY 1) g
		WHERE fee_seq <= coalesce(($2::bigint[])[fee_shard + 1], 0) AND n <> 1 ORDER BY fee_seq, fee_shard LIMIT $5`,
		[]int64(from), []int64(to), parent, child, limit)
}

// BatchTotal is the total of the debit postings, in one currency, of the
// entries that one batch wrote.
type BatchTotal struct {
	BatchID  string
	Currency string
	Amount   apd.Decimal
}

// BatchTotals (like EntryIDsWithoutBatch) is planned for its actual kind
// (planEachTime), so that the partial index of the kinds other than the
// trade engine's serves it.
//
// BatchTotals totals, per batch id and currency, the debit postings of the
// entries of kind between two cuts that carry a batch id, in (batch id,
// currency) order.
func BatchTotals(ctx context.Context, q schema.Querier, kind string, from, to Cut) ([]BatchTotal, error) {
	rows, err := q.Query(ctx, `SELECT e.batch_id, p.currency, sum(p.amount)::text FROM entries e CROSS JOIN LATERAL `+LinesAtSQL("e")+` p
		WHERE e.kind = $3 AND `+inCuts("e")+` AND p.side = 'debit' AND e.batch_id <> '' GROUP BY 1, 2 ORDER BY 1, 2`, planEachTime, []int64(from), []int64(to), kind)
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

// EntryIDsWithoutBatch returns the ids of the entries of the given kinds
// between two cuts that carry no batch id, in position order, at most
// limit.
func EntryIDsWithoutBatch(ctx context.Context, q schema.Querier, kinds []string, from, to Cut, limit int) ([]string, error) {
	return collectIDs(ctx, q, `SELECT e.id::text FROM entries e WHERE e.kind = ANY($3) AND `+inCuts("e")+`
		AND coalesce(e.batch_id, '') = '' ORDER BY e.seq, e.shard LIMIT $4`, planEachTime, []int64(from), []int64(to), kinds, limit)
}

func collectIDs(ctx context.Context, q schema.Querier, sql string, args ...any) ([]string, error) {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// BalanceRow is one balance row (an account in one journal shard) as of a
// cut: its posted debits, credits and balance on the normal side.
type BalanceRow struct {
	Account accounts.Key
	Shard   int
	Debits  apd.Decimal
	Credits apd.Decimal
	Balance apd.Decimal
}

// BalanceRowsAt returns every balance row with a posting at or before cut
// (its shard's seq in it), as of that posting, in (account, shard) order:
// one indexed read per row.
func BalanceRowsAt(ctx context.Context, q schema.Querier, cut Cut) ([]BalanceRow, error) {
	rows, err := q.Query(ctx, `SELECT b.account, b.shard, p.debits_after::text, p.credits_after::text, p.balance_after::text
		FROM balances b CROSS JOIN LATERAL (
			`+lineAsOf("q.debits_after, q.credits_after, q.balance_after", "coalesce(($1::bigint[])[b.shard + 1], 0)", anyAccount)+`) p
		ORDER BY b.account, b.shard`, []int64(cut))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []BalanceRow
	for rows.Next() {
		var name, d, c, bal string
		var r BalanceRow
		if err := rows.Scan(&name, &r.Shard, &d, &c, &bal); err != nil {
			return nil, err
		}
		if r.Account, err = accounts.ParseKey(name); err != nil {
			return nil, err
		}
		for _, x := range []struct {
			s   string
			dst *apd.Decimal
		}{{d, &r.Debits}, {c, &r.Credits}, {bal, &r.Balance}} {
			if *x.dst, err = ParseStored(x.s); err != nil {
				return nil, err
			}
		}
		out = append(out, r)
	}
	return out, rows.Err()
}
