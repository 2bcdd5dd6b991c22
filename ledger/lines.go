package ledger

import (
	"slices"
	"strconv"
	"time"

	"github.com/folioledger/folio/accounts"
)

// Inline lines (migration 040). The accounts that every trade posts to,
// 101 (fees awaiting distribution) and 605 (the platform's revenue), would
// otherwise take 3 of a trade's ~6.8 postings rows, each with its two
// index entries: ~11 µs of PostgreSQL's time and ~400 B of WAL a line.
// Their lines are kept in their entry's row instead, in up to two slots
// (entries.l1_*, l2_*), when all of these hold:
//
//   - the account's code is one of InlineCodes and it has no holder;
//   - the line is not pending, and its entry is prompt (recorded within
//     LateAfter of its effective time, less a millisecond of margin), so
//     that the index of late postings still holds every late line;
//   - the account has a postings row in the same shard and in the same
//     block of InlineBlock positions, before it (balances.row_seq): the
//     first line of the account in each block of its shard is a row.
//
// The rows are what keeps every read independent of the journal's length:
// the account index (account, shard, seq) finds each block in which the
// account has lines, and an inline line is read by position, from its
// entry, in a block that the index named. The view lines (postings and
// the slots) is what every reader by position reads; a reader by account
// reads a balance row's lines through linesBetween or lineAsOf, which
// read the account index and then, for an inline account only, the
// entries of the blocks it names. The hash and the content of an entry do
// not depend on where its lines are stored.

// InlineCodes are the account codes whose lines may be inline.
var InlineCodes = []string{"101", "605"}

// InlineBlock is the size of the blocks of positions of a shard in which
// an inline account has at least one postings row before its inline lines.
const InlineBlock = 64

// inlineSlots is how many lines an entry's row can hold.
const inlineSlots = 2

// inlineAccount reports whether k's lines may be inline.
func inlineAccount(k accounts.Key) bool {
	if k.Holder != "" {
		return false
	}
	for _, c := range InlineCodes {
		if k.Code == c {
			return true
		}
	}
	return false
}

// promptEntry reports whether e is recorded close enough to its effective
// time for its lines to be inline (see late: the margin keeps the decision
// on the right side of the index predicate at microsecond precision).
func promptEntry(e *Entry) bool {
	d := e.RecordedAt.Sub(e.EffectiveAt)
	return d < LateAfter-time.Millisecond && d > -(LateAfter-time.Millisecond)
}

// inlineSQL is the SQL condition "account x's lines may be inline".
func inlineSQL(x string) string {
	codes := ""
	for i, c := range InlineCodes {
		if i > 0 {
			codes += ", "
		}
		codes += "'" + c + "'"
	}
	return "(split_part(" + x + ", ':', 1) IN (" + codes + ") AND split_part(" + x + ", ':', 3) = '')"
}

// blockStart is the SQL expression of the first position of the block
// holding position x (mod rather than division: CockroachDB's / on
// integers is a decimal division).
func blockStart(x string) string {
	return "((" + x + ") - mod(" + x + ", " + strconv.Itoa(InlineBlock) + "))"
}

// lineSet is which balance rows b a read by account covers. A read of
// one kind of account carries only that kind's branch: a branch that a
// condition on b.account switches off still weighs in the planner's
// estimates, and for the 43k 208 rows of a code's balances PostgreSQL then
// memoized every row's read, 1.2 s instead of 0.2 (2026-12-07, 100k
// trades).
type lineSet int

const (
	anyAccount     lineSet = iota // inlineSQL(b.account) chooses the branch
	inlineAccounts                // every b is an inline account
	otherAccounts                 // no b is
)

// accountSet is the lineSet of one account's rows.
func accountSet(account string) lineSet {
	k, err := accounts.ParseKey(account)
	switch {
	case err != nil:
		return anyAccount
	case inlineAccount(k):
		return inlineAccounts
	}
	return otherAccounts
}

// codeSet is the lineSet of the rows of an account code's accounts.
func codeSet(code string) lineSet {
	if slices.Contains(InlineCodes, code) {
		return anyAccount // an account with a holder is not inline
	}
	return otherAccounts
}

// gate returns the condition that switches a branch on for set: "true"
// when the set has a single kind.
func (set lineSet) gate(inline bool) string {
	switch {
	case set != anyAccount:
		return "true"
	case inline:
		return inlineSQL("b.account")
	}
	return "NOT " + inlineSQL("b.account")
}

