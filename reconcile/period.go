package reconcile

import (
	"context"
	"time"

	"github.com/cockroachdb/apd/v3"
	"github.com/folioledger/folio/ledger"
	"github.com/jackc/pgx/v5"
)

// period is the journal reads of a report's period in its basis: the
// entries recorded in [from, to) (a seq range) or effective in it.
type period interface {
	flows(ctx context.Context, tx pgx.Tx, codes []string) ([]ledger.Flow, error)
	// balances sums the balances of a code's accounts per currency at the
	// start of the period, or at its end.
	balances(ctx context.Context, tx pgx.Tx, code string, end bool) (map[string]apd.Decimal, error)
	// accountEntryIDs lists entries posting to account up to the end.
	accountEntryIDs(ctx context.Context, tx pgx.Tx, account string, limit int) ([]string, error)
	codeEntryIDsExcept(ctx context.Context, tx pgx.Tx, code, currency string, kinds []string, limit int) ([]string, error)
	parentsWithoutOneChild(ctx context.Context, tx pgx.Tx, parent, child string, limit int) ([]string, error)
	batchTotals(ctx context.Context, tx pgx.Tx, kind string) ([]ledger.BatchTotal, error)
	entryIDsWithoutBatch(ctx context.Context, tx pgx.Tx, kinds []string, limit int) ([]string, error)
	// accrualsQuery is checkAccruals' statement and arguments for the
	// period ($1 is the listing limit).
	accrualsQuery() (string, []any)
}

// recorded is the period (fromSeq, toSeq] of recorded time [from, to).
type recorded struct {
	fromSeq, toSeq ledger.Cut
	from, to       time.Time
}

func (p recorded) flows(ctx context.Context, tx pgx.Tx, codes []string) ([]ledger.Flow, error) {
	return ledger.Flows(ctx, tx, p.fromSeq, p.toSeq, codes)
}

func (p recorded) balances(ctx context.Context, tx pgx.Tx, code string, end bool) (map[string]apd.Decimal, error) {
	seq := p.fromSeq
	if end {
		seq = p.toSeq
	}
	return ledger.CodeBalancesAt(ctx, tx, code, seq)
}

func (p recorded) accountEntryIDs(ctx context.Context, tx pgx.Tx, account string, limit int) ([]string, error) {
	return ledger.AccountEntryIDs(ctx, tx, account, p.toSeq, limit)
}

func (p recorded) codeEntryIDsExcept(ctx context.Context, tx pgx.Tx, code, currency string, kinds []string, limit int) ([]string, error) {
	return ledger.CodeEntryIDsExcept(ctx, tx, code, currency, p.fromSeq, p.toSeq, kinds, limit)
}

func (p recorded) parentsWithoutOneChild(ctx context.Context, tx pgx.Tx, parent, child string, limit int) ([]string, error) {
	return ledger.ParentsWithoutOneChild(ctx, tx, parent, child, p.fromSeq, p.toSeq, limit)
}

func (p recorded) batchTotals(ctx context.Context, tx pgx.Tx, kind string) ([]ledger.BatchTotal, error) {
	return ledger.BatchTotals(ctx, tx, kind, p.fromSeq, p.toSeq)
}

func (p recorded) entryIDsWithoutBatch(ctx context.Context, tx pgx.Tx, kinds []string, limit int) ([]string, error) {
	return ledger.EntryIDsWithoutBatch(ctx, tx, kinds, p.fromSeq, p.toSeq, limit)
}

func (p recorded) accrualsQuery() (string, []any) {
	return sqlAccrualsRecorded, []any{[]int64(p.fromSeq), []int64(p.toSeq), p.from, p.to}
}

// effective is the period of the entries effective in [From, To).
type effective struct{ ledger.EffectivePeriod }

func (p effective) flows(ctx context.Context, tx pgx.Tx, codes []string) ([]ledger.Flow, error) {
	return p.Flows(ctx, tx, codes)
}

func (p effective) balances(ctx context.Context, tx pgx.Tx, code string, end bool) (map[string]apd.Decimal, error) {
	return p.CodeBalances(ctx, tx, code, end)
}

func (p effective) accountEntryIDs(ctx context.Context, tx pgx.Tx, account string, limit int) ([]string, error) {
	return ledger.AccountEntryIDsBefore(ctx, tx, account, p.To, limit)
}

func (p effective) codeEntryIDsExcept(ctx context.Context, tx pgx.Tx, code, currency string, kinds []string, limit int) ([]string, error) {
	return p.CodeEntryIDsExcept(ctx, tx, code, currency, kinds, limit)
}

func (p effective) parentsWithoutOneChild(ctx context.Context, tx pgx.Tx, parent, child string, limit int) ([]string, error) {
	return p.ParentsWithoutOneChild(ctx, tx, parent, child, limit)
}

func (p effective) batchTotals(ctx context.Context, tx pgx.Tx, kind string) ([]ledger.BatchTotal, error) {
	return p.BatchTotals(ctx, tx, kind)
}

func (p effective) entryIDsWithoutBatch(ctx context.Context, tx pgx.Tx, kinds []string, limit int) ([]string, error) {
	return p.EntryIDsWithoutBatch(ctx, tx, kinds, limit)
}

func (p effective) accrualsQuery() (string, []any) {
	return sqlAccrualsEffective, append([]any{[]int64(p.Floor)}, p.Args()...)
}
