package ledger

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/folioledger/folio/accounts"
	"github.com/folioledger/folio/schema"
	"github.com/jackc/pgx/v5"
)

// entryColumns are the columns of an entry, read from an unaliased
// "FROM entries": the description derived where the row stores none
// (descriptionSQL); a NULL metadata, the parent's, is filled by
// fillDerived.
var entryColumns = `id::text, shard, seq, kind, ` + descriptionSQL("") + `, phase, effective_at, recorded_at, idempotency_key, content_hash,
	coalesce(parent_id::text, ''), coalesce(reverses::text, ''), coalesce(completes::text, ''), expires_at,
	coalesce(batch_id, ''), metadata::text, prev_hash, hash`

// scanEntry scans entryColumns. An entry whose row stores no metadata
// (migration 044: its metadata is its parent's) comes back with nil
// Metadata, one without prev_hash (046) with nil PrevHash: fillDerived
// completes them.
func scanEntry(row pgx.Row) (*Entry, error) {
	e := &Entry{}
	var md *string
	var phase string
	if err := row.Scan(&e.ID, &e.Shard, &e.Seq, &e.Kind, &e.Description, &phase, &e.EffectiveAt, &e.RecordedAt, &e.IdempotencyKey, &e.contentHash,
		&e.ParentID, &e.Reverses, &e.Completes, &e.ExpiresAt, &e.BatchID, &md, &e.PrevHash, &e.Hash); err != nil {
		return nil, err
	}
	e.Phase = Phase(phase)
	e.EffectiveAt, e.RecordedAt = e.EffectiveAt.UTC(), e.RecordedAt.UTC()
	if e.ExpiresAt != nil {
		t := e.ExpiresAt.UTC()
		e.ExpiresAt = &t
	}
	if md == nil {
		if e.ParentID == "" {
			return nil, fmt.Errorf("entry %s: no stored metadata and no parent", e.ID)
		}
		return e, nil
	}
	canon, err := CanonicalMetadata([]byte(*md))
	if err != nil {
		return nil, fmt.Errorf("entry %s: stored metadata: %w", e.ID, err)
	}
	e.Metadata = canon
	return e, nil
}

// fillDerived completes the entries scanEntry read: fillMetadata, then
// fillPrevHashes.
func fillDerived(ctx context.Context, q schema.Querier, es []*Entry) error {
	if err := fillMetadata(ctx, q, es); err != nil {
		return err
	}
	return fillPrevHashes(ctx, q, es)
}

// fillPrevHashes gives each entry read without a prev_hash (every entry
// written since migration 046) the hash of the entry before it in its
// shard: GenesisHash for seq 1, else the predecessor's, from es when it is
// there (a read in position order has all but the first of each shard),
// else read by position in one statement. An entry whose predecessor is
// missing keeps a nil PrevHash, which Verify reports.
func fillPrevHashes(ctx context.Context, q schema.Querier, es []*Entry) error {
	type pos struct {
		shard int
		seq   int64
	}
	var at map[pos]*Entry
	var shards, seqs []int64
	for _, e := range es {
		if e.PrevHash != nil {
			continue
		}
		if e.Seq == 1 {
			e.PrevHash = GenesisHash
			continue
		}
		if at == nil {
			at = make(map[pos]*Entry, len(es))
			for _, x := range es {
				at[pos{x.Shard, x.Seq}] = x
			}
		}
		if p := at[pos{e.Shard, e.Seq - 1}]; p != nil {
			e.PrevHash = p.Hash
			continue
		}
		shards, seqs = append(shards, int64(e.Shard)), append(seqs, e.Seq-1)
	}
	if len(seqs) == 0 {
		return nil
	}
	rows, err := q.Query(ctx, `SELECT e.shard, e.seq, e.hash FROM unnest($1::bigint[], $2::bigint[]) AS u(shard, seq)
		JOIN entries e ON e.seq = u.seq AND e.shard = u.shard`, planEachTime, shards, seqs)
	if err != nil {
		return err
	}
	type stored struct {
		pos
		hash []byte
	}
	preds, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (stored, error) {
		var x stored
		err := r.Scan(&x.shard, &x.seq, &x.hash)
		return x, err
	})
	if err != nil {
		return err
	}
	hashes := make(map[pos][]byte, len(preds))
	for _, x := range preds {
		hashes[x.pos] = x.hash
	}
	for _, e := range es {
		if e.PrevHash == nil {
			e.PrevHash = hashes[pos{e.Shard, e.Seq - 1}]
		}
	}
	return nil
}

