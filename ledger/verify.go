package ledger

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/cockroachdb/apd/v3"
	"github.com/folioledger/folio/accounts"
	"github.com/jackc/pgx/v5"
)

// Problem kinds reported by Verify.
const (
	ProblemHash    = "hash_mismatch"
	ProblemSeqGap  = "seq_gap"
	ProblemBalance = "balance_mismatch"
)

// Problem is one inconsistency found by Verify.
type Problem struct {
	Kind    string `json:"kind"`
	Shard   int    `json:"shard"`
	Seq     int64  `json:"seq,omitempty"`
	Account string `json:"account,omitempty"`
	Detail  string `json:"detail"`
}

// Report is the outcome of Verify.
type Report struct {
	OK              bool      `json:"ok"`
	EntriesChecked  int64     `json:"entries_checked"`
	AccountsChecked int64     `json:"accounts_checked"`
	Problems        []Problem `json:"problems"`
}

// maxProblems bounds a report; the first problem is what matters.
const maxProblems = 100

// Verify checks every stored column of the journal that a reader relies
// on, in one consistent snapshot. It recomputes the hash chain from the
// first entry (the hash covers every column of an entry, its content hash
// included, and each posting's index, account, side, amount, pending flag
// and running totals); checks that seqs are gapless and end at the journal
// head, whose hash and recorded_at are the last entry's; checks that every
// posting belongs to an entry and repeats its entry's id, effective_at and
// recorded_at and its account's currency; checks each posting's running
// totals against the postings before it; and recomputes every balance row
// (posted and pending figures, last seq, and the code, currency and holder
// of its account) from the postings. Problems are reported in seq order
// (the first is the first bad seq), then by account: hash_mismatch for an
// entry, posting or head that does not match the chain, seq_gap for a
// missing seq or an entry recorded before the one at the seq before it
// (reads by recorded time bisect along seq: ledger.cutOf), and
// balance_mismatch for running totals and balance rows.
//
// Entries hashed before the content hash was covered (version 1) are
// accepted up to the first entry of the current version; their content
// hash is then not checked. Verify proves that the stored journal is
// consistent with itself, not that it is the journal that was written: a
// party with write access to the database can rewrite the whole chain
// (see the README).
func (l *Ledger) Verify(ctx context.Context) (*Report, error) {
	var rep *Report
	err := l.DB.ReadTx(ctx, func(tx pgx.Tx) error {
		rep = &Report{Problems: []Problem{}}
		if err := verifyChain(ctx, tx, rep); err != nil {
			return err
		}
		if err := verifyInline(ctx, tx, rep); err != nil {
			return err
		}
		return verifyBalances(ctx, tx, rep)
	})
	if err != nil {
		return nil, err
	}
	rep.OK = len(rep.Problems) == 0
	return rep, nil
}

func (r *Report) add(p Problem) {
	if len(r.Problems) < maxProblems {
		r.Problems = append(r.Problems, p)
	}
}

// verifyChain walks every shard's chain (shards in order, each in pages of
// seq order: a page's entries, then the postings of the same seq range, so
// that a posting belonging to no entry is found too, merged in seq order),
// then checks that no entry or posting lies outside a known shard. Memory
// holds one page and a running total per account; the cost is linear in
// the journal's length.
func verifyChain(ctx context.Context, tx pgx.Tx, rep *Report) error {
	normals := map[string]accounts.Side{}
	chart, err := accounts.LoadChart(ctx, tx)
	if err != nil {
		return err
	}
	for _, c := range chart.Codes() {
		normals[c.Code] = c.Normal
	}
	heads, err := Heads(ctx, tx)
	if err != nil {
		return err
	}
	var known []int64
	for _, h := range heads {
		known = append(known, int64(h.Shard))
		if err := verifyShard(ctx, tx, rep, h, normals); err != nil {
			return err
		}
	}
	var strayEntries, strayPostings int64
	if err := tx.QueryRow(ctx, `SELECT (SELECT count(*) FROM entries WHERE shard <> ALL($1)), (SELECT count(*) FROM postings WHERE shard <> ALL($1))`,
		known).Scan(&strayEntries, &strayPostings); err != nil {
		return err
	}
	if strayEntries+strayPostings > 0 {
		rep.add(Problem{Kind: ProblemHash, Detail: fmt.Sprintf("%d entries and %d postings belong to no journal shard", strayEntries, strayPostings)})
	}
	return nil
}

