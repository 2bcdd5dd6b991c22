package affiliate

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/cockroachdb/apd/v3"
	"github.com/folioledger/folio"
	"github.com/folioledger/folio/accounts"
	"github.com/folioledger/folio/internal/parallel"
	"github.com/folioledger/folio/internal/text"
	"github.com/folioledger/folio/ledger"
	"github.com/folioledger/folio/schema"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// MaxTradesPerBatch bounds one POST /v1/trades call.
const MaxTradesPerBatch = 1000

// Money is an amount in a currency, as strings from the API.
type Money struct {
	Amount   string
	Currency string
}

// NewTrade is an executed trade reported by the exchange. It carries the
// fee charged, or only the volume (the fee then comes from the schedule).
type NewTrade struct {
	ID             string
	UserID         string
	Market         string
	Liquidity      string // maker or taker
	Fee            *Money
	Volume         *Money
	CounterpartyID string
	ExecutedAt     time.Time
}

// Trade statuses in batch results.
const (
	TradeCreated  = "created"
	TradeExists   = "exists"
	TradeRejected = "rejected"
)

// TradeResult is the outcome of one trade of a batch.
type TradeResult struct {
	ID                string
	Status            string
	FeeEntryID        string
	CommissionEntryID string
	Err               error
}

// ValidTradeID reports whether id is 1 to 128 printable ASCII characters without spaces.
func ValidTradeID(id string) bool { return text.Chars(id, 1, 128, text.IsPrintable) }

// ValidMarket reports whether m is 1 to 32 characters of A-Z a-z 0-9 . _ / -
func ValidMarket(m string) bool {
	return text.Chars(m, 1, 32, func(b byte) bool { return text.IsName(b) || b == '/' })
}

// tradeWork is one trade on its way through a batch.
type tradeWork struct {
	in        NewTrade
	idx       int
	content   []byte
	fee       apd.Decimal
	feeCur    accounts.Currency
	volume    *apd.Decimal
	computed  bool
	feeID     string
	commID    string
	program   *Program
	split     *SplitResult
	explain   map[string]any
	ancestors []string
	code      string
	country   string
}

// PostTrades books a batch of trades in one transaction (see PostTradesTx).
func (s *Service) PostTrades(ctx context.Context, trades []NewTrade) ([]TradeResult, error) {
	if len(trades) > MaxTradesPerBatch {
		return nil, folio.Errorf(folio.EINVALID, "at most %d trades per call", MaxTradesPerBatch)
	}
	var out []TradeResult
	err := s.DB.JournalTx(ctx, func(tx pgx.Tx) error {
		var err error
		out, err = s.PostTradesTx(ctx, tx, trades)
		return err
	})
	return out, err
}

