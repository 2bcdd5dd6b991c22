package affiliate

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"maps"
	"time"

	"github.com/cockroachdb/apd/v3"
	"github.com/folioledger/folio/ledger"
	"github.com/folioledger/folio/schema"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// The trade path's SQL: the reads of steps 2 and 4 and the writes of step
// 7 (see "The write path of trades" in the package doc). Accrual rows and
// statistics rollups, which bounties and reversals write too, are in
// accruals.go; the statistics rollups and the referred volume are folded
// off this transaction (fold.go).

// bookedTrade is what step 2 needs of a trade already booked.
type bookedTrade struct {
	hash          []byte // SHA-256 of the trade's content
	feeID, commID string
}

// bookedTrades returns the booked trades among ids, by id.
func bookedTrades(ctx context.Context, tx pgx.Tx, ids []string) (map[string]bookedTrade, error) {
	// Sized: a generic plan cached while trades was small seq-scans it
	// once it has grown.
	rows, err := tx.Query(ctx, schema.Sized(sqlBookedTrades), ids)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	booked := map[string]bookedTrade{}
	for rows.Next() {
		var id string
		var bt bookedTrade
		if err := rows.Scan(&id, &bt.hash, &bt.feeID, &bt.commID); err != nil {
			return nil, err
		}
		booked[id] = bt
	}
	return booked, rows.Err()
}

// tradeLookups memoizes, for one batch, what preparing a trade (step 4)
// reads from the database — fee-schedule rates, revenue-share tables,
// volume tiers and code kickbacks — so a batch reads each once instead of
// once per trade. Nothing it reads changes within the batch's transaction
// before the trades are written.
type tradeLookups struct {
	fees   map[[3]string]*apd.Decimal
	shares map[string][]TableShare
	tiers  map[tierKey]*apd.Decimal
	codes  map[string]codeKickback
	// volumes memoizes referrers' own traded volume (eligibility), by
	// (user, currency).
	volumes map[[2]string]apd.Decimal
	// The shards and fold watermarks tierRate adds the tail of referred
	// volume from (read once per batch).
	heads []ledger.Head
	marks map[int]int64
}

// tierKey is a program (version or product variant: each has its own
// tiers) and an affiliate.
type tierKey struct {
	p         *Program
	affiliate string
}

type codeKickback struct {
	owner string
	kick  *apd.Decimal
}

func newTradeLookups() *tradeLookups {
	return &tradeLookups{fees: map[[3]string]*apd.Decimal{}, shares: map[string][]TableShare{},
		tiers: map[tierKey]*apd.Decimal{}, codes: map[string]codeKickback{}}
}

func (l *tradeLookups) feeRate(ctx context.Context, tx pgx.Tx, group, market, liquidity string) (*apd.Decimal, error) {
	k := [3]string{group, market, liquidity}
	if r, ok := l.fees[k]; ok {
		return r, nil
	}
	r, err := feeRate(ctx, tx, group, market, liquidity)
	if err == nil {
		l.fees[k] = r
	}
	return r, err
}

func (l *tradeLookups) revenueShares(ctx context.Context, tx pgx.Tx, user string) ([]TableShare, error) {
	if sh, ok := l.shares[user]; ok {
		return sh, nil
	}
	all, err := loadRevenueShares(ctx, tx, []string{user})
	if err == nil {
		l.shares[user] = all[user]
	}
	return all[user], err
}

