package ledger

import (
	"context"
	"time"

	"github.com/folioledger/folio/schema"
)

// Reads by effective time. A posting is late when its effective time says
// something its position in the journal does not: it was recorded more
// than LateAfter after its effective time (a late trade, a back-dated
// entry) or more than LateAfter before it (dated in the future). Only late
// postings are in the index by account and effective time
// (postings_account_late, migration 038). Every other posting -- nearly
// all: a trade is booked seconds after it executed -- is prompt: recorded
// within LateAfter of its effective time. A read of an account's postings
// by effective time therefore takes the late ones from that index and the
// prompt ones from the account's position index (account, shard, seq) over
// the recorded-time window the period gives, widened by LateAfter on each
// side, which is a seq range in each shard (recorded_at never goes
// backwards along a shard's seq). The index entry a prompt posting no
// longer writes was ~690 B of WAL and ~7 WAL records a trade.
//
// What a read costs: a balance as of an effective time t reads the
// account's balance as of the cut of t + LateAfter (one read by the
// account index), the lines of the window between the cuts of
// t - LateAfter and t + LateAfter, and its late lines on the wrong side
// of t (before 2026-12-07 it read every line after t: for 101 over a
// month, the month). The trial balance by effective time and the entries
// before a time still read the postings after, or before, that time. A
// statement's opening balance is a balance as of its start. A statement of
// [from, to) reads the account's postings recorded in [from - LateAfter,
// to + LateAfter] and its late postings effective in the period: for most
// accounts that is the period's postings; for an account posted by every
// trade (101, 605) it is two minutes more of them than the period holds,
// which matters only for periods of a few minutes.

// LateAfter is how far from its effective time a posting may be recorded
// and still be prompt. It is the interval of migration 038's index
// predicate; changing it means a migration that rebuilds the index.
const LateAfter = time.Minute

// late is the predicate of postings_account_late over the postings alias
// a, in the migration's words: the planner uses a partial index only for a
// query whose condition contains its predicate.
func late(a string) string {
	return "(" + a + ".effective_at - " + a + ".recorded_at > interval '1 minute' OR " + a + ".recorded_at - " + a + ".effective_at > interval '1 minute')"
}

// rowPostingsByEffective is a subquery selecting cols (over alias q, with
// the columns of the view lines) of the lines of balance row b (b.account,
// b.shard) that satisfy cond (over q; it bounds q.effective_at): the late
// ones by the late index (late lines are always rows, lines.go), the prompt
// ones by position in b's shard after the cut bound to parameter after and
// up to the cut bound to parameter upto (bigint[] parameters, such as
// "$3"). The cuts must hold every prompt line that cond can select: a
// prompt line effective at t was recorded within LateAfter of t.
func rowPostingsByEffective(cols, cond, after, upto string, set lineSet) string {
	shardCut := func(c string) string { return `coalesce((` + c + `::bigint[])[b.shard + 1], 0)` }
	return linesBetween(cols, shardCut(after), shardCut(upto), cond+` AND NOT `+late("q"), set) + `
		UNION ALL
		SELECT ` + cols + ` FROM postings q WHERE q.account = b.account AND q.shard = b.shard AND ` + cond + ` AND ` + late("q")
}

// effectiveWindow returns the cuts bounding the prompt postings effective
// in [from, to): those recorded at or after from - LateAfter and at or
// before to + LateAfter. A zero from is the journal's start; a zero to is
// now (the heads).
func effectiveWindow(ctx context.Context, q schema.Querier, from, to time.Time) (after, upto Cut, err error) {
	after = Cut{}
	if !from.IsZero() {
		if after, err = CutBefore(ctx, q, from.Add(-LateAfter)); err != nil {
			return nil, nil, err
		}
	}
	at := AsOf{}
	if !to.IsZero() {
		at.Recorded = to.Add(LateAfter)
	}
	upto, err = cutOf(ctx, q, at)
	return after, upto, err
}
