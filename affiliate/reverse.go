package affiliate

import (
	"context"
	"errors"

	"github.com/cockroachdb/apd/v3"

	"github.com/folioledger/folio"
	"github.com/folioledger/folio/ledger"
	"github.com/jackc/pgx/v5"
)

// ReversedTrade is the outcome of a trade reversal.
type ReversedTrade struct {
	TradeID              string
	FeeReversalID        string
	CommissionReversalID string
}

// ReverseTrade reverses a busted trade: both its entries (commission first,
// so 101 never holds a residue) and its accruals (rows with negative
// amounts). Commissions already paid out leave the affiliate's 208 balance
// negative — a clawback carried forward. A trade is reversed once
// (already_reversed).
func (s *Service) ReverseTrade(ctx context.Context, id, actor string) (*ReversedTrade, error) {
	var out *ReversedTrade
	err := s.Ledger.JournalTx(ctx, func(tx pgx.Tx) error {
		now := s.now()
		var feeID, commID string
		err := tx.QueryRow(ctx, `SELECT fee_entry_id::text, commission_entry_id::text FROM trades WHERE id = $1`, id).Scan(&feeID, &commID)
		if isNoRows(err) {
			return notFound("trade", id)
		}
		if err != nil {
			return err
		}
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM trade_reversals WHERE trade_id = $1)`, id).Scan(&exists); err != nil {
			return err
		}
		if exists {
			return folio.Errorf(folio.EREVERSED, "trade %s is already reversed", id)
		}
		ops := []ledger.Op{
			{Reverse: &ledger.ReverseOp{EntryID: commID, IdempotencyKey: "reverse-commission:" + id, Description: "Reversal of the commission of busted trade " + id}},
			{Reverse: &ledger.ReverseOp{EntryID: feeID, IdempotencyKey: "reverse-trade:" + id, Description: "Reversal of busted trade " + id}},
		}
		res, err := s.Ledger.ApplyTx(ctx, tx, ops, ledger.Options{Atomic: true, Owner: Owner})
		if err != nil {
			if errors.Is(err, ledger.ErrBatchRejected) {
				for _, r := range res {
					if r.Err != nil && !errors.Is(r.Err, ledger.ErrNotWritten) {
						return r.Err
					}
				}
			}
			return err
		}
		out = &ReversedTrade{TradeID: id, CommissionReversalID: res[0].Entry.ID, FeeReversalID: res[1].Entry.ID}
		rows, err := tx.Query(ctx, `SELECT a.id::text, a.beneficiary, a.trader_id, a.level, a.program_id, a.kind, a.rate::text, a.basis::text,
				a.amount::text, a.currency, a.market, a.code, a.trade_fee::text, a.volume_reporting::text, a.country, a.fx_rate::text,
				coalesce(a.business_at, t.executed_at)
			FROM trades t CROSS JOIN LATERAL `+sqlTradeAccrualIDs("t", "x.source = 'trade'")+` AS ids JOIN accruals_whole a ON a.id = ids.id
			WHERE t.id = $1 ORDER BY a.id`, id)
		if err != nil {
			return err
		}
		var rev []accrualRow
		for rows.Next() {
			var r accrualRow
			var rate, basis, fee, vol, fx *string
			var amt string
			var level int64
			if err := rows.Scan(&r.reverses, &r.beneficiary, &r.trader, &level, &r.program, &r.kind, &rate, &basis, &amt, &r.currency, &r.market, &r.code,
				&fee, &vol, &r.country, &fx, &r.at); err != nil {
				rows.Close()
				return err
			}
			r.level = int(level)
			if r.rate, err = ledger.ParseStoredOptional(rate); err != nil {
				rows.Close()
				return err
			}
			if r.basis, err = ledger.ParseStoredOptional(basis); err != nil {
				rows.Close()
				return err
			}
			a, err := ledger.ParseStored(amt)
			if err != nil {
				rows.Close()
				return err
			}
			a.Negative = !a.Negative
			r.amount, r.source, r.tradeID, r.entryID, r.trades = a, "reversal", id, out.CommissionReversalID, -1
			r.shard, r.seq = res[0].Entry.Shard, res[0].Entry.Seq
			if r.fixedFX, err = ledger.ParseStoredOptional(fx); err != nil {
				rows.Close()
				return err
			}
			r.fxFixed = true
			// The reversal row carries the trade's fee and volume negated, so
			// statistics net out by plain sums.
			for _, x := range []struct {
				dst **apd.Decimal
				s   *string
			}{{&r.fee, fee}, {&r.volumeRep, vol}} {
				if *x.dst, err = ledger.ParseStoredOptional(x.s); err != nil {
					rows.Close()
					return err
				}
				if *x.dst != nil {
					(*x.dst).Negative = !(*x.dst).Negative
				}
			}
			rev = append(rev, r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if err := s.insertAccruals(ctx, tx, tx, now, rateCache{}, rev, nil); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO trade_reversals (trade_id, fee_reversal_id, commission_reversal, recorded_at, actor) VALUES ($1, $2, $3, $4, $5)`,
			id, out.FeeReversalID, out.CommissionReversalID, now, actor)
		return raced(err, "trade %s was reversed by a concurrent request; send the request again", id)
	})
	return out, err
}