// tierRate is the rate of the highest volume tier of p that affiliate
// reaches by referral count and referred volume (in the reporting currency
// rep) in the 30 days before now (nil: none).
func (l *tradeLookups) tierRate(ctx context.Context, rep string, tx pgx.Tx, p *Program, affiliate string, now time.Time) (*apd.Decimal, error) {
	k := tierKey{p, affiliate}
	if r, ok := l.tiers[k]; ok {
		return r, nil
	}
	var referrals int64
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM users WHERE referrer_id = $1`, affiliate).Scan(&referrals); err != nil {
		return nil, err
	}
	// The referred volume folded so far plus the unfolded tail (fold.go):
	// exact whatever the folder's lag.
	since := now.Add(-30 * 24 * time.Hour)
	var vol string
	if err := tx.QueryRow(ctx, `SELECT coalesce(sum(volume), 0)::text FROM referred_volume_daily WHERE affiliate_id = $1 AND day >= $2`,
		affiliate, since).Scan(&vol); err != nil {
		return nil, err
	}
	volume, err := ledger.ParseStored(vol)
	if err != nil {
		return nil, err
	}
	if l.heads == nil {
		if l.heads, l.marks, err = foldPosition(ctx, tx); err != nil {
			return nil, err
		}
	}
	tail, args := tailWhere("t.", l.heads, l.marks, 3)
	vf, err := referredVolume(ctx, tx, rep, `u.referrer_id = $1 AND date_trunc('day', t.executed_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' >= $2 AND `+tail,
		append([]any{affiliate, since}, args...)...)
	if err != nil {
		return nil, err
	}
	more, err := vf.total()
	if err != nil {
		return nil, err
	}
	if _, err := exact.Add(&volume, &volume, &more); err != nil {
		return nil, err
	}
	rate := highestTier(p, referrals, &volume)
	l.tiers[k] = rate
	return rate, nil
}

// codeKickback returns a referral code's owner and kickback share (none
// for a code that does not exist).
func (l *tradeLookups) codeKickback(ctx context.Context, tx pgx.Tx, code string) (string, *apd.Decimal, error) {
	if c, ok := l.codes[code]; ok {
		return c.owner, c.kick, nil
	}
	var c codeKickback
	var kick *string
	err := tx.QueryRow(ctx, `SELECT owner_id, kickback::text FROM referral_codes WHERE code = $1`, code).Scan(&c.owner, &kick)
	if err != nil && !isNoRows(err) {
		return "", nil, err
	}
	if err == nil {
		if c.kick, err = ledger.ParseStoredOptional(kick); err != nil {
			return "", nil, err
		}
	}
	l.codes[code] = c
	return c.owner, c.kick, nil
}

