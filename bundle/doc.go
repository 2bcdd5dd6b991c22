// Package bundle writes and checks the audit bundle: a directory that lets
// an auditor check a range of Folio's books with nothing but its files —
// no database, no server. docs/AUDIT-BUNDLE.md is the format's reference
// (files, fields, the exact bytes each entry's hash covers, the checks), so
// that an auditor can write their own checker.
//
// [Export] (`folio export --from --to DIR`) reads the journal: the entries
// recorded in [from, to), per journal shard the seq range between the cut
// before from and the cut before to (ledger.CutBefore), with the chain
// anchors at both ends, the earlier entries its post_pending entries
// complete (their kind decides how the reconciliation counts them), the
// balance rows at both cuts (the opening and closing trial balance, one
// line per account and shard) and the
// reconciliation of the range by recorded time (package reconcile). The
// bundle is bounded by recorded time because that is what makes it a
// contiguous piece of every shard's hash chain: an effective-time range
// would leave holes an auditor could not tell from deletions. The export
// streams the journal a page at a time into the files, digesting them as
// they are written.
//
// [Verify] (`folio audit-verify DIR`) imports no database code path: it
// reads the files, recomputes every entry's hash with ledger.ComputeHash
// (a pure function of the entry) and stops at the first problem, naming
// the file, the line and the field. Structural and arithmetic checks run
// before the manifest's digests, so that a changed byte is reported where
// it changes something (an entry's hash, a CSV field, a balance) rather
// than only as a file whose digest differs; the digests, checked last,
// catch every other change (a chart name, a discrepancy's text).
//
// What the bundle proves on its own: its entries are a gap-free,
// correctly linked stretch of each shard's chain between its two anchors,
// each balances, the balances follow from them, the reconciliation's
// figures follow from them. What it cannot prove alone is that the anchors
// are Folio's: an auditor compares them with anchors obtained otherwise
// (the previous bundle's end anchors, or signed checkpoints).
//
// The optional checkpoints part (files under checkpoints/, listed in
// manifest "checkpoints"; [ExportWith] with a verifier key) closes that
// gap: the verifier key, the signed journal checkpoints of the seals from
// the last one before the bundle's entries through the first that holds
// them all, with consistency proofs between consecutive ones, every
// entry's inclusion proof in the last one's tree, and the signed period
// checkpoints of closed periods that overlap the range. The verifier
// checks them with the stock note and tlog functions, recomputing each
// entry's leaf (seal.LeafBytes) from the entry. We store proofs rather
// than every leaf since index 0: a bundle is one range of the journal.
// Each inclusion proof costs the export one indexed read of the log.
package bundle