// fillMetadata gives each entry read without metadata its parent's: from
// the parent when it is among es (a trade's two entries are next to each
// other in the journal), else read by id in one statement.
func fillMetadata(ctx context.Context, q schema.Querier, es []*Entry) error {
	var byID map[string]*Entry
	var missing []string
	for _, e := range es {
		if e.Metadata != nil {
			continue
		}
		if byID == nil {
			byID = make(map[string]*Entry, len(es))
			for _, x := range es {
				byID[x.ID] = x
			}
		}
		if p := byID[e.ParentID]; p != nil && p.Metadata != nil {
			e.Metadata = p.Metadata
			continue
		}
		missing = append(missing, e.ParentID)
	}
	if len(missing) == 0 {
		return nil
	}
	rows, err := q.Query(ctx, `SELECT id::text, metadata::text FROM entries WHERE id = ANY($1::uuid[]) AND metadata IS NOT NULL`, planEachTime, missing)
	if err != nil {
		return err
	}
	parents, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (struct{ id, md string }, error) {
		var p struct{ id, md string }
		err := r.Scan(&p.id, &p.md)
		return p, err
	})
	if err != nil {
		return err
	}
	mds := make(map[string]json.RawMessage, len(parents))
	for _, p := range parents {
		if mds[p.id], err = CanonicalMetadata([]byte(p.md)); err != nil {
			return fmt.Errorf("entry %s: stored metadata: %w", p.id, err)
		}
	}
	for _, e := range es {
		if e.Metadata == nil {
			if e.Metadata = mds[e.ParentID]; e.Metadata == nil {
				return fmt.Errorf("entry %s: no stored metadata and none stored on its parent %s", e.ID, e.ParentID)
			}
		}
	}
	return nil
}

// planEachTime is schema.PlanEachTime: the batch lookups (`col = ANY($1)`)
// outside the group-commit path are planned for their arguments every
// time (the balances' read and UPDATE … FROM unnest are schema.Sized).
const planEachTime = schema.PlanEachTime

// loadEntriesBy loads entries matching a condition on $1 (an array), with
// their postings, in seq order.
func loadEntriesBy(ctx context.Context, q schema.Querier, cond string, arg []string) ([]*Entry, error) {
	if len(arg) == 0 {
		return nil, nil
	}
	return queryEntries(ctx, q, `SELECT `+entryColumns+` FROM entries WHERE `+cond+` ORDER BY seq, shard`, planEachTime, arg)
}

