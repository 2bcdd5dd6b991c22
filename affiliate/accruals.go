package affiliate

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"time"

	"github.com/cockroachdb/apd/v3"
	"github.com/folioledger/folio/ledger"
	"github.com/folioledger/folio/schema"
	"github.com/google/uuid"
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
	at          time.Time // conversion time; zero = now
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
}

// insertAccruals writes accrual rows with one multi-row insert, converting
// each amount into the reporting currency at the rate in force.
func (s *Service) insertAccruals(ctx context.Context, q schema.Querier, w schema.Execer, now time.Time, cache rateCache, rows []accrualRow) error {
	if len(rows) == 0 {
		return nil
	}
	n := len(rows)
	ids, sources, trades, events, entries, bens, traders, programs, kinds, currencies, markets, codes, reverses :=
		make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n),
		make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	rates, bases, amounts, fxs, reps := make([]*string, n), make([]*string, n), make([]string, n), make([]*string, n), make([]*string, n)
	fees, feeReps, volReps, countries := make([]*string, n), make([]*string, n), make([]*string, n), make([]string, n)
	levels := make([]int64, n)
	rep := s.reporting()
	roll := newRollup()
	for i, r := range rows {
		ids[i], sources[i], trades[i], events[i], entries[i] = uuid.NewString(), r.source, r.tradeID, r.eventID, r.entryID
		bens[i], traders[i], programs[i], kinds[i], currencies[i] = r.beneficiary, r.trader, r.program, r.kind, r.currency
		markets[i], codes[i], reverses[i], levels[i] = r.market, r.code, r.reverses, int64(r.level)
		rates[i], bases[i], amounts[i] = decText(r.rate), decText(r.basis), ledger.Format(&r.amount)
		at := r.at
		if at.IsZero() {
			at = now
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
		fxs[i], reps[i] = decText(fx), decText(conv)
		var feeRep *apd.Decimal
		if r.fee != nil {
			if feeRep, err = convert(r.fee, fx); err != nil {
				return err
			}
		}
		fees[i], feeReps[i], volReps[i], countries[i] = decText(r.fee), decText(feeRep), decText(r.volumeRep), r.country
		if err := roll.add(&r, now, conv, feeRep); err != nil {
			return err
		}
	}
	_, err := w.Exec(ctx, sqlInsertAccruals,
		ids, sources, trades, events, entries, bens, traders, levels, programs, kinds, rates, bases, amounts, currencies, fxs, reps, markets,
		rep, now, codes, reverses, fees, feeReps, volReps, countries)
	if err != nil {
		return err
	}
	return roll.write(ctx, w)
}

// writeTrades records booked trades, their accruals and the referred
// volume rollup.
func (s *Service) writeTrades(ctx context.Context, q schema.Querier, w schema.Execer, now time.Time, ws []*tradeWork, cache rateCache) error {
	n := len(ws)
	var (
		ids, users, markets, liqs, feeAmts, feeCurs, volAmts, volCurs, cps, programs, kinds, bases, explains, feeIDs, commIDs = make([]string, n),
			make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]*string, n), make([]*string, n),
			make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		computed = make([]bool, n)
		executed = make([]time.Time, n)
		hashes   = make([][]byte, n)
	)
	var accruals []accrualRow
	volume := map[[2]string]*[2]apd.Decimal{} // (affiliate, day) → volume, trades
	var keys [][2]string
	rep := s.reporting()
	for i, w := range ws {
		t := w.in
		ids[i], users[i], markets[i], liqs[i] = t.ID, t.UserID, t.Market, t.Liquidity
		feeAmts[i], feeCurs[i], computed[i] = ledger.Format(&w.fee), w.feeCur.ID, w.computed
		if w.volume != nil {
			volAmts[i], volCurs[i] = decText(w.volume), &t.Volume.Currency
		}
		cps[i], executed[i] = t.CounterpartyID, t.ExecutedAt.UTC().Truncate(time.Microsecond)
		h := sha256.Sum256(w.content)
		hashes[i] = h[:]
		if w.program != nil {
			programs[i], kinds[i] = w.program.ID, w.program.Kind
		}
		bases[i] = ledger.Format(&w.split.Basis)
		b, _ := json.Marshal(w.explain)
		explains[i], feeIDs[i], commIDs[i] = string(b), w.feeID, w.commID
		u := ""
		if len(w.ancestors) > 0 {
			u = w.ancestors[0]
		}
		var volRep *apd.Decimal
		if w.volume != nil {
			fx, err := fxRate(ctx, q, cache, t.Volume.Currency, rep, now)
			if err != nil {
				return err
			}
			if volRep, err = convert(w.volume, fx); err != nil {
				return err
			}
		}
		for _, sh := range w.split.Shares {
			rate := sh.Rate
			basis := w.split.Basis
			fee := w.fee
			accruals = append(accruals, accrualRow{source: "trade", tradeID: t.ID, entryID: w.commID, beneficiary: sh.Beneficiary, trader: t.UserID,
				level: sh.Level, program: w.program.ID, kind: w.program.Kind, rate: &rate, basis: &basis, amount: sh.Amount,
				currency: w.feeCur.ID, market: t.Market, code: w.code, fee: &fee, volumeRep: volRep, country: w.country, trades: 1})
		}
		if u != "" && volRep != nil {
			conv := volRep
			{
				day := executed[i].Truncate(24 * time.Hour)
				k := [2]string{u, day.Format(time.RFC3339)}
				v := volume[k]
				if v == nil {
					v = &[2]apd.Decimal{}
					volume[k] = v
					keys = append(keys, k)
				}
				if _, err := exact.Add(&v[0], &v[0], conv); err != nil {
					return err
				}
				if _, err := exact.Add(&v[1], &v[1], apd.New(1, 0)); err != nil {
					return err
				}
			}
		}
	}
	_, err := w.Exec(ctx, sqlInsertTrades,
		ids, users, markets, liqs, feeAmts, feeCurs, computed, volAmts, volCurs, cps, executed, hashes, programs, kinds, bases, explains, feeIDs, commIDs, now)
	if err != nil {
		return err
	}
	if err := s.insertAccruals(ctx, q, w, now, cache, accruals); err != nil {
		return err
	}
	// The first_trade milestone (statistics' referral counts): set, or moved
	// earlier, from the trades themselves.
	if _, err := w.Exec(ctx, sqlFirstTrade, users, executed); err != nil {
		return err
	}
	if len(keys) == 0 {
		return nil
	}
	affs, days, vols, counts := make([]string, len(keys)), make([]time.Time, len(keys)), make([]string, len(keys)), make([]int64, len(keys))
	for i, k := range keys {
		affs[i] = k[0]
		days[i], _ = time.Parse(time.RFC3339, k[1])
		vols[i] = ledger.Format(&volume[k][0])
		c, _ := volume[k][1].Int64()
		counts[i] = c
	}
	_, err = w.Exec(ctx, sqlReferredVolume, affs, days, vols, counts)
	return err
}

