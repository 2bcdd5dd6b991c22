package ledger

// RowPostingsByEffective exposes the effective-time read's subquery to
// the plan test.
var RowPostingsByEffective = rowPostingsByEffective

// BalanceRowsRead is how many balance rows l's writers have looked up in
// the database rather than in its cache.
func BalanceRowsRead(l *Ledger) int64 { return l.balances.read.Load() }

// SQLUpdateBalances is the writer's UPDATE of existing balance rows.
const SQLUpdateBalances = sqlUpdateBalances