// queryEntries runs a query selecting entryColumns and loads the postings.
func queryEntries(ctx context.Context, q schema.Querier, sql string, args ...any) ([]*Entry, error) {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	var out []*Entry
	for rows.Next() {
		e, err := scanEntry(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, e)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if err := fillDerived(ctx, q, out); err != nil {
		return nil, err
	}
	return out, loadPostings(ctx, q, out)
}

// loadPostings fills the postings of entries.
func loadPostings(ctx context.Context, q schema.Querier, entries []*Entry) error {
	if len(entries) == 0 {
		return nil
	}
	seqs, shards := make([]int64, len(entries)), make([]int64, len(entries))
	byPos := make(map[[2]int64]*Entry, len(entries))
	for i, e := range entries {
		seqs[i], shards[i] = e.Seq, int64(e.Shard)
		byPos[[2]int64{e.Seq, int64(e.Shard)}] = e
		e.Postings = nil
	}
	// Postings are keyed by (seq, shard, idx): an entry's are found through
	// its position.
	rows, err := q.Query(ctx, sqlEntryLines, planEachTime, seqs, shards)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var seq, shard int64
		var acct, side, amt, bal, deb, cred string
		var p Posting
		if err := rows.Scan(&seq, &shard, &p.Index, &acct, &side, &amt, &p.Pending, &bal, &deb, &cred); err != nil {
			return err
		}
		k, err := accounts.ParseKey(acct)
		if err != nil {
			return err
		}
		p.Account, p.Side = k, accounts.Side(side)
		if p.Amount, err = ParseStored(amt); err != nil {
			return err
		}
		if p.BalanceAfter, err = ParseStored(bal); err != nil {
			return err
		}
		if p.DebitsAfter, err = ParseStored(deb); err != nil {
			return err
		}
		if p.CreditsAfter, err = ParseStored(cred); err != nil {
			return err
		}
		e := byPos[[2]int64{seq, shard}]
		e.Postings = append(e.Postings, p)
	}
	return rows.Err()
}

// existingIDs returns which of ids are ids of stored entries (for entries
// whose id the caller chose: a reused id fails its item, not the batch).
func existingIDs(ctx context.Context, q schema.Querier, ids []string) (map[string]bool, error) {
	used := map[string]bool{}
	if len(ids) == 0 {
		return used, nil
	}
	rows, err := q.Query(ctx, `SELECT id::text FROM entries WHERE id = ANY($1::uuid[])`, planEachTime, ids)
	if err != nil {
		return nil, err
	}
	found, err := pgx.CollectRows(rows, pgx.RowTo[string])
	for _, id := range found {
		used[id] = true
	}
	return used, err
}

// followUps records which targets are already reversed or completed.
type followUps struct {
	reversedBy  map[string]*Entry
	completedBy map[string]*Entry
}

func loadFollowUps(ctx context.Context, q schema.Querier, ids []string) (*followUps, error) {
	f := &followUps{reversedBy: map[string]*Entry{}, completedBy: map[string]*Entry{}}
	if len(ids) == 0 {
		return f, nil
	}
	rows, err := q.Query(ctx, `SELECT id::text, shard, seq, phase, coalesce(reverses::text, ''), coalesce(completes::text, '')
		FROM entries WHERE reverses = ANY($1::uuid[]) OR completes = ANY($1::uuid[])`, planEachTime, ids)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		e := &Entry{}
		var phase string
		if err := rows.Scan(&e.ID, &e.Shard, &e.Seq, &phase, &e.Reverses, &e.Completes); err != nil {
			return nil, err
		}
		e.Phase = Phase(phase)
		if e.Reverses != "" {
			f.reversedBy[e.Reverses] = e
		}
		if e.Completes != "" {
			f.completedBy[e.Completes] = e
		}
	}
	return f, rows.Err()
}

