package ledger

// RowPostingsByEffective exposes the effective-time read's subquery to
// the plan test.
var RowPostingsByEffective = rowPostingsByEffective