// PostTradesTx books trades inside the caller's transaction: for each new
// trade a trade_fee entry (Dr 202:C:trader / Cr 101:C) and a commission
// entry (Dr 101:C / Cr 208:C:beneficiary per share / Cr 605:C remainder,
// parent = the fee entry), with accrual rows snapshotting program, kind,
// level, rate, basis, amount and the reporting-currency conversion. A trade
// id already booked with the same content is "exists"; with other content,
// or invalid, "rejected" with its error; others are not affected.
func (s *Service) PostTradesTx(ctx context.Context, tx pgx.Tx, trades []NewTrade) ([]TradeResult, error) {
	now := s.now()
	results := make([]TradeResult, len(trades))
	chart, err := accounts.LoadChart(ctx, tx)
	if err != nil {
		return nil, err
	}
	checked := make([]*tradeWork, len(trades))
	errs := make([]error, len(trades))
	parallel.Run(len(trades), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			checked[i], errs[i] = checkTrade(chart, trades[i], now)
		}
	})
	var work []*tradeWork
	seen := map[string]*tradeWork{}
	for i, t := range trades {
		results[i].ID = t.ID
		w, err := checked[i], errs[i]
		if err != nil {
			results[i].Status, results[i].Err = TradeRejected, err
			continue
		}
		w.idx = i
		if prior := seen[t.ID]; prior != nil {
			results[i].Status = TradeExists
			if !bytes.Equal(prior.content, w.content) {
				results[i].Status, results[i].Err = TradeRejected, folio.Errorf(folio.EIDEMPOTENCY, "trade %s appears twice in the batch with different content", t.ID)
			}
			continue
		}
		seen[t.ID] = w
		work = append(work, w)
	}

	// Trades already booked.
	ids := make([]string, len(work))
	for i, w := range work {
		ids[i] = w.in.ID
	}
	existing := map[string][3]string{}
	existingHash := map[string][]byte{}
	if len(ids) > 0 {
		// Planned per call (like the ledger's lookups, see planEachTime in
		// ledger/store.go): a generic plan cached while trades was small
		// seq-scans it once it has grown.
		rows, err := tx.Query(ctx, `SELECT id, content_hash, fee_entry_id::text, commission_entry_id::text FROM trades WHERE id = ANY($1)`,
			pgx.QueryExecModeExec, ids)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var id, fe, ce string
			var h []byte
			if err := rows.Scan(&id, &h, &fe, &ce); err != nil {
				rows.Close()
				return nil, err
			}
			existing[id], existingHash[id] = [3]string{id, fe, ce}, h
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	var fresh []*tradeWork
	for _, w := range work {
		ex, ok := existing[w.in.ID]
		if !ok {
			fresh = append(fresh, w)
			continue
		}
		r := &results[w.idx]
		if h := sha256.Sum256(w.content); bytes.Equal(h[:], existingHash[w.in.ID]) {
			r.Status, r.FeeEntryID, r.CommissionEntryID = TradeExists, ex[1], ex[2]
		} else {
			r.Status, r.Err = TradeRejected, folio.Errorf(folio.EIDEMPOTENCY, "trade %s was already booked with different content", w.in.ID)
		}
	}
	// Duplicates inside the batch point at the first occurrence's entries.
	defer func() {
		for i, t := range trades {
			if results[i].Status == TradeExists && results[i].FeeEntryID == "" {
				if w := seen[t.ID]; w != nil {
					results[i].FeeEntryID, results[i].CommissionEntryID = results[w.idx].FeeEntryID, results[w.idx].CommissionEntryID
					if results[w.idx].Status == TradeRejected {
						results[i].Status, results[i].Err = TradeRejected, results[w.idx].Err
					}
				}
			}
		}
	}()
	if len(fresh) == 0 {
		return results, nil
	}

	users, progs, err := s.loadTradeContext(ctx, tx, fresh)
	if err != nil {
		return nil, err
	}
	cache := rateCache{}
	look := newTradeLookups()
	var ready []*tradeWork
	for _, w := range fresh {
		if err := s.prepareTrade(ctx, tx, chart, w, users, progs, look); err != nil {
			results[w.idx].Status, results[w.idx].Err = TradeRejected, err
			continue
		}
		ready = append(ready, w)
	}

	// The conversion rates into the reporting currency, read now: the
	// writes below go through a pipe, which holds the transaction.
	rep := s.reporting()
	for _, w := range ready {
		if _, err := fxRate(ctx, tx, cache, w.feeCur.ID, rep, now); err != nil {
			return nil, err
		}
		if w.volume != nil {
			if _, err := fxRate(ctx, tx, cache, w.in.Volume.Currency, rep, now); err != nil {
				return nil, err
			}
		}
	}
	// The ledger's inserts are sent without waiting for them, so that
	// PostgreSQL executes them while the trade, accrual and statistics rows
	// are built and sent behind them (schema.Pipe); Close waits for all.
	pipe := schema.NewPipe(tx, tradeWriteStatements...)
	defer pipe.Close()

	// Post through the ledger atomically; a trade whose entries the ledger
	// refuses is rejected and the rest posted again without it (nothing is
	// written until a batch is accepted).
	for len(ready) > 0 {
		ops := make([]ledger.Op, 0, 2*len(ready))
		for _, w := range ready {
			fe, ce := tradeEntries(w)
			ops = append(ops, ledger.Op{New: fe}, ledger.Op{New: ce})
		}
		res, err := s.Ledger.ApplyTx(ctx, tx, ops, ledger.Options{Atomic: true, Chart: chart, Writes: pipe, Fresh: true, Owner: Owner})
		if err == nil {
			break
		}
		if !errors.Is(err, ledger.ErrBatchRejected) {
			return nil, err
		}
		var keep []*tradeWork
		for i, w := range ready {
			e1, e2 := res[2*i].Err, res[2*i+1].Err
			failed := e1
			if failed == nil {
				failed = e2
			}
			if failed != nil && !errors.Is(failed, ledger.ErrNotWritten) {
				results[w.idx].Status, results[w.idx].Err = TradeRejected, failed
				continue
			}
			keep = append(keep, w)
		}
		if len(keep) == len(ready) {
			return nil, fmt.Errorf("post trades: the ledger rejected the batch without naming an item")
		}
		ready = keep
	}
	if len(ready) == 0 {
		return results, nil
	}
	if err := s.writeTrades(ctx, noReads{}, pipe, now, ready, cache); err != nil {
		return nil, err
	}
	if err := pipe.Close(); err != nil {
		return nil, err
	}
	for _, w := range ready {
		r := &results[w.idx]
		r.Status, r.FeeEntryID, r.CommissionEntryID = TradeCreated, w.feeID, w.commID
	}
	return results, nil
}

