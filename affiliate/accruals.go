package affiliate

import (
	"context"
	"strconv"
	"time"

	"github.com/cockroachdb/apd/v3"
	"github.com/folioledger/folio/accounts"
	"github.com/folioledger/folio/ledger"
	"github.com/folioledger/folio/schema"
)

// accrualRow is one accrual about to be written.
type accrualRow struct {
	source      string // trade, bounty, reversal
	tradeID     string
	eventID     string
	entryID     string
	beneficiary string
	trader      string
	level       int
	program     string
	kind        string
	rate        *apd.Decimal
	basis       *apd.Decimal
	amount      apd.Decimal
	currency    string
	market      string
	code        string
	reverses    string
	// at is the accrual's business time (statistics bucket and FX
	// conversion time): the trade's executed_at, the event's time, the
	// reversed accrual's; zero = now.
	at time.Time
	// shard and seq are the journal position of the entry that booked the
	// accrual (the statistics folder's order, see fold.go). A trade's
	// accruals store neither, nor their business time: their trade row
	// carries all three.
	shard int
	seq   int64
	// For statistics: the trade's fee (accrual currency) and volume in the
	// reporting currency, the referee's country, and the trade count (1, −1
	// for a reversal, 0 for bounties).
	fee       *apd.Decimal
	volumeRep *apd.Decimal
	country   string
	trades    int64
	// fixedFX, when set, is the conversion rate to use (a reversal reuses
	// the original accrual's rate, nil included, so reporting amounts net
	// out exactly).
	fixedFX *apd.Decimal
	fxFixed bool
	// compact is a trade's accrual stored without the columns its trade
	// row carries (migration 042: trader, entry, program and kind, basis,
	// currency, market, code, country, FX rate, fee and volume figures);
	// the accruals view fills them from the trade. Its id is derived from
	// the trade's commission entry (compactAccrualID).
	compact bool
	id      string
}

// maxCompactAccruals is how many accruals a trade may store compact: their
// ids differ in the last byte only. A trade with more (a custom rule's
// split) stores them whole.
const maxCompactAccruals = 256

// compactAccrualID is the id of the k-th accrual of the trade whose
// commission entry is entryID (a UUID in canonical form): the entry's id
// with its last byte replaced by k. A trade's compact accruals are found
// from its trade row by a range of the primary key (sqlTradeAccrualIDs)
// instead of an index of their trade id: that index cost ~10 µs of
// PostgreSQL's time and ~300 B of WAL a trade (2.8 entries). Two trades
// share such a range only if their entry ids share 120 bits; the lookup
// checks the trade id too.
func compactAccrualID(entryID string, k int) string {
	const hex = "0123456789abcdef"
	return entryID[:34] + string([]byte{hex[k>>4], hex[k&15]})
}

// sqlTradeAccrualIDs is a subquery of the ids of the accruals of the trade
// row t (t.id, t.commission_entry_id) whose source satisfies cond (SQL
// over x.source, e.g. "x.source = 'trade'", or "true"): the compact ones
// by the range of their derived ids, the whole ones (written before
// migration 042, reversals, a trade's beyond maxCompactAccruals) by the
// partial index accruals_trade_whole. Readers join accruals_whole to it by
// id.
func sqlTradeAccrualIDs(t, cond string) string {
	return `(SELECT x.id FROM accruals x WHERE x.id BETWEEN (left(` + t + `.commission_entry_id::text, 34) || '00')::uuid
			AND (left(` + t + `.commission_entry_id::text, 34) || 'ff')::uuid AND x.trade_id = ` + t + `.id AND x.trader_id IS NULL AND ` + cond + `
		UNION ALL
		SELECT x.id FROM accruals x WHERE x.trade_id = ` + t + `.id AND x.trader_id IS NOT NULL AND ` + cond + `)`
}