// verifyShard checks one shard's chain against its head.
func verifyShard(ctx context.Context, tx pgx.Tx, rep *Report, h Head, normals map[string]accounts.Side) error {
	const page = 5000
	prev := GenesisHash
	var lastSeq int64
	var lastID string
	var lastRecorded time.Time
	version := 1                                  // the lowest hash version the next entry may carry (versions never go back)
	running := map[accounts.Key]*[3]apd.Decimal{} // balance, debits, credits, of this shard's rows
	lo := int64(math.MinInt64)                    // the first page's postings range starts below seq 1
	for {
		es, err := verifyEntries(ctx, tx, h.Shard, lastSeq, page)
		if err != nil {
			return err
		}
		if len(es) == 0 {
			break
		}
		ps, err := verifyPostings(ctx, tx, h.Shard, lo, es[len(es)-1].Seq, 2*len(es))
		if err != nil {
			return err
		}
		j := 0
		for _, e := range es {
			for ; j < len(ps) && ps[j].seq < e.Seq; j++ {
				rep.add(orphan(ps[j]))
			}
			start := j
			for j < len(ps) && ps[j].seq == e.Seq {
				j++
			}
			stored := ps[start:j]
			e.Postings = make([]Posting, len(stored))
			for i := range stored {
				e.Postings[i] = stored[i].Posting
			}
			rep.EntriesChecked++
			if e.Seq != lastSeq+1 {
				rep.add(Problem{Kind: ProblemSeqGap, Shard: e.Shard, Seq: e.Seq, Detail: fmt.Sprintf("shard %d: seq %d follows seq %d", e.Shard, e.Seq, lastSeq)})
			}
			if !bytes.Equal(e.PrevHash, prev) {
				rep.add(Problem{Kind: ProblemHash, Shard: e.Shard, Seq: e.Seq, Detail: "prev_hash does not match the hash of the previous entry"})
			}
			if _, unindexed := unindexedPrefix(e.IdempotencyKey); unindexed && e.ParentID != "" && e.ParentID != lastID {
				// Its parent's links find it only at the next position
				// (migration 047).
				rep.add(Problem{Kind: ProblemHash, Shard: e.Shard, Seq: e.Seq, Detail: "an entry under the trade engine's keys does not follow its parent"})
			}
			if v := hashVersion(e); v == 0 || v < version {
				rep.add(Problem{Kind: ProblemHash, Shard: e.Shard, Seq: e.Seq, Detail: "stored hash does not match the entry's contents"})
			} else {
				version = v
			}
			for _, p := range stored {
				if d := p.differsFrom(e); d != "" {
					rep.add(Problem{Kind: ProblemHash, Shard: e.Shard, Seq: e.Seq, Account: p.Account.String(), Detail: d})
				}
			}
			for _, p := range e.Postings {
				r := running[p.Account]
				if r == nil {
					r = &[3]apd.Decimal{}
					running[p.Account] = r
				}
				if !p.Pending {
					if p.Side == normals[p.Account.Code] {
						_ = add(&r[0], &r[0], &p.Amount)
					} else {
						_ = sub(&r[0], &r[0], &p.Amount)
					}
					if p.Side == accounts.Debit {
						_ = add(&r[1], &r[1], &p.Amount)
					} else {
						_ = add(&r[2], &r[2], &p.Amount)
					}
				}
				if r[0].Cmp(&p.BalanceAfter) != 0 || r[1].Cmp(&p.DebitsAfter) != 0 || r[2].Cmp(&p.CreditsAfter) != 0 {
					rep.add(Problem{Kind: ProblemBalance, Shard: e.Shard, Seq: e.Seq, Account: p.Account.String(),
						Detail: fmt.Sprintf("posting %d records balance %s, the postings before it in shard %d sum to %s", p.Index, Format(&p.BalanceAfter), e.Shard, Format(&r[0]))})
				}
			}
			if lastSeq > 0 && e.RecordedAt.Before(lastRecorded) {
				rep.add(Problem{Kind: ProblemSeqGap, Shard: e.Shard, Seq: e.Seq, Detail: fmt.Sprintf("shard %d: seq %d is recorded at %s, before seq %d (%s)",
					e.Shard, e.Seq, e.RecordedAt.Format(time.RFC3339Nano), lastSeq, lastRecorded.Format(time.RFC3339Nano))})
			}
			prev, lastSeq, lastID, lastRecorded = e.Hash, e.Seq, e.ID, e.RecordedAt
		}
		lo = lastSeq
		if len(es) < page {
			break
		}
	}
	// Postings after the last entry (or, in an empty shard, anywhere).
	rows, err := tx.Query(ctx, `SELECT seq, idx FROM postings WHERE shard = $1 AND seq > $2 ORDER BY seq, idx LIMIT $3`, h.Shard, lo, maxProblems)
	if err != nil {
		return err
	}
	var after []storedPosting
	for rows.Next() {
		p := storedPosting{shard: h.Shard}
		if err := rows.Scan(&p.seq, &p.Index); err != nil {
			rows.Close()
			return err
		}
		after = append(after, p)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, p := range after {
		rep.add(orphan(p))
	}
	switch {
	case h.Seq != lastSeq:
		rep.add(Problem{Kind: ProblemSeqGap, Shard: h.Shard, Seq: lastSeq + 1, Detail: fmt.Sprintf("shard %d's head is at seq %d but its last entry is seq %d", h.Shard, h.Seq, lastSeq)})
	case !bytes.Equal(h.Hash, prev):
		rep.add(Problem{Kind: ProblemHash, Shard: h.Shard, Seq: h.Seq, Detail: fmt.Sprintf("shard %d's head hash does not match its last entry", h.Shard)})
	case lastSeq > 0 && !h.RecordedAt.Equal(lastRecorded):
		rep.add(Problem{Kind: ProblemHash, Shard: h.Shard, Seq: h.Seq, Detail: fmt.Sprintf("shard %d's head recorded_at %s is not its last entry's %s",
			h.Shard, h.RecordedAt.UTC().Format(time.RFC3339Nano), lastRecorded.Format(time.RFC3339Nano))})
	}
	return nil
}

// hashVersion is the version (1, 2 or 3) whose canonical encoding gives
// e's stored hash, 0 if none does.
func hashVersion(e *Entry) int {
	for v, name := range []string{hashV3, hashV2, hashV1} {
		if bytes.Equal(computeHash(e.PrevHash, e, name), e.Hash) {
			return 3 - v
		}
	}
	return 0
}

// verifyEntries reads up to n entries after seq, in seq order, without
// their postings.
func verifyEntries(ctx context.Context, tx pgx.Tx, shard int, after int64, n int) ([]*Entry, error) {
	rows, err := tx.Query(ctx, `SELECT `+entryColumns+` FROM entries WHERE shard = $1 AND seq > $2 ORDER BY seq LIMIT $3`, shard, after, n)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*Entry
	for rows.Next() {
		e, err := scanEntry(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows.Close()
	return out, fillDerived(ctx, tx, out)
}

// storedPosting is a posting row with the columns that repeat its entry's
// (entry_id, effective_at, recorded_at) or its account's (currency): the
// hash covers them through the entry, so each must equal its source.
type storedPosting struct {
	Posting
	shard                   int
	seq                     int64
	entryID, currency       string
	effectiveAt, recordedAt time.Time
}

// verifyPostings reads the postings with lo < seq <= hi in (seq, idx)
// order; n is a guess of their number.
func verifyPostings(ctx context.Context, tx pgx.Tx, shard int, lo, hi int64, n int) ([]storedPosting, error) {
	rows, err := tx.Query(ctx, `SELECT seq, idx, entry_id::text, account, currency, side, amount::text, pending,
			balance_after::text, debits_after::text, credits_after::text, effective_at, recorded_at
		FROM lines WHERE shard = $1 AND seq > $2 AND seq <= $3 ORDER BY seq, idx`, shard, lo, hi)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make([]storedPosting, 0, n)
	for rows.Next() {
		p := storedPosting{shard: shard}
		var acct, side, amt, bal, deb, cred string
		if err := rows.Scan(&p.seq, &p.Index, &p.entryID, &acct, &p.currency, &side, &amt, &p.Pending, &bal, &deb, &cred,
			&p.effectiveAt, &p.recordedAt); err != nil {
			return nil, err
		}
		k, err := accounts.ParseKey(acct)
		if err != nil {
			return nil, fmt.Errorf("posting (seq %d, idx %d): %w", p.seq, p.Index, err)
		}
		p.Account, p.Side = k, accounts.Side(side)
		for _, x := range []struct {
			dst *apd.Decimal
			s   string
		}{{&p.Amount, amt}, {&p.BalanceAfter, bal}, {&p.DebitsAfter, deb}, {&p.CreditsAfter, cred}} {
			if *x.dst, err = ParseStored(x.s); err != nil {
				return nil, err
			}
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// differsFrom describes how p's repeated columns differ from their sources
// (its entry e and its account key), or returns "".
func (p *storedPosting) differsFrom(e *Entry) string {
	var d []string
	if p.entryID != e.ID {
		d = append(d, fmt.Sprintf("names entry %s, its seq's entry is %s", p.entryID, e.ID))
	}
	if p.currency != p.Account.Currency {
		d = append(d, fmt.Sprintf("has currency %s, its account %s", p.currency, p.Account.Currency))
	}
	if !p.effectiveAt.Equal(e.EffectiveAt) {
		d = append(d, fmt.Sprintf("is effective at %s, its entry at %s", p.effectiveAt.UTC().Format(time.RFC3339Nano), e.EffectiveAt.Format(time.RFC3339Nano)))
	}
	if !p.recordedAt.Equal(e.RecordedAt) {
		d = append(d, fmt.Sprintf("is recorded at %s, its entry at %s", p.recordedAt.UTC().Format(time.RFC3339Nano), e.RecordedAt.Format(time.RFC3339Nano)))
	}
	if len(d) == 0 {
		return ""
	}
	return fmt.Sprintf("posting %d %s", p.Index, strings.Join(d, "; "))
}

// orphan reports a posting whose seq is no entry's.
func orphan(p storedPosting) Problem {
	return Problem{Kind: ProblemHash, Shard: p.shard, Seq: p.seq, Detail: fmt.Sprintf("posting (shard %d, seq %d, idx %d) belongs to no entry", p.shard, p.seq, p.Index)}
}

// verifyInline checks where the inline lines are (lines.go): each of an
// account whose lines may be inline, in a prompt entry, after a postings
// row of its account in the same shard and block. A line elsewhere would
// be missed by the reads by account, which find inline lines only there.
func verifyInline(ctx context.Context, tx pgx.Tx, rep *Report) error {
	rows, err := tx.Query(ctx, `SELECT i.shard, i.seq, i.idx, i.account FROM inline_lines i
		WHERE NOT `+inlineSQL("i.account")+` OR `+late("i")+` OR NOT EXISTS (SELECT 1 FROM postings p
			WHERE p.account = i.account AND p.shard = i.shard AND p.seq >= `+blockStart("i.seq")+` AND p.seq < i.seq)
		ORDER BY i.shard, i.seq, i.idx LIMIT $1`, maxProblems)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var p Problem
		var idx int
		if err := rows.Scan(&p.Shard, &p.Seq, &idx, &p.Account); err != nil {
			return err
		}
		p.Kind, p.Detail = ProblemBalance, fmt.Sprintf("line %d of entry (shard %d, seq %d), kept in the entry's row, is not where the reads by account find it: an account whose lines may be inline, a prompt entry, a postings row of the account earlier in its block of %d positions", idx, p.Shard, p.Seq, InlineBlock)
		rep.add(p)
	}
	return rows.Err()
}

// verifyBalances recomputes every balance row from the postings in SQL and
// compares all five figures, the last seq (the last entry that posted to
// the account or released a pending posting of it) and the columns that
// repeat the account key (code, currency, holder): as readers read them
// (balances_current), and as stored, against the lines up to the stored
// last_seq (a row left as stored since then, migration 048, must still be
// what the lines gave at that seq).
func verifyBalances(ctx context.Context, tx pgx.Tx, rep *Report) error {
	rows, err := tx.Query(ctx, `
		WITH open_pending AS (
			SELECT e.seq, e.shard FROM entries e WHERE e.phase = 'pending'
			AND NOT EXISTS (SELECT 1 FROM entries c WHERE c.completes = e.id)
		), sums AS (
			SELECT p.account, p.shard,
				sum(CASE WHEN NOT p.pending AND p.side = 'debit' THEN p.amount ELSE 0 END) AS debits,
				sum(CASE WHEN NOT p.pending AND p.side = 'credit' THEN p.amount ELSE 0 END) AS credits,
				sum(CASE WHEN p.pending AND p.side = 'debit' AND (p.seq, p.shard) IN (SELECT seq, shard FROM open_pending) THEN p.amount ELSE 0 END) AS pdebits,
				sum(CASE WHEN p.pending AND p.side = 'credit' AND (p.seq, p.shard) IN (SELECT seq, shard FROM open_pending) THEN p.amount ELSE 0 END) AS pcredits,
				max(p.seq) AS last_seq,
				sum(CASE WHEN NOT p.pending AND p.side = 'debit' AND p.seq <= o.last_seq THEN p.amount ELSE 0 END) AS sdebits,
				sum(CASE WHEN NOT p.pending AND p.side = 'credit' AND p.seq <= o.last_seq THEN p.amount ELSE 0 END) AS scredits
			FROM lines p LEFT JOIN balances o ON o.account = p.account AND o.shard = p.shard GROUP BY p.account, p.shard
		), stored_rows AS (
			SELECT account, shard, max(seq) AS row_seq FROM postings GROUP BY account, shard
		), released AS (
			-- Per completion (few), its target's postings by index: a
			-- lateral join, so that no plan scans every posting for it.
			SELECT p.account, c.shard, max(c.seq) AS last_seq
			FROM entries c, LATERAL (SELECT p.account FROM lines p JOIN entries t ON t.seq = p.seq AND t.shard = p.shard
				WHERE t.id = c.completes) p
			WHERE c.completes IS NOT NULL
			GROUP BY p.account, c.shard
		)
		SELECT coalesce(b.account, s.account), coalesce(b.shard, s.shard), c.normal_side,
			coalesce(b.debits, 0) = coalesce(s.debits, 0) AND coalesce(b.credits, 0) = coalesce(s.credits, 0)
			AND coalesce(b.pending_debits, 0) = coalesce(s.pdebits, 0) AND coalesce(b.pending_credits, 0) = coalesce(s.pcredits, 0)
			AND coalesce(b.balance, 0) = CASE WHEN c.normal_side = 'debit' THEN coalesce(s.debits, 0) - coalesce(s.credits, 0)
				ELSE coalesce(s.credits, 0) - coalesce(s.debits, 0) END,
			coalesce(o.debits, 0) = coalesce(s.sdebits, 0) AND coalesce(o.credits, 0) = coalesce(s.scredits, 0)
			AND coalesce(o.balance, 0) = CASE WHEN c.normal_side = 'debit' THEN coalesce(s.sdebits, 0) - coalesce(s.scredits, 0)
				ELSE coalesce(s.scredits, 0) - coalesce(s.sdebits, 0) END,
			coalesce(b.balance, 0)::text, coalesce(s.debits, 0)::text, coalesce(s.credits, 0)::text,
			b.account IS NOT NULL, coalesce(b.code, ''), coalesce(b.currency, ''), coalesce(b.holder, ''),
			coalesce(b.last_seq, 0), greatest(coalesce(s.last_seq, 0), coalesce(r.last_seq, 0)),
			coalesce(b.row_seq, 0), coalesce(w.row_seq, 0)
		FROM balances_current b FULL OUTER JOIN sums s ON s.account = b.account AND s.shard = b.shard
		LEFT JOIN balances o ON o.account = b.account AND o.shard = b.shard
		LEFT JOIN stored_rows w ON w.account = coalesce(b.account, s.account) AND w.shard = coalesce(b.shard, s.shard)
		LEFT JOIN released r ON r.account = coalesce(b.account, s.account) AND r.shard = coalesce(b.shard, s.shard)
		LEFT JOIN account_codes c ON c.code = split_part(coalesce(b.account, s.account), ':', 1)
		ORDER BY 1, 2`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var account, bal, d, c, code, currency, holder string
		var shard int
		var normal *string
		var ok, storedOK, stored bool
		var lastSeq, wantSeq, rowSeq, wantRowSeq int64
		if err := rows.Scan(&account, &shard, &normal, &ok, &storedOK, &bal, &d, &c, &stored, &code, &currency, &holder, &lastSeq, &wantSeq,
			&rowSeq, &wantRowSeq); err != nil {
			return err
		}
		rep.AccountsChecked++
		var why []string
		if !ok || normal == nil {
			why = append(why, fmt.Sprintf("balance %s as read (balances_current) does not match its postings (debits %s, credits %s)", trimZeros(bal), trimZeros(d), trimZeros(c)))
		}
		if !storedOK {
			why = append(why, "the stored row's figures do not match its lines up to its last_seq")
		}
		if lastSeq != wantSeq {
			why = append(why, fmt.Sprintf("stored last_seq %d, the last entry touching the account is seq %d", lastSeq, wantSeq))
		}
		if rowSeq != wantRowSeq {
			why = append(why, fmt.Sprintf("stored row_seq %d, the account's last postings row is at seq %d", rowSeq, wantRowSeq))
		}
		if k, err := accounts.ParseKey(account); err != nil {
			why = append(why, "the account is not a valid account key")
		} else if stored && (code != k.Code || currency != k.Currency || holder != k.Holder) {
			why = append(why, fmt.Sprintf("stored code %q, currency %q, holder %q do not match the account", code, currency, holder))
		}
		if len(why) > 0 {
			rep.add(Problem{Kind: ProblemBalance, Shard: shard, Account: account, Detail: strings.Join(why, "; ")})
		}
	}
	return rows.Err()
}

func trimZeros(s string) string {
	d, err := ParseStored(s)
	if err != nil {
		return s
	}
	return Format(&d)
}