// checkTrade validates a trade without the database.
func checkTrade(chart *accounts.Chart, t NewTrade, now time.Time) (*tradeWork, error) {
	switch {
	case !ValidTradeID(t.ID):
		return nil, folio.Errorf(folio.EINVALID, "trade id must be 1 to 128 printable characters without spaces")
	case !accounts.ValidHolder(t.UserID):
		return nil, folio.Errorf(folio.EINVALID, "user_id must be 1 to 64 characters of A-Z a-z 0-9 . _ -")
	case !ValidMarket(t.Market):
		return nil, folio.Errorf(folio.EINVALID, "market must be 1 to 32 characters of A-Z a-z 0-9 . _ / -")
	case t.Liquidity != "maker" && t.Liquidity != "taker":
		return nil, folio.Errorf(folio.EINVALID, "liquidity must be maker or taker")
	case t.ExecutedAt.IsZero():
		return nil, folio.Errorf(folio.EINVALID, "executed_at is required")
	case t.ExecutedAt.After(now.Add(24 * time.Hour)):
		return nil, folio.Errorf(folio.EINVALID, "executed_at is more than 24 hours in the future")
	case ledger.CheckTime("executed_at", t.ExecutedAt, now) != nil:
		return nil, ledger.CheckTime("executed_at", t.ExecutedAt, now)
	case t.Fee == nil && t.Volume == nil:
		return nil, folio.Errorf(folio.EINVALID, "a trade carries a fee or a volume")
	case t.CounterpartyID != "" && !accounts.ValidHolder(t.CounterpartyID):
		return nil, folio.Errorf(folio.EINVALID, "counterparty_id must be 1 to 64 characters of A-Z a-z 0-9 . _ -")
	}
	w := &tradeWork{in: t, feeID: uuid.NewString(), commID: uuid.NewString()}
	money := func(field string, m *Money) (apd.Decimal, accounts.Currency, error) {
		cur, ok := chart.Currency(m.Currency)
		if !ok || !cur.Enabled {
			return apd.Decimal{}, cur, folio.Errorf(folio.ECURRENCY, "%s: currency %q does not exist or is disabled", field, m.Currency)
		}
		d, err := ledger.ParseAmount(m.Amount, cur.Precision)
		if err != nil {
			return d, cur, folio.Errorf(folio.EAMOUNT, "%s: %s", field, folio.ErrorMessage(err))
		}
		return d, cur, nil
	}
	if t.Volume != nil {
		v, _, err := money("volume", t.Volume)
		if err != nil {
			return nil, err
		}
		w.volume = &v
	}
	if t.Fee != nil {
		var err error
		if w.fee, w.feeCur, err = money("fee", t.Fee); err != nil {
			return nil, err
		}
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "user=%s\nmarket=%s\nliquidity=%s\ncounterparty=%s\nexecuted=%s\n", t.UserID, t.Market, t.Liquidity, t.CounterpartyID,
		t.ExecutedAt.UTC().Truncate(time.Microsecond).Format(time.RFC3339Nano))
	if t.Fee != nil {
		fmt.Fprintf(&b, "fee=%s %s\n", ledger.Format(&w.fee), t.Fee.Currency)
	}
	if w.volume != nil {
		fmt.Fprintf(&b, "volume=%s %s\n", ledger.Format(w.volume), t.Volume.Currency)
	}
	w.content = b.Bytes()
	return w, nil
}