// The statements a batch writes with (WriteStatements).
var (
	sqlInsertEntries = `INSERT INTO entries (id, seq, kind, description, phase, effective_at, recorded_at, idempotency_key, content_hash,
			parent_id, reverses, completes, expires_at, batch_id, metadata, hash, shard,
			l1_idx, l1_account, l1_side, l1_amount, l1_balance_after, l1_debits_after, l1_credits_after,
			l2_idx, l2_account, l2_side, l2_amount, l2_balance_after, l2_debits_after, l2_credits_after)
		SELECT id::uuid, seq, kind, descr, phase, eff, rec, key, content, NULLIF(parent, '')::uuid, NULLIF(rev, '')::uuid,
			NULLIF(comp, '')::uuid, NULLIF(exp, '')::timestamptz, NULLIF(batch, ''), meta::jsonb, hash, sh,
			NULLIF(i1, -1), NULLIF(a1, ''), NULLIF(s1, ''), NULLIF(m1, '')::numeric, NULLIF(b1, '')::numeric, NULLIF(d1, '')::numeric, NULLIF(c1, '')::numeric,
			NULLIF(i2, -1), NULLIF(a2, ''), NULLIF(s2, ''), NULLIF(m2, '')::numeric, NULLIF(b2, '')::numeric, NULLIF(d2, '')::numeric, NULLIF(c2, '')::numeric
		FROM ` + schema.Zip(`$1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::timestamptz[], $7::timestamptz[], $8::text[],
			$9::bytea[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::text[], $16::bytea[], $17::bigint[],
			$18::bigint[], $19::text[], $20::text[], $21::text[], $22::text[], $23::text[], $24::text[],
			$25::bigint[], $26::text[], $27::text[], $28::text[], $29::text[], $30::text[], $31::text[]`,
		`id, seq, kind, descr, phase, eff, rec, key, content, parent, rev, comp, exp, batch, meta, hash, sh,
			i1, a1, s1, m1, b1, d1, c1, i2, a2, s2, m2, b2, d2, c2`) + ` AS u`
	sqlInsertPostings = `INSERT INTO postings (entry_id, idx, seq, account, currency, side, amount, pending, balance_after, debits_after, credits_after, effective_at, recorded_at, shard)
		SELECT e::uuid, i, s, a, c, sd, amt::numeric, p, b::numeric, d::numeric, cr::numeric, eff, rec, sh
		FROM ` + schema.Zip(`$1::text[], $2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[], $8::bool[], $9::text[], $10::text[], $11::text[],
			$12::timestamptz[], $13::timestamptz[], $14::bigint[]`, `e, i, s, a, c, sd, amt, p, b, d, cr, eff, rec, sh`) + ` AS u`
	sqlUpdateHead = `UPDATE journal_shards SET seq = $1, hash = $2, recorded_at = $3 WHERE shard = $4`
)

// WriteStatements are the statements ApplyTx writes a batch with: declare
// them to a schema.Pipe given as Options.Writes.
var WriteStatements = []string{sqlInsertEntries, sqlInsertPostings, sqlUpdateBalances, sqlInsertBalances, sqlUpdateHead}

// slotColumns are the columns of one inline slot (lines.go) of a batch's
// entries: -1 and empty strings where an entry has no line in the slot.
type slotColumns struct {
	idx                             []int64
	acct, side, amt, bal, deb, cred []string
}

func newSlotColumns(n int) slotColumns {
	s := slotColumns{idx: make([]int64, n), acct: make([]string, n), side: make([]string, n), amt: make([]string, n),
		bal: make([]string, n), deb: make([]string, n), cred: make([]string, n)}
	for i := range s.idx {
		s.idx[i] = -1
	}
	return s
}

func (s *slotColumns) set(i int, p *Posting) {
	s.idx[i], s.acct[i], s.side[i], s.amt[i] = int64(p.Index), p.Account.String(), string(p.Side), Format(&p.Amount)
	s.bal[i], s.deb[i], s.cred[i] = Format(&p.BalanceAfter), Format(&p.DebitsAfter), Format(&p.CreditsAfter)
}