// A trade's compact accrual is a line of its commission entry: its k-th
// share is the entry's posting k + 1 (tradeEntries), a credit of
// 208:<currency>:<beneficiary> (compactAccounts), and the accrual's id is
// the entry's with k for its last byte (compactAccrualID). Since migration
// 049 a compact accrual stores no recorded time (its trade's is its
// entries') and has no entry in the beneficiary index: a beneficiary's are
// found through the account index of the 208 lines
// (ledger.AccountLinesSQL), each line joined to its accrual by that id
// (compactLineJoin), which must be the beneficiary's and without a stored
// recorded time (those with one are read from accruals_beneficiary_stored).
// compactLine is the condition on the line p.
var compactLine = `p.side = 'credit' AND p.idx BETWEEN 1 AND ` + strconv.Itoa(maxCompactAccruals)

// sqlStoredAccrualsOf is a FROM item (id, stored_at) of the accruals of
// beneficiary ben (SQL) stored with a recorded time — every accrual but a
// trade's compact ones since migration 049 — read from the partial index
// accruals_beneficiary_stored (beneficiary, recorded_at, id).
func sqlStoredAccrualsOf(ben string) string {
	return `(SELECT x.id, x.recorded_at AS stored_at FROM accruals x WHERE x.beneficiary = ` + ben + ` AND x.recorded_at IS NOT NULL)`
}

// compactLineJoin joins the line p to its compact accrual x of beneficiary
// ben (SQL).
func compactLineJoin(ben string) string {
	return `JOIN accruals x ON x.id = (left(p.entry_id::text, 34) || lpad(to_hex(p.idx - 1), 2, '0'))::uuid
		AND x.beneficiary = ` + ben + ` AND x.trader_id IS NULL AND x.recorded_at IS NULL`
}

// compactAccounts returns the accounts that a trade's accruals to
// beneficiary credit: its 208 account in currency, or in every currency of
// the chart when currency is "".
func compactAccounts(ctx context.Context, q schema.Querier, beneficiary, currency string) ([]string, error) {
	account := func(c string) string { return accounts.Key{Code: "208", Currency: c, Holder: beneficiary}.String() }
	if currency != "" {
		return []string{account(currency)}, nil
	}
	chart, err := accounts.LoadChart(ctx, q)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, c := range chart.Currencies() {
		out = append(out, account(c.ID))
	}
	return out, nil
}