// loadTradeContext loads the traders, their chains as deep as any program
// needs, and the programs.
func (s *Service) loadTradeContext(ctx context.Context, tx pgx.Tx, ws []*tradeWork) (map[string]*User, *programSet, error) {
	progs, err := loadPrograms(ctx, tx, s.Rules)
	if err != nil {
		return nil, nil, err
	}
	depth := 1
	for _, p := range progs.byID {
		if r, ok := s.Rules.Rule(p.Kind); ok {
			depth = max(depth, r.Depth(p))
		}
	}
	ids := make([]string, len(ws))
	for i, w := range ws {
		ids[i] = w.in.UserID
	}
	users, err := s.tradeUsers(ctx, tx, ids)
	if err != nil {
		return nil, nil, err
	}
	frontier := ids
	for level := 0; level < depth && len(frontier) > 0; level++ {
		var next []string
		for _, id := range frontier {
			if u := users[id]; u != nil && u.ReferrerID != "" {
				if _, ok := users[u.ReferrerID]; !ok {
					next = append(next, u.ReferrerID)
				}
			}
		}
		more, err := s.tradeUsers(ctx, tx, next)
		if err != nil {
			return nil, nil, err
		}
		for k, v := range more {
			users[k] = v
		}
		frontier = next
	}
	return users, progs, nil
}