// writeEntries inserts the accepted entries and their postings with one
// multi-row statement per table.
func writeEntries(ctx context.Context, w schema.Execer, cs []*candidate) error {
	n := len(cs)
	var (
		ids, kinds, phases, keys, parents, reverses, completes, expires, batches = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		descs, metas                                                             = make([]*string, n), make([]*string, n)
		seqs, shards                                                             = make([]int64, n), make([]int64, n)
		effective, recorded                                                      = make([]time.Time, n), make([]time.Time, n)
		contents, hashes                                                         = make([][]byte, n), make([][]byte, n)
	)
	var pEntry, pAcct, pCur, pSide, pAmt, pBal, pDeb, pCred []string
	var pIdx, pSeq, pShard []int64
	var pPending []bool
	var pEff, pRec []time.Time
	var slots [inlineSlots]slotColumns
	for k := range slots {
		slots[k] = newSlotColumns(n)
	}
	// Entries whose metadata is stored whole, by id: a later entry of the
	// batch with one of them as its parent and the same metadata stores
	// none (migration 044).
	whole := make(map[string]json.RawMessage, n)
	for i, c := range cs {
		e := c.entry
		shards[i] = int64(e.Shard)
		ids[i], seqs[i], kinds[i], phases[i] = e.ID, e.Seq, e.Kind, string(e.Phase)
		descs[i] = storedDescription(e.IdempotencyKey, e.Description)
		if pm, ok := whole[e.ParentID]; !ok || e.ParentID == "" || !bytes.Equal(pm, e.Metadata) {
			md := string(e.Metadata)
			metas[i] = &md
			whole[e.ID] = e.Metadata
		}
		effective[i], recorded[i], keys[i] = e.EffectiveAt, e.RecordedAt, e.IdempotencyKey
		contents[i], parents[i], reverses[i], completes[i] = e.contentHash, e.ParentID, e.Reverses, e.Completes
		if e.ExpiresAt != nil {
			expires[i] = e.ExpiresAt.Format(time.RFC3339Nano)
		}
		batches[i], hashes[i] = e.BatchID, e.Hash // no prev_hash: the previous entry's hash (fillPrevHashes)
		slot := 0
		for j := range e.Postings {
			p := &e.Postings[j]
			if p.inline {
				slots[slot].set(i, p)
				slot++
				continue
			}
			pEntry = append(pEntry, e.ID)
			pIdx = append(pIdx, int64(p.Index))
			pSeq = append(pSeq, e.Seq)
			pShard = append(pShard, int64(e.Shard))
			pAcct = append(pAcct, p.Account.String())
			pCur = append(pCur, p.Account.Currency)
			pSide = append(pSide, string(p.Side))
			pAmt = append(pAmt, Format(&p.Amount))
			pPending = append(pPending, p.Pending)
			pBal = append(pBal, Format(&p.BalanceAfter))
			pDeb = append(pDeb, Format(&p.DebitsAfter))
			pCred = append(pCred, Format(&p.CreditsAfter))
			pEff = append(pEff, e.EffectiveAt)
			pRec = append(pRec, e.RecordedAt)
		}
	}
	_, err := w.Exec(ctx, sqlInsertEntries,
		ids, seqs, kinds, descs, phases, effective, recorded, keys, contents, parents, reverses, completes, expires, batches, metas, hashes, shards,
		slots[0].idx, slots[0].acct, slots[0].side, slots[0].amt, slots[0].bal, slots[0].deb, slots[0].cred,
		slots[1].idx, slots[1].acct, slots[1].side, slots[1].amt, slots[1].bal, slots[1].deb, slots[1].cred)
	if err != nil {
		return fmt.Errorf("insert entries: %w", err)
	}
	if len(pEntry) == 0 {
		return nil
	}
	_, err = w.Exec(ctx, sqlInsertPostings,
		pEntry, pIdx, pSeq, pAcct, pCur, pSide, pAmt, pPending, pBal, pDeb, pCred, pEff, pRec, pShard)
	if err != nil {
		return fmt.Errorf("insert postings: %w", err)
	}
	return nil
}

// sqlEntryLines reads the lines of the entries at positions ($1[i], $2[i]),
// each through [LinesAtSQL].
var sqlEntryLines = `SELECT p.seq, p.shard, p.idx, p.account, p.side, p.amount::text, p.pending, p.balance_after::text, p.debits_after::text, p.credits_after::text
		FROM unnest($1::bigint[], $2::bigint[]) AS u(seq, shard) CROSS JOIN LATERAL ` + LinesAtSQL("u") + ` p
		ORDER BY p.seq, p.shard, p.idx`