// writeTrades records posted trades (step 7): one multi-row insert of the
// trades and one of their accruals (insertAccruals), each carrying the
// commission entry's journal position, and the first-trade milestones, all
// sent to w, recorded at now: the time the journal recorded their entries,
// so that their compact accruals, found through their 208 lines (migration
// 049), are in that order. The statistics rollups and the referred volume
// are folded later from the committed rows (fold.go). The FX rates come from cache
// (step 5, in force at each trade's executed_at); q is for the reads a
// miss would need, noReads while a pipe holds the transaction. It returns
// the accruals as the folder would read them back (foldmem.go).
func (s *Service) writeTrades(ctx context.Context, q schema.Querier, w schema.Execer, now time.Time, ws []*tradeWork, cache rateCache) ([]foldRow, error) {
	n := len(ws)
	var (
		ids, users, markets, liqs, feeAmts, feeCurs, volAmts, volCurs, cps, programs, kinds, bases, explains, feeIDs, commIDs, products = make([]string, n),
			make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]*string, n), make([]*string, n),
			make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n),
			make([]string, n)
		// What the trade's accruals share (migration 042), for a trade
		// with accruals.
		codes, countries, fxs, feeReps, volReps, repCurs = make([]*string, n), make([]*string, n), make([]*string, n), make([]*string, n),
			make([]*string, n), make([]*string, n)
		computed     = make([]bool, n)
		executed     = make([]time.Time, n)
		hashes       = make([][]byte, n)
		shards, seqs = make([]int64, n), make([]int64, n)
	)
	var accruals []accrualRow
	rep := s.reporting()
	for i, w := range ws {
		t := w.in
		ids[i], users[i], markets[i], liqs[i] = t.ID, t.UserID, t.Market, t.Liquidity
		feeAmts[i], feeCurs[i], computed[i] = ledger.Format(&w.fee), w.feeCur.ID, w.computed
		if w.volume != nil {
			volAmts[i], volCurs[i] = decText(w.volume), &t.Volume.Currency
		}
		cps[i], executed[i], products[i] = t.CounterpartyID, tradeTime(w), t.Product
		shards[i], seqs[i] = int64(w.shard), w.seq
		h := sha256.Sum256(w.content)
		hashes[i] = h[:]
		if w.program != nil {
			programs[i], kinds[i] = w.program.ID, w.program.Kind
		}
		bases[i] = ledger.Format(&w.split.Basis)
		explains[i], feeIDs[i], commIDs[i] = storedExplanation(w.explain, programs[i], kinds[i], bases[i]), w.feeID, w.commID
		var volRep *apd.Decimal
		if w.volume != nil && len(w.split.Shares) > 0 {
			fx, err := fxRate(ctx, q, cache, t.Volume.Currency, rep, executed[i])
			if err != nil {
				return nil, err
			}
			if volRep, err = convert(w.volume, fx); err != nil {
				return nil, err
			}
		}
		// The fee currency's rate at the trade's time: the trade row's, and
		// every accrual's (fixedFX: insertAccruals would look up the same).
		var fx *apd.Decimal
		if len(w.split.Shares) > 0 {
			var err error
			if fx, err = fxRate(ctx, q, cache, w.feeCur.ID, rep, executed[i]); err != nil {
				return nil, err
			}
			feeRep, err := convert(&w.fee, fx)
			if err != nil {
				return nil, err
			}
			codes[i], countries[i], repCurs[i] = &w.code, &w.country, &rep
			fxs[i], feeReps[i], volReps[i] = decText(fx), decText(feeRep), decText(volRep)
		}
		compact := len(w.split.Shares) <= maxCompactAccruals
		for k, sh := range w.split.Shares {
			rate := sh.Rate
			basis := w.split.Basis
			fee := w.fee
			a := accrualRow{source: "trade", tradeID: t.ID, entryID: w.commID, beneficiary: sh.Beneficiary, trader: t.UserID,
				level: sh.Level, program: w.program.ID, kind: w.program.Kind, rate: &rate, basis: &basis, amount: sh.Amount,
				currency: w.feeCur.ID, market: t.Market, code: w.code, fee: &fee, volumeRep: volRep, country: w.country, trades: 1,
				at: executed[i], shard: w.shard, seq: w.seq, fixedFX: fx, fxFixed: true}
			if compact {
				a.compact, a.id = true, compactAccrualID(w.commID, k)
			}
			accruals = append(accruals, a)
		}
	}
	_, err := w.Exec(ctx, sqlInsertTrades,
		ids, users, markets, liqs, feeAmts, feeCurs, computed, volAmts, volCurs, cps, executed, hashes, programs, kinds, bases, explains, feeIDs, commIDs, now,
		shards, seqs, products, codes, countries, fxs, feeReps, volReps, repCurs)
	if err != nil {
		return nil, err
	}
	folded := make([]foldRow, 0, len(accruals))
	if err := s.insertAccruals(ctx, q, w, now, cache, accruals, &folded); err != nil {
		return nil, err
	}
	// The first_trade milestone (statistics' referral counts): set, or moved
	// earlier, from the trades themselves. It stays on the writer: it
	// updates the trader's own row (the trader's shard) and writes only on a
	// user's first trade, and every read of users sees it exact.
	_, err = w.Exec(ctx, sqlFirstTrade, users, executed) // prepared under its size generation by the pipe, like the balances' UPDATE
	return folded, err
}

// tradeWriteStatements are the statements booking trades writes through its
// pipe: the ledger's, then writeTrades'.
var tradeWriteStatements = append(append([]string{}, ledger.WriteStatements...),
	sqlInsertTrades, sqlInsertAccruals, sqlFirstTrade)

