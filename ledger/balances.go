package ledger

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/cockroachdb/apd/v3"
	"github.com/folioledger/folio"
	"github.com/folioledger/folio/accounts"
	"github.com/folioledger/folio/schema"
	"github.com/jackc/pgx/v5"
)

// Balance is an account's state: posted debit and credit totals, the posted
// balance on the normal side, pending debits and credits, and the available
// balance (posted balance minus pending amounts against the normal side).
type Balance struct {
	Account        accounts.Key
	Normal         accounts.Side
	Debits         apd.Decimal
	Credits        apd.Decimal
	Balance        apd.Decimal
	PendingDebits  apd.Decimal
	PendingCredits apd.Decimal
	Seq            int64 // last seq that touched the account (as of the read)
	// RowSeq is the seq of the account's last postings row in its shard
	// (lines.go: a line is inline only after a row in its block).
	RowSeq int64
}

// Pending returns the pending amount against the normal side.
func (b *Balance) Pending() apd.Decimal {
	if b.Normal == accounts.Debit {
		return clone(&b.PendingCredits)
	}
	return clone(&b.PendingDebits)
}

// Available returns the balance minus pending amounts against the normal
// side.
func (b *Balance) Available() apd.Decimal {
	var out apd.Decimal
	p := b.Pending()
	_ = sub(&out, &b.Balance, &p)
	return out
}

// clone returns a deep copy of b (see clone in amount.go: decimals must not
// share coefficients with a copy that is changed in place).
func (b *Balance) clone() *Balance {
	c := *b
	c.Debits, c.Credits, c.Balance = clone(&b.Debits), clone(&b.Credits), clone(&b.Balance)
	c.PendingDebits, c.PendingCredits = clone(&b.PendingDebits), clone(&b.PendingCredits)
	return &c
}

// balanceSet is the locked balances of one batch, updated in memory entry by
// entry and written once at the end.
type balanceSet struct {
	chart  *accounts.Chart
	rows   map[rowKey]*Balance
	dirty  map[rowKey]bool
	stored map[rowKey]bool // rows that exist in the database
	// must are the stored rows changed by what no postings row records
	// (a pending figure, an inline line): the others are left as stored
	// (balances_current reads them from their last postings row).
	must  map[rowKey]bool
	order []rowKey // sorted
}

// rowKey names a balance row: an account in a shard.
type rowKey struct {
	Account accounts.Key
	Shard   int
}

// sortedRows returns the distinct row keys in (account, shard) order.
func sortedRows(keys []rowKey) []rowKey {
	seen := make(map[rowKey]bool, len(keys))
	type named struct {
		k    rowKey
		name string
	}
	var rows []named
	for _, k := range keys {
		if !seen[k] {
			seen[k] = true
			rows = append(rows, named{k, k.Account.String()}) // once, not per comparison
		}
	}
	slices.SortFunc(rows, func(a, b named) int {
		return cmp.Or(strings.Compare(a.name, b.name), cmp.Compare(a.k.Shard, b.k.Shard))
	})
	out := make([]rowKey, len(rows))
	for i, r := range rows {
		out[i] = r.k
	}
	return out
}

