// Package reconcile produces the reconciliation report of a period (docs/CONTRACT.md
// §4): for each currency, the fees booked by trades, their split between
// affiliates (208) and the platform (605), what is left in deferred income
// (101, which must be zero), and the roll-forward of accrued commissions
// (opening + accrued + bounties − paid − forfeited ± reversed ±
// adjustments = closing, checked against the ledger's 208 balances), with
// the payouts of each batch; and the discrepancies: every check that fails,
// naming the entries concerned.
//
// [RunBasis] reads inside one read-only SERIALIZABLE transaction, so the
// figures are of one snapshot. The period [from, to) is bounded on a basis
// (ledger.Basis; the API and `folio reconcile` default to effective):
// by effective (business) time, the entries effective in it, with opening
// and closing balances by effective time (ledger.EffectivePeriod), so a
// March trade booked in April is in March; by recorded time ([Run]), a
// range of journal sequence numbers (FromSeq, ToSeq] from ledger.SeqBefore,
// the journal as it stood. [RunAfterClose] is the effective basis for an
// accounting period that follows a closed one (package periods): the
// period also holds the entries dated before it but recorded after the
// previous period's close cut (post-close adjustments), and its opening
// balances are the closed period's. Every figure and check is of the period's
// entries on its basis (period.go holds the two sets of reads). The
// report is produced whatever the journal holds (entries of any kind,
// written by any version): an error means only that the database could not
// be read.
//
// The package sits above the commission engine and the ledger and owns no
// table: it reads the journal through the ledger's read functions (Flows,
// CodeBalancesAt, ParentsWithoutOneChild, BatchTotals and others) and takes
// entry kinds from affiliate. One check is the exception: comparing each
// commission or bounty entry's 208 credits with its accrual rows is a
// single join of the journal with affiliate's accruals (accruals.go), so
// that the database, not the report, holds the per-entry sums.
//
// [Report.MarshalJSON] and [Report.WriteCSV] render the report for the API
// (GET /v1/reports/reconciliation) and `folio reconcile`.
package reconcile
