package ledger

// RowPostingsByEffective exposes the effective-time read's subquery, for
// balance rows of both kinds (lines.go), to the plan test.
func RowPostingsByEffective(cols, cond, after, upto string) string {
	return rowPostingsByEffective(cols, cond, after, upto, anyAccount)
}

// BalanceRowsRead is how many balance rows l's writers have looked up in
// the database rather than in its cache.
func BalanceRowsRead(l *Ledger) int64 { return l.balances.read.Load() }

// SQLUpdateBalances is the writer's UPDATE of existing balance rows.
var SQLUpdateBalances = sqlUpdateBalances

// DecodeCanonical is CanonicalMetadata without its fast path for flat
// canonical objects.
var DecodeCanonical = decodeCanonical