// The statements booking trades writes with (tradeWriteStatements).
const (
	sqlInsertAccruals = `INSERT INTO accruals (id, source, trade_id, event_id, entry_id, beneficiary, trader_id, level, program_id, kind,
			rate, basis, amount, currency, fx_rate, reporting_amount, reporting_currency, market, code, reverses, recorded_at,
			trade_fee, fee_reporting, volume_reporting, country)
		SELECT id::uuid, src, NULLIF(tr, ''), NULLIF(ev, ''), en::uuid, ben, trader, lvl, prog, kind, rate::numeric, basis::numeric,
			amt::numeric, cur, fx::numeric, rep::numeric, $18, mkt, code, NULLIF(rev, '')::uuid, $19, fee::numeric, feerep::numeric,
			volrep::numeric, country
		FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::bigint[], $9::text[],
			$10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::text[], $16::text[], $17::text[], $20::text[], $21::text[],
			$22::text[], $23::text[], $24::text[], $25::text[])
			AS u(id, src, tr, ev, en, ben, trader, lvl, prog, kind, rate, basis, amt, cur, fx, rep, mkt, code, rev, fee, feerep, volrep, country)`
	sqlInsertTrades = `INSERT INTO trades (id, user_id, market, liquidity, fee_amount, fee_currency, fee_computed, volume_amount, volume_currency,
			counterparty_id, executed_at, recorded_at, content_hash, program_id, program_kind, basis, explanation, fee_entry_id, commission_entry_id)
		SELECT id, usr, mkt, liq, fa::numeric, fc, comp, va::numeric, vc, NULLIF(cp, ''), ex, $19, h, NULLIF(prog, ''), NULLIF(kind, ''),
			basis::numeric, expl::jsonb, fe::uuid, ce::uuid
		FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bool[], $8::text[], $9::text[], $10::text[],
			$11::timestamptz[], $12::bytea[], $13::text[], $14::text[], $15::text[], $16::text[], $17::text[], $18::text[])
			AS u(id, usr, mkt, liq, fa, fc, comp, va, vc, cp, ex, h, prog, kind, basis, expl, fe, ce)`
	sqlFirstTrade = `UPDATE users SET first_trade_at = f.t
		FROM (SELECT id, min(t) AS t FROM unnest($1::text[], $2::timestamptz[]) AS u(id, t) GROUP BY id) f
		WHERE users.id = f.id AND (users.first_trade_at IS NULL OR users.first_trade_at > f.t)`
	sqlReferredVolume = `INSERT INTO referred_volume_daily (affiliate_id, day, volume, trades)
		SELECT a, d, v::numeric, c FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::bigint[]) AS u(a, d, v, c)
		ON CONFLICT (affiliate_id, day) DO UPDATE SET volume = referred_volume_daily.volume + excluded.volume,
			trades = referred_volume_daily.trades + excluded.trades`
)