// readBalances reads the balance rows of keys (missing rows are accounts
// never posted to: zero), those in cached from there and the others from
// the database. It takes no row locks: balances change only in ApplyTx,
// after lockShards, so the shards' row locks already exclude every other
// writer of these rows. (SELECT … FOR UPDATE here wrote a lock into each
// row — a heap write and a WAL record per account — that the upsert then
// wrote again; README, "Measured figures, dated".)
func readBalances(ctx context.Context, tx pgx.Tx, chart *accounts.Chart, keys []rowKey, cached map[rowKey]*Balance) (*balanceSet, int, error) {
	sorted := sortedRows(keys)
	n := len(sorted)
	bs := &balanceSet{chart: chart, rows: make(map[rowKey]*Balance, n), dirty: make(map[rowKey]bool, n), stored: make(map[rowKey]bool, n),
		must: map[rowKey]bool{}, order: sorted}
	var names []string
	var shards []int64
	for _, k := range sorted {
		if b := cached[k]; b != nil {
			bs.rows[k], bs.stored[k] = b, true
			continue
		}
		names, shards = append(names, k.Account.String()), append(shards, int64(k.Shard))
		code, _ := chart.Code(k.Account.Code)
		bs.rows[k] = &Balance{Account: k.Account, Normal: code.Normal}
	}
	if len(names) == 0 {
		return bs, 0, nil
	}
	rows, err := tx.Query(ctx, schema.Sized(sqlReadBalances), names, shards)
	if err != nil {
		return nil, 0, fmt.Errorf("read balances: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		var shard int
		var d, c, pd, pc, b string
		var seq, rowSeq int64
		if err := rows.Scan(&name, &shard, &d, &c, &pd, &pc, &b, &seq, &rowSeq); err != nil {
			return nil, 0, err
		}
		k, err := accounts.ParseKey(name)
		if err != nil {
			return nil, 0, err
		}
		row := bs.rows[rowKey{k, shard}]
		if row == nil {
			continue
		}
		bs.stored[rowKey{k, shard}] = true
		row.Seq, row.RowSeq = seq, rowSeq
		for _, x := range []struct {
			dst *apd.Decimal
			s   string
		}{{&row.Debits, d}, {&row.Credits, c}, {&row.PendingDebits, pd}, {&row.PendingCredits, pc}, {&row.Balance, b}} {
			v, err := ParseStored(x.s)
			if err != nil {
				return nil, 0, err
			}
			x.dst.Set(&v)
		}
	}
	return bs, len(names), rows.Err()
}

// apply moves the balances by c's postings and releases, fills each
// posting's running totals, and enforces balance rules. On error nothing
// changes.
func (bs *balanceSet) apply(c *candidate, shard int, seq int64) error {
	work := map[accounts.Key]*Balance{}
	must := map[accounts.Key]bool{} // changed by what no postings row records
	get := func(k accounts.Key) *Balance {
		if b := work[k]; b != nil {
			return b
		}
		b := bs.rows[rowKey{k, shard}].clone()
		b.Seq = seq
		work[k] = b
		return b
	}
	for _, p := range c.releases {
		b := get(p.Account)
		must[p.Account] = true
		dst := &b.PendingCredits
		if p.Side == accounts.Debit {
			dst = &b.PendingDebits
		}
		if err := sub(dst, dst, &p.Amount); err != nil {
			return err
		}
	}
	e := c.entry
	prompt, slots := promptEntry(e), 0
	for i := range e.Postings {
		p := &e.Postings[i]
		b := get(p.Account)
		var err error
		switch {
		case p.Pending && p.Side == accounts.Debit:
			err = add(&b.PendingDebits, &b.PendingDebits, &p.Amount)
		case p.Pending:
			err = add(&b.PendingCredits, &b.PendingCredits, &p.Amount)
		case p.Side == accounts.Debit:
			err = add(&b.Debits, &b.Debits, &p.Amount)
		default:
			err = add(&b.Credits, &b.Credits, &p.Amount)
		}
		if err == nil && !p.Pending {
			if p.Side == b.Normal {
				err = add(&b.Balance, &b.Balance, &p.Amount)
			} else {
				err = sub(&b.Balance, &b.Balance, &p.Amount)
			}
		}
		if err != nil {
			return folio.Errorf(folio.EAMOUNT, "postings[%d]: balance of %s out of range", i, p.Account)
		}
		p.BalanceAfter, p.DebitsAfter, p.CreditsAfter = clone(&b.Balance), clone(&b.Debits), clone(&b.Credits)
		p.inline = prompt && !p.Pending && slots < inlineSlots && inlineAccount(p.Account) &&
			b.RowSeq > 0 && b.RowSeq/InlineBlock == seq/InlineBlock
		if p.inline || p.Pending {
			must[p.Account] = true
		}
		if p.inline {
			slots++
		} else {
			b.RowSeq = seq
		}
	}
	for k, after := range work {
		for _, d := range []*apd.Decimal{&after.Debits, &after.Credits, &after.Balance, &after.PendingDebits, &after.PendingCredits} {
			if !storable(d) {
				return folio.Errorf(folio.EAMOUNT, "account %s would reach %s, beyond the %d integer digits a balance can hold", k, truncate(Format(d)), MaxIntegerDigits)
			}
		}
		code, _ := bs.chart.Code(k.Code)
		if code.Rule != accounts.RuleNonNegative {
			continue
		}
		before := bs.rows[rowKey{k, shard}]
		a0, a1 := before.Available(), after.Available()
		if a1.Sign() < 0 && a1.Cmp(&a0) < 0 {
			return folio.Errorf(folio.EINSUFFICIENT, "account %s would have an available balance of %s; its rule is non_negative", k, Format(&a1))
		}
	}
	for k, b := range work {
		bs.rows[rowKey{k, shard}] = b
		bs.dirty[rowKey{k, shard}] = true
		if must[k] {
			bs.must[rowKey{k, shard}] = true
		}
	}
	return nil
}

// write writes every changed balance once, in sorted account order: one
// UPDATE of the rows that exist and one INSERT of the new ones (readBalances
// told which, and the head's lock keeps it true). An upsert (INSERT … ON
// CONFLICT DO UPDATE) of the same rows writes two WAL records per row, a
// lock and the update, or a speculative insert and its confirmation.
//
// A stored row changed only by posted postings rows is not written: its
// last postings row carries its figures, and balances_current (migration
// 048) reads them from there. The trade engine's holder accounts (the
// trader's 202, the affiliates' 208) are such rows: ~3.4 row updates a
// trade fewer.
func (bs *balanceSet) write(ctx context.Context, w schema.Execer) error {
	var upd, ins balanceColumns
	for _, rk := range bs.order {
		if !bs.dirty[rk] {
			continue
		}
		if bs.stored[rk] && !bs.must[rk] {
			continue
		}
		if bs.stored[rk] {
			upd.add(rk, bs.rows[rk])
		} else {
			ins.add(rk, bs.rows[rk])
		}
	}
	if len(upd.acct) > 0 {
		// Prepared under its size generation by the pipe (schema.Sized): a
		// generic plan made while balances was small would seq-scan it.
		if _, err := w.Exec(ctx, sqlUpdateBalances, upd.acct, upd.shards, upd.d, upd.c, upd.pd, upd.pc, upd.b, upd.seqs, upd.rowSeqs); err != nil {
			return fmt.Errorf("write balances: %w", err)
		}
	}
	if len(ins.acct) > 0 {
		if _, err := w.Exec(ctx, sqlInsertBalances, ins.acct, ins.code, ins.cur, ins.holder, ins.d, ins.c, ins.pd, ins.pc, ins.b, ins.seqs, ins.shards, ins.rowSeqs); err != nil {
			return fmt.Errorf("write balances: %w", err)
		}
	}
	return nil
}

// balanceColumns are balance rows as the columns of a write.
type balanceColumns struct {
	acct, code, cur, holder, d, c, pd, pc, b []string
	seqs, shards, rowSeqs                    []int64
}

func (bc *balanceColumns) add(rk rowKey, r *Balance) {
	k := rk.Account
	bc.acct = append(bc.acct, k.String())
	bc.shards = append(bc.shards, int64(rk.Shard))
	bc.code = append(bc.code, k.Code)
	bc.cur = append(bc.cur, k.Currency)
	bc.holder = append(bc.holder, k.Holder)
	bc.d = append(bc.d, Format(&r.Debits))
	bc.c = append(bc.c, Format(&r.Credits))
	bc.pd = append(bc.pd, Format(&r.PendingDebits))
	bc.pc = append(bc.pc, Format(&r.PendingCredits))
	bc.b = append(bc.b, Format(&r.Balance))
	bc.seqs = append(bc.seqs, r.Seq)
	bc.rowSeqs = append(bc.rowSeqs, r.RowSeq)
}

var (
	sqlReadBalances = `SELECT b.account, b.shard, debits::text, credits::text, pending_debits::text, pending_credits::text, balance::text, last_seq, row_seq
		FROM balances_current b JOIN ` + schema.Zip(`$1::text[], $2::bigint[]`, `account, shard`) + ` AS u ON b.account = u.account AND b.shard = u.shard`
	sqlUpdateBalances = `UPDATE balances SET debits = u.d::numeric, credits = u.c::numeric, pending_debits = u.pd::numeric,
			pending_credits = u.pc::numeric, balance = u.b::numeric, last_seq = u.s, row_seq = u.r
		FROM ` + schema.Zip(`$1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::bigint[], $9::bigint[]`,
		`a, sh, d, c, pd, pc, b, s, r`) + ` AS u
		WHERE balances.account = u.a AND balances.shard = u.sh`
	sqlInsertBalances = `INSERT INTO balances (account, code, currency, holder, debits, credits, pending_debits, pending_credits, balance, last_seq, shard, row_seq)
		SELECT a, co, cu, h, d::numeric, c::numeric, pd::numeric, pc::numeric, b::numeric, s, sh, r
		FROM ` + schema.Zip(`$1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::bigint[], $11::bigint[], $12::bigint[]`,
		`a, co, cu, h, d, c, pd, pc, b, s, sh, r`) + ` AS u`
)