// The statements of writeTrades besides the accruals'.
var (
	sqlInsertTrades = `INSERT INTO trades (id, user_id, market, liquidity, fee_amount, fee_currency, fee_computed, volume_amount, volume_currency,
			counterparty_id, executed_at, recorded_at, content_hash, program_id, program_kind, basis, explanation, fee_entry_id, commission_entry_id,
			shard, seq, product, code, country, fx_rate, fee_reporting, volume_reporting, reporting_currency)
		SELECT id, usr, mkt, liq, fa::numeric, fc, comp, va::numeric, vc, NULLIF(cp, ''), ex, $19, h, NULLIF(prog, ''), NULLIF(kind, ''),
			basis::numeric, expl::jsonb, fe::uuid, ce::uuid, sh, sq, prod, code, country, fx::numeric, feerep::numeric, volrep::numeric, repcur
		FROM ` + schema.Zip(`$1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bool[], $8::text[], $9::text[], $10::text[],
			$11::timestamptz[], $12::bytea[], $13::text[], $14::text[], $15::text[], $16::text[], $17::text[], $18::text[], $20::bigint[], $21::bigint[],
			$22::text[], $23::text[], $24::text[], $25::text[], $26::text[], $27::text[], $28::text[]`,
		`id, usr, mkt, liq, fa, fc, comp, va, vc, cp, ex, h, prog, kind, basis, expl, fe, ce, sh, sq, prod, code, country, fx, feerep, volrep, repcur`) + ` AS u`
	sqlBookedTrades = `SELECT id, content_hash, fee_entry_id::text, commission_entry_id::text FROM trades WHERE id = ANY($1)`
	sqlFirstTrade   = `UPDATE users SET first_trade_at = f.t
		FROM (SELECT id, min(t) AS t FROM ` + schema.Zip(`$1::text[], $2::timestamptz[]`, `id, t`) + ` AS u GROUP BY id) f
		WHERE users.id = f.id AND (users.first_trade_at IS NULL OR users.first_trade_at > f.t)`
)

// errReadInPipe is a read attempted while a pipe holds the transaction: a
// bug (the data must be read before the pipe starts), reported as an error
// instead of corrupting the connection's protocol state.
var errReadInPipe = errors.New("affiliate: a read during pipelined writes (read it before the pipe starts)")

// noReads is the Querier of code that runs while a pipe holds the
// transaction.
type noReads struct{}

func (noReads) Exec(context.Context, string, ...any) (pgconn.CommandTag, error) {
	return pgconn.CommandTag{}, errReadInPipe
}

func (noReads) Query(context.Context, string, ...any) (pgx.Rows, error) { return nil, errReadInPipe }

func (noReads) QueryRow(context.Context, string, ...any) pgx.Row { return errRow{} }

type errRow struct{}

func (errRow) Scan(...any) error { return errReadInPipe }

// explainedColumns are the keys of a trade's explanation that repeat its
// columns program_id, program_kind and basis.
var explainedColumns = [3]string{"program", "kind", "basis"}

// storedExplanation is the explanation as the trade row stores it: without
// program, kind and basis when it has all three and they are the row's
// (~60 B a trade); readers put them back (explanationRead). A trade with a
// program always has "program" in its explanation, so one whose stored
// explanation lacks it had the three. Nor does it store "platform", the
// fee less the trade's shares (~35 B a trade): every share is an accrual
// of the trade, so GetTrade puts it back from them (platformOf); trades
// stored before kept it.
func storedExplanation(explain map[string]any, program, kind, basis string) string {
	cols := [3]string{program, kind, basis}
	strip := program != ""
	for i, k := range explainedColumns {
		strip = strip && explain[k] == cols[i] // a missing key is nil, no string
	}
	explain = maps.Clone(explain)
	delete(explain, "platform")
	if strip {
		for _, k := range explainedColumns {
			delete(explain, k)
		}
	}
	b, _ := json.Marshal(explain)
	return string(b)
}

// platformOf is a trade's "platform" as its explanation gave it: its fee
// less its shares, which are its accruals from the trade (not those of a
// reversal).
func platformOf(fee *apd.Decimal, accruals []Accrual) (string, error) {
	var rest apd.Decimal
	rest.Set(fee)
	for i := range accruals {
		if accruals[i].Source != "trade" {
			continue
		}
		if _, err := exact.Sub(&rest, &rest, &accruals[i].Amount); err != nil {
			return "", err
		}
	}
	return ledger.Format(&rest), nil
}

// explanationRead is the explanation of a trade as written: the stored one
// with program, kind and basis put back when storedExplanation left them
// out.
func explanationRead(stored map[string]any, program, kind string, basis *apd.Decimal) map[string]any {
	if _, ok := stored["program"]; ok || program == "" {
		return stored
	}
	stored["program"], stored["kind"], stored["basis"] = program, kind, ledger.Format(basis)
	return stored
}