// prepareTrade resolves a trade's fee, program, chain and split.
func (s *Service) prepareTrade(ctx context.Context, tx pgx.Tx, chart *accounts.Chart, w *tradeWork, users map[string]*User, progs *programSet, look *tradeLookups) error {
	u := users[w.in.UserID]
	if u == nil {
		return folio.Errorf(folio.ENOTFOUND, "user %s not found", w.in.UserID)
	}
	if w.in.Fee == nil {
		rate, err := look.feeRate(ctx, tx, u.Group, w.in.Market, w.in.Liquidity)
		if err != nil {
			return err
		}
		if rate == nil {
			return folio.Errorf(folio.EINVALID, "trade %s carries no fee and the fee schedule has no row for group %q, market %s", w.in.ID, u.Group, w.in.Market)
		}
		w.feeCur, _ = chart.Currency(w.in.Volume.Currency)
		var fee apd.Decimal
		if _, err := exact.Mul(&fee, rate, w.volume); err != nil {
			return err
		}
		if _, err := down.Quantize(&w.fee, &fee, -int32(w.feeCur.Precision)); err != nil {
			return err
		}
		w.computed = true
	}
	if w.fee.Sign() <= 0 {
		return folio.Errorf(folio.EAMOUNT, "trade %s has a zero fee: nothing to book", w.in.ID)
	}
	w.explain = map[string]any{}
	w.code, w.country = u.ReferralCode, u.Country
	p := progs.resolve(u)
	rule, prog := Rule(noRule{}), &Program{Kind: "none"}
	if p != nil {
		r, ok := s.Rules.Rule(p.Kind)
		if !ok {
			return folio.Errorf(folio.EINTERNAL, "no rule registered for program kind %s", p.Kind)
		}
		rule, prog = r, p
	}
	var baseFee apd.Decimal
	chain := &Chain{Trader: Member{ID: u.ID}}
	if p == nil {
		w.explain["reason"] = "no trade program applies to the trader (no assignment, group program or default)"
	} else {
		w.program = p
		w.explain["program"], w.explain["kind"] = p.ID, p.Kind
		if p.BaseFeeRate != nil && w.volume != nil {
			if w.in.Volume.Currency == w.feeCur.ID {
				if _, err := exact.Mul(&baseFee, p.BaseFeeRate, w.volume); err != nil {
					return err
				}
				w.explain["base_fee"] = ledger.Format(&baseFee)
			} else {
				w.explain["base_fee_skipped"] = "volume and fee are in different currencies"
			}
		}
		cur := u
		for len(chain.Ancestors) < rule.Depth(p) && cur.ReferrerID != "" {
			a := users[cur.ReferrerID]
			if a == nil {
				break
			}
			chain.Ancestors = append(chain.Ancestors, Member{ID: a.ID, Rate: a.Rate, KickbackRate: a.KickbackRate})
			w.ancestors = append(w.ancestors, a.ID)
			cur = a
		}
		inputs := rule.Inputs(p)
		if inputs.Has(InputRevenueShares) {
			shares, err := look.revenueShares(ctx, tx, u.ID)
			if err != nil {
				return err
			}
			chain.Trader.Shares = shares
			if len(chain.Trader.Shares) == 0 {
				w.explain["reason"] = "the trader has no revenue-share table"
			}
		}
		if inputs.Has(InputKickback) && len(chain.Ancestors) > 0 {
			if err := s.resolveKickback(ctx, tx, p, u, chain, look); err != nil {
				return err
			}
		}
		if rule.Depth(p) > 0 && len(chain.Ancestors) == 0 {
			w.explain["reason"] = "the trader has no referrer"
		}
	}
	split, err := Split(rule, prog, chain, &w.fee, &baseFee, w.feeCur.Precision)
	if err != nil {
		return err
	}
	w.split = split
	w.explain["basis"] = ledger.Format(&split.Basis)
	w.explain["platform"] = ledger.Format(&split.Remainder)
	if p != nil && len(split.Shares) == 0 && w.explain["reason"] == nil {
		w.explain["reason"] = "every share rounded down to zero at the currency precision, or the rates are zero"
	}
	return nil
}

// resolveKickback sets the direct referrer's rate (override, else the
// volume tier, else the program's) and the code's kickback.
func (s *Service) resolveKickback(ctx context.Context, tx pgx.Tx, p *Program, u *User, chain *Chain, look *tradeLookups) error {
	ref := &chain.Ancestors[0]
	if ref.KickbackRate == nil && len(p.Tiers) > 0 {
		rate, err := look.tierRate(ctx, tx, p, ref.ID, s.now())
		if err != nil {
			return err
		}
		ref.KickbackRate = rate
	}
	if u.ReferralCode != "" {
		owner, kick, err := look.codeKickback(ctx, tx, u.ReferralCode)
		if err != nil {
			return err
		}
		if owner == ref.ID {
			chain.CodeKickback = kick
		}
	}
	return nil
}

// tradeLookups memoizes, for one batch, what preparing a trade reads from
// the database — fee-schedule rates, revenue-share tables, volume tiers and
// code kickbacks — so a batch reads each once instead of once per trade.
// Nothing it reads changes within the batch's transaction before the
// trades are written.
type tradeLookups struct {
	fees   map[[3]string]*apd.Decimal
	shares map[string][]TableShare
	tiers  map[[2]string]*apd.Decimal
	codes  map[string]codeKickback
}

type codeKickback struct {
	owner string
	kick  *apd.Decimal
}