// insertAccruals writes accrual rows with one multi-row insert, converting
// each amount into the reporting currency at the rate in force at its
// business time. The statistics rollups are not touched: the folder
// (fold.go) folds the committed rows later. With folded, it also appends
// each row as the folder reads it back (foldmem.go).
func (s *Service) insertAccruals(ctx context.Context, q schema.Querier, w schema.Execer, now time.Time, cache rateCache, rows []accrualRow, folded *[]foldRow) error {
	if len(rows) == 0 {
		return nil
	}
	n := len(rows)
	ids, sources, trades, events, bens, kinds, reverses := make([]string, n), make([]string, n), make([]string, n), make([]string, n),
		make([]string, n), make([]*string, n), make([]string, n)
	entries, traders, programs, currencies, markets, codes, countries := make([]*string, n), make([]*string, n), make([]*string, n),
		make([]*string, n), make([]*string, n), make([]*string, n), make([]*string, n)
	rates, bases, amounts, fxs, reps := make([]*string, n), make([]*string, n), make([]string, n), make([]*string, n), make([]*string, n)
	fees, feeReps, volReps := make([]*string, n), make([]*string, n), make([]*string, n)
	levels, shards, seqs, bizAt := make([]int64, n), make([]*int64, n), make([]*int64, n), make([]*time.Time, n)
	rep := s.reporting()
	for i := range rows {
		r := &rows[i]
		ids[i], sources[i], trades[i], events[i], bens[i] = r.id, r.source, r.tradeID, r.eventID, r.beneficiary
		if r.id == "" {
			ids[i] = s.DB.NewID()
		}
		reverses[i], levels[i] = r.reverses, int64(r.level)
		rates[i], amounts[i] = decText(r.rate), ledger.Format(&r.amount)
		at := r.at
		if at.IsZero() {
			at = now
		}
		at = at.UTC().Truncate(time.Microsecond)
		if r.source != "trade" {
			sh, sq := int64(r.shard), r.seq
			shards[i], seqs[i], bizAt[i] = &sh, &sq, &at
		}
		fx := r.fixedFX
		var err error
		if !r.fxFixed {
			if fx, err = fxRate(ctx, q, cache, r.currency, rep, at); err != nil {
				return err
			}
		}
		conv, err := convert(&r.amount, fx)
		if err != nil {
			return err
		}
		reps[i] = decText(conv)
		var feeRep *apd.Decimal
		if r.fee != nil {
			if feeRep, err = convert(r.fee, fx); err != nil {
				return err
			}
		}
		if !r.compact {
			entries[i], traders[i], programs[i], kinds[i], currencies[i] = &r.entryID, &r.trader, &r.program, &r.kind, &r.currency
			markets[i], codes[i], countries[i] = &r.market, &r.code, &r.country
			bases[i], fxs[i] = decText(r.basis), decText(fx)
			fees[i], feeReps[i], volReps[i] = decText(r.fee), decText(feeRep), decText(r.volumeRep)
		}
		if folded != nil {
			*folded = append(*folded, foldRow{accrualRow: accrualRow{source: r.source, beneficiary: r.beneficiary, trader: r.trader,
				level: r.level, program: r.program, amount: r.amount, currency: r.currency, market: r.market, code: r.code, at: at,
				shard: r.shard, seq: r.seq, fee: r.fee, volumeRep: r.volumeRep, country: r.country, trades: r.trades}, rep: conv, feeRep: feeRep})
		}
	}
	_, err := w.Exec(ctx, sqlInsertAccruals,
		ids, sources, trades, events, entries, bens, traders, levels, programs, kinds, rates, bases, amounts, currencies, fxs, reps, markets,
		rep, now, codes, reverses, fees, feeReps, volReps, countries, shards, seqs, bizAt)
	return err
}

// sqlInsertAccruals writes accrual rows (insertAccruals); booking trades
// sends it through its pipe (tradeWriteStatements). A compact row (no
// trader) stores no reporting currency either, nor its recorded time
// (migration 049): its trade row has them.
var sqlInsertAccruals = `INSERT INTO accruals (id, source, trade_id, event_id, entry_id, beneficiary, trader_id, level, program_id, kind,
			rate, basis, amount, currency, fx_rate, reporting_amount, reporting_currency, market, code, reverses, recorded_at,
			trade_fee, fee_reporting, volume_reporting, country, shard, seq, business_at)
		SELECT id::uuid, src, NULLIF(tr, ''), NULLIF(ev, ''), en::uuid, ben, trader, lvl, prog, kind, rate::numeric, basis::numeric,
			amt::numeric, cur, fx::numeric, rep::numeric, CASE WHEN trader IS NULL THEN NULL ELSE $18 END, mkt, code, NULLIF(rev, '')::uuid, CASE WHEN trader IS NULL THEN NULL ELSE $19::timestamptz END, fee::numeric, feerep::numeric,
			volrep::numeric, country, sh, sq, bt
		FROM ` + schema.Zip(`$1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::bigint[], $9::text[],
			$10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::text[], $16::text[], $17::text[], $20::text[], $21::text[],
			$22::text[], $23::text[], $24::text[], $25::text[], $26::bigint[], $27::bigint[], $28::timestamptz[]`,
	`id, src, tr, ev, en, ben, trader, lvl, prog, kind, rate, basis, amt, cur, fx, rep, mkt, code, rev, fee, feerep, volrep, country, sh, sq, bt`) + ` AS u`