// linesBetween is a subquery selecting cols (over alias q, with the
// columns of the view lines) of the lines of balance row b (b.account,
// b.shard) after position after and up to position upto (SQL expressions)
// that satisfy cond (over q; "true" for all). The rows come from the
// account index; an inline account's inline lines from the entries of the
// blocks in which it has rows in that range (every inline line has one in
// its block, before it). OFFSET 0 keeps the entries' read a subquery run
// for each block, by position: flattened into the join, PostgreSQL hashed
// every inline line of the journal against the blocks (minutes over 300k
// trades, where this takes ~2.5 µs a line).
func linesBetween(cols, after, upto, cond string, set lineSet) string {
	rows := `SELECT ` + cols + ` FROM postings q WHERE q.account = b.account AND q.shard = b.shard
			AND q.seq > ` + after + ` AND q.seq <= ` + upto + ` AND ` + cond
	if set == otherAccounts {
		return rows
	}
	return rows + `
		UNION ALL
		SELECT ` + cols + ` FROM (
				SELECT ` + blockStart("seq") + ` AS block, min(seq) AS first FROM postings
				WHERE account = b.account AND shard = b.shard AND seq >= ` + blockStart(after+" + 1") + ` AND seq <= ` + upto + `
				GROUP BY 1) r
			CROSS JOIN LATERAL (SELECT * FROM inline_lines i WHERE i.shard = b.shard AND i.account = b.account
				AND i.seq > greatest(r.first, ` + after + `) AND i.seq <= least(` + upto + `, r.block + ` + strconv.Itoa(InlineBlock-1) + `)
				OFFSET 0) q
		WHERE ` + set.gate(true) + ` AND ` + cond
}

// lineAsOf is a subquery selecting cols (over alias q, with the columns
// of the view lines) of the last line of balance row b (b.account,
// b.shard) at or before position upto (an SQL expression), or no row. For
// an inline account it starts from the last row at or before upto: the
// last line is in that row's block, at or after it.
func lineAsOf(cols, upto string, set lineSet) string {
	other := `(SELECT ` + cols + ` FROM postings q WHERE q.account = b.account AND q.shard = b.shard AND q.seq <= ` + upto + `
			AND ` + set.gate(false) + ` ORDER BY q.seq DESC, q.idx DESC LIMIT 1)`
	inline := `(SELECT ` + cols + ` FROM (
				SELECT seq FROM postings WHERE account = b.account AND shard = b.shard AND seq <= ` + upto + `
				ORDER BY seq DESC LIMIT 1) r
			CROSS JOIN LATERAL (SELECT * FROM lines l WHERE l.shard = b.shard AND l.account = b.account
				AND l.seq >= r.seq AND l.seq <= least(` + upto + `, ` + blockStart("r.seq") + ` + ` + strconv.Itoa(InlineBlock-1) + `)
				ORDER BY l.seq DESC, l.idx DESC LIMIT 1) q
		WHERE ` + set.gate(true) + `)`
	switch set {
	case otherAccounts:
		return other
	case inlineAccounts:
		return inline
	}
	return other + `
		UNION ALL
		` + inline
}

// LinesAtSQL is a subquery of the lines at the position of the row aliased
// pos (its seq and shard), for CROSS JOIN LATERAL. The lines view is a
// UNION ALL of postings and the entries' inline slots; joined to it,
// PostgreSQL may hash the whole view (every entry and posting of the
// journal: 0.3 s for 100 listed entries of a 200k-entry journal) or, with
// stale statistics, nest a scan of its inline branch in a loop (the
// reconciliation's accruals check ran for minutes). As a LATERAL subquery
// (OFFSET 0 keeps it one) each position is looked up in both branches
// through their (seq, shard) indexes.
func LinesAtSQL(pos string) string {
	return `(SELECT * FROM lines l WHERE l.seq = ` + pos + `.seq AND l.shard = ` + pos + `.shard OFFSET 0)`
}

// AccountShardsSQL is a FROM item (account, shard) of the shards in which
// the accounts named in the text array accts (SQL) have lines: their
// balance rows' keys.
func AccountShardsSQL(accts string) string {
	return `(SELECT account, shard FROM balances WHERE account = ANY(` + accts + `))`
}

// AccountLinesSQL is a query for CROSS JOIN LATERAL, for a package that
// finds its own rows through an account's lines (the affiliates' compact
// accruals through their 208 lines): the postings rows p of the account
// and shard of s (a row of AccountShardsSQL) with seq in (lo, hi] of that
// shard — lo and hi are SQL bigint arrays indexed by shard + 1 (a [Cut]),
// NULL for no bound — joined by join and filtered by cond (SQL over p's
// columns entry_id, idx, seq, side, amount, recorded_at and effective_at,
// and join's), selecting cols, in seq order, then tail (LIMIT, OFFSET). It
// reads the account index (account, shard, seq) in order. An account whose
// lines may be inline (InlineCodes) does not have all of them in postings:
// it is for holder accounts.
func AccountLinesSQL(s, lo, hi, cols, join, cond, tail string) string {
	return `(SELECT ` + cols + ` FROM postings p ` + join + `
		WHERE p.account = ` + s + `.account AND p.shard = ` + s + `.shard
			AND p.seq > coalesce((` + lo + `)[` + s + `.shard + 1], 0) AND p.seq <= coalesce((` + hi + `)[` + s + `.shard + 1], 9223372036854775807)
			AND ` + cond + `
		ORDER BY p.seq, p.idx ` + tail + `)`
}