func newTradeLookups() *tradeLookups {
	return &tradeLookups{fees: map[[3]string]*apd.Decimal{}, shares: map[string][]TableShare{},
		tiers: map[[2]string]*apd.Decimal{}, codes: map[string]codeKickback{}}
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
// reaches by referral count and trailing-30-day referred volume (nil: none).
func (l *tradeLookups) tierRate(ctx context.Context, tx pgx.Tx, p *Program, affiliate string, now time.Time) (*apd.Decimal, error) {
	k := [2]string{p.ID, affiliate}
	if r, ok := l.tiers[k]; ok {
		return r, nil
	}
	var referrals int64
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM users WHERE referrer_id = $1`, affiliate).Scan(&referrals); err != nil {
		return nil, err
	}
	var vol string
	if err := tx.QueryRow(ctx, `SELECT coalesce(sum(volume), 0)::text FROM referred_volume_daily WHERE affiliate_id = $1 AND day >= $2`,
		affiliate, now.Add(-30*24*time.Hour)).Scan(&vol); err != nil {
		return nil, err
	}
	volume, err := ledger.ParseStored(vol)
	if err != nil {
		return nil, err
	}
	var rate *apd.Decimal
	for _, t := range p.Tiers { // highest rate first
		if referrals >= t.MinReferrals && volume.Cmp(&t.MinVolume) >= 0 {
			r := t.Rate
			rate = &r
			break
		}
	}
	l.tiers[k] = rate
	return rate, nil
}

// codeKickback returns a referral code's owner and kickback share.
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
		if c.kick, err = scanDec(kick); err != nil {
			return "", nil, err
		}
	}
	l.codes[code] = c
	return c.owner, c.kick, nil
}

// noRule pays nothing: trades without a program go to the platform.
type noRule struct{}

func (noRule) Validate(*Program) error { return nil }
func (noRule) Depth(*Program) int      { return 0 }
func (noRule) Inputs(*Program) Inputs  { return 0 }
func (noRule) Shares(*Program, *Chain, *apd.Decimal) ([]Share, error) {
	return nil, nil
}

// tradeEntries builds the two journal entries of a trade.
func tradeEntries(w *tradeWork) (*ledger.NewEntry, *ledger.NewEntry) {
	c := w.feeCur.ID
	fee := ledger.Format(&w.fee)
	md, _ := json.Marshal(map[string]string{"trade_id": w.in.ID, "market": w.in.Market, "liquidity": w.in.Liquidity})
	feeEntry := &ledger.NewEntry{
		ID: w.feeID, IdempotencyKey: "trade:" + w.in.ID, Kind: EntryTradeFee, Description: "Trade fee " + w.in.ID,
		EffectiveAt: w.in.ExecutedAt, Metadata: md,
		Postings: []ledger.NewPosting{
			{Account: "202:" + c + ":" + w.in.UserID, Side: accounts.Debit, Amount: fee},
			{Account: "101:" + c, Side: accounts.Credit, Amount: fee},
		},
	}
	comm := &ledger.NewEntry{
		ID: w.commID, IdempotencyKey: "commission:" + w.in.ID, Kind: EntryCommission, Description: "Commission split of trade " + w.in.ID,
		EffectiveAt: w.in.ExecutedAt, ParentID: w.feeID, Metadata: md,
		Postings: []ledger.NewPosting{{Account: "101:" + c, Side: accounts.Debit, Amount: fee}},
	}
	for _, sh := range w.split.Shares {
		comm.Postings = append(comm.Postings, ledger.NewPosting{Account: "208:" + c + ":" + sh.Beneficiary, Side: accounts.Credit, Amount: ledger.Format(&sh.Amount)})
	}
	if w.split.Remainder.Sign() > 0 {
		comm.Postings = append(comm.Postings, ledger.NewPosting{Account: "605:" + c, Side: accounts.Credit, Amount: ledger.Format(&w.split.Remainder)})
	}
	return feeEntry, comm
}

// tradeWriteStatements are the statements booking trades writes through its
// pipe.
var tradeWriteStatements = append(append([]string{}, ledger.WriteStatements...),
	sqlInsertTrades, sqlInsertAccruals, sqlHourly, sqlDaily, sqlReferees, sqlFirstTrade, sqlReferredVolume)

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
