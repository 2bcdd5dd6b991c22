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
	"github.com/jackc/pgx/v5"
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
	Product        string // product line (ValidProduct); "": DefaultProduct
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
	// shard and seq are the commission entry's journal position (the
	// statistics folder's order, see fold.go); feeSeq is the fee entry's.
	shard  int
	seq    int64
	feeSeq int64
}

// PostTrades books a batch of trades in one transaction (see PostTradesTx).
func (s *Service) PostTrades(ctx context.Context, trades []NewTrade) ([]TradeResult, error) {
	if len(trades) > MaxTradesPerBatch {
		return nil, folio.Errorf(folio.EINVALID, "at most %d trades per call", MaxTradesPerBatch)
	}
	var booked Booked
	err := s.Ledger.JournalTx(ctx, func(tx pgx.Tx) error {
		var err error
		booked, err = s.BookTradesTx(ctx, tx, trades)
		return err
	})
	if err != nil {
		return nil, err
	}
	booked.Committed()
	return booked.Results, nil
}

// tradeBatch is what the steps of one PostTradesTx share (see "The write
// path of trades" in the package doc).
type tradeBatch struct {
	now time.Time // the clock, read once per transaction
	// recorded is the time the journal recorded the batch's entries (one
	// ledger batch: one time): its trades' recorded_at, and their compact
	// accruals' (migration 049).
	recorded time.Time
	newID    func() string // the entries' ids (schema.DB.NewID)
	chart    *accounts.Chart
	results  []TradeResult         // one per trade, in the caller's order
	first    map[string]*tradeWork // each trade id's first valid occurrence
	repeats  []int                 // later occurrences with the same content
	rep      string                // the reporting currency
	users    map[string]*User      // traders and their chains
	// usersVersion is the user cache's version as the transaction sees
	// it, read once by loadTradeContext (usersVersion).
	usersVersion int64
	progs        *programSet
	look         *tradeLookups
	rates        rateCache
}

// PostTradesTx books trades inside the caller's transaction: for each new
// trade a trade_fee entry (Dr 202:C:trader / Cr 101:C) and a commission
// entry (Dr 101:C / Cr 208:C:beneficiary per share / Cr 605:C remainder,
// parent = the fee entry), with accrual rows snapshotting program, kind,
// level, rate, basis, amount and the reporting-currency conversion. A trade
// id already booked with the same content is "exists"; with other content,
// or invalid, "rejected" with its error; others are not affected. It
// returns one result per trade, in order, or the error that fails the
// transaction. Its steps are the numbered list of the package doc.
func (s *Service) PostTradesTx(ctx context.Context, tx pgx.Tx, trades []NewTrade) ([]TradeResult, error) {
	booked, err := s.BookTradesTx(ctx, tx, trades)
	return booked.Results, err
}

// BookTradesTx is PostTradesTx also returning what the statistics folder
// can fold from memory: the caller calls Booked.Committed once tx has
// committed (foldmem.go). It is PrepareTrades and BookPreparedTx in one
// transaction.
func (s *Service) BookTradesTx(ctx context.Context, tx pgx.Tx, trades []NewTrade) (Booked, error) {
	p, err := s.PrepareTrades(ctx, tx, trades)
	if err != nil {
		return Booked{}, err
	}
	return s.BookPreparedTx(ctx, tx, p)
}

// PrepareTrades is steps 1 to 5 of BookTradesTx: everything that reads
// before the writes. tx only reads, so it may be a read-only snapshot
// taken ahead of the journal writer's transaction (see "The write path of
// trades" in the package doc, and "Overlap" in package ingest);
// BookPreparedTx then books the result, once.
func (s *Service) PrepareTrades(ctx context.Context, tx pgx.Tx, trades []NewTrade) (*Prepared, error) {
	b := &tradeBatch{now: s.now(), rep: s.reporting(), results: make([]TradeResult, len(trades)), first: map[string]*tradeWork{},
		newID: s.DB.NewID}
	var err error
	if b.chart, err = accounts.LoadChart(ctx, tx); err != nil {
		return nil, err
	}
	todo := b.check(trades)
	if todo, err = b.skipBooked(ctx, tx, todo); err != nil {
		return nil, err
	}
	if err := s.loadTradeContext(ctx, tx, b, todo); err != nil {
		return nil, err
	}
	todo = s.prepareTrades(ctx, tx, b, todo)
	if err := b.readRates(ctx, tx, s.reporting(), todo); err != nil {
		return nil, err
	}
	return &Prepared{b: b, todo: todo}, nil
}

// BookPreparedTx is steps 6 to 8 of BookTradesTx: it books p, prepared by
// PrepareTrades, in tx, the journal writer's transaction. When p was
// prepared in another transaction, the caller checks first that nothing
// booked since has changed what p read (Prepared.Stale).
func (s *Service) BookPreparedTx(ctx context.Context, tx pgx.Tx, p *Prepared) (Booked, error) {
	if p.used {
		return Booked{}, fmt.Errorf("book trades: a prepared batch is booked once")
	}
	p.used = true
	b, todo := p.b, p.todo
	// Steps 6 and 7 write through one pipe; closing it on every path
	// leaves tx usable (or aborted) for the caller.
	pipe := schema.NewPipe(tx, tradeWriteStatements...)
	defer pipe.Close()
	todo, err := s.postEntries(ctx, tx, b, pipe, todo)
	if err != nil {
		return Booked{}, err
	}
	folded, err := s.writeBooked(ctx, b, pipe, todo)
	if err != nil {
		return Booked{}, err
	}
	b.report(todo)
	return Booked{Results: b.results, mem: s.foldMem, fold: foldSegments(b, todo, folded), touched: touchedBy(b, todo)}, nil
}

// check is step 1: it validates every trade in memory (no SQL), spread
// over the cores, and returns the first occurrence of each valid trade id.
// An invalid trade is rejected; a repeat with other content is rejected,
// and one with the same content waits for report.
func (b *tradeBatch) check(trades []NewTrade) []*tradeWork {
	checked := make([]*tradeWork, len(trades))
	errs := make([]error, len(trades))
	parallel.Run(len(trades), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			checked[i], errs[i] = checkTrade(b.chart, trades[i], b.now, b.newID)
		}
	})
	var todo []*tradeWork
	for i, t := range trades {
		r := &b.results[i]
		r.ID = t.ID
		w, err := checked[i], errs[i]
		if err != nil {
			r.Status, r.Err = TradeRejected, err
			continue
		}
		w.idx = i
		if prior := b.first[t.ID]; prior != nil {
			if bytes.Equal(prior.content, w.content) {
				r.Status = TradeExists
				b.repeats = append(b.repeats, i)
			} else {
				r.Status, r.Err = TradeRejected, folio.Errorf(folio.EIDEMPOTENCY, "trade %s appears twice in the batch with different content", t.ID)
			}
			continue
		}
		b.first[t.ID] = w
		todo = append(todo, w)
	}
	return todo
}

// skipBooked is step 2: it looks the trades up among the booked ones (one
// query) and returns those not booked yet. A booked trade with the same
// content is "exists" with its entry ids, with other content "rejected".
func (b *tradeBatch) skipBooked(ctx context.Context, tx pgx.Tx, todo []*tradeWork) ([]*tradeWork, error) {
	if len(todo) == 0 {
		return nil, nil
	}
	ids := make([]string, len(todo))
	for i, w := range todo {
		ids[i] = w.in.ID
	}
	booked, err := bookedTrades(ctx, tx, ids)
	if err != nil {
		return nil, err
	}
	var fresh []*tradeWork
	for _, w := range todo {
		bt, ok := booked[w.in.ID]
		if !ok {
			fresh = append(fresh, w)
			continue
		}
		r := &b.results[w.idx]
		if h := sha256.Sum256(w.content); bytes.Equal(h[:], bt.hash) {
			r.Status, r.FeeEntryID, r.CommissionEntryID = TradeExists, bt.feeID, bt.commID
		} else {
			r.Status, r.Err = TradeRejected, folio.Errorf(folio.EIDEMPOTENCY, "trade %s was already booked with different content", w.in.ID)
		}
	}
	return fresh, nil
}

// prepareTrades is step 4: it prepares each trade (prepareTrade) and
// returns those ready to post; a trade that fails is rejected alone.
func (s *Service) prepareTrades(ctx context.Context, tx pgx.Tx, b *tradeBatch, todo []*tradeWork) []*tradeWork {
	var ready []*tradeWork
	for _, w := range todo {
		if err := s.prepareTrade(ctx, tx, b, w); err != nil {
			b.results[w.idx].Status, b.results[w.idx].Err = TradeRejected, err
			continue
		}
		ready = append(ready, w)
	}
	return ready
}

// readRates is step 5: it reads into b.rates the conversion rates into the
// reporting currency rep that step 7 uses (fee and volume currencies, in
// force at each trade's executed_at: business time), one window of rates
// per currency: from step 6 on, a pipe holds the transaction.
func (b *tradeBatch) readRates(ctx context.Context, tx pgx.Tx, rep string, todo []*tradeWork) error {
	if len(todo) == 0 {
		return nil
	}
	b.rates = rateCache{}
	times := map[string][]time.Time{}
	for _, w := range todo {
		at := tradeTime(w)
		times[w.feeCur.ID] = append(times[w.feeCur.ID], at)
		if w.volume != nil {
			times[w.in.Volume.Currency] = append(times[w.in.Volume.Currency], at)
		}
	}
	for cur, ts := range times {
		if err := rateWindow(ctx, tx, b.rates, cur, rep, ts); err != nil {
			return err
		}
	}
	return nil
}

// tradeTime is a trade's business time as stored (microseconds, UTC).
func tradeTime(w *tradeWork) time.Time { return w.in.ExecutedAt.UTC().Truncate(time.Microsecond) }

// postEntries is step 6: it posts the trades' entries through the ledger
// as one atomic batch whose writes go into pipe, and returns the trades
// posted. A trade whose entries the ledger refuses is rejected and the
// rest posted again without it (nothing is written until a batch is
// accepted).
func (s *Service) postEntries(ctx context.Context, tx pgx.Tx, b *tradeBatch, pipe *schema.Pipe, todo []*tradeWork) ([]*tradeWork, error) {
	for len(todo) > 0 {
		ops := make([]ledger.Op, 0, 2*len(todo))
		for _, w := range todo {
			fe, ce := tradeEntries(w)
			ops = append(ops, ledger.Op{New: fe}, ledger.Op{New: ce})
		}
		res, err := s.Ledger.ApplyTx(ctx, tx, ops, ledger.Options{Atomic: true, Chart: b.chart, Writes: pipe, Fresh: true, Owner: Owner})
		if err == nil {
			for i, w := range todo {
				if e := res[2*i+1].Entry; e != nil {
					w.shard, w.seq, b.recorded = e.Shard, e.Seq, e.RecordedAt
				}
				if e := res[2*i].Entry; e != nil {
					w.feeSeq = e.Seq
				}
			}
			return todo, nil
		}
		if !errors.Is(err, ledger.ErrBatchRejected) {
			return nil, err
		}
		keep := b.rejectRefused(todo, res)
		if len(keep) == len(todo) {
			return nil, fmt.Errorf("post trades: the ledger rejected the batch without naming an item")
		}
		todo = keep
	}
	return nil, nil
}

// rejectRefused rejects the trades whose entries failed in the ledger's
// results res (two per trade, in order) for a reason of their own, and
// returns the others.
func (b *tradeBatch) rejectRefused(todo []*tradeWork, res []ledger.Result) []*tradeWork {
	var keep []*tradeWork
	for i, w := range todo {
		failed := res[2*i].Err
		if failed == nil {
			failed = res[2*i+1].Err
		}
		if failed != nil && !errors.Is(failed, ledger.ErrNotWritten) {
			b.results[w.idx].Status, b.results[w.idx].Err = TradeRejected, failed
			continue
		}
		keep = append(keep, w)
	}
	return keep
}

// writeBooked is step 7: it sends the posted trades' rows (writeTrades)
// into pipe behind the ledger's inserts, and closes it, waiting for all.
// It returns the accruals as the folder reads them (foldmem.go).
func (s *Service) writeBooked(ctx context.Context, b *tradeBatch, pipe *schema.Pipe, posted []*tradeWork) ([]foldRow, error) {
	if len(posted) == 0 {
		return nil, nil
	}
	folded, err := s.writeTrades(ctx, noReads{}, pipe, b.recorded, posted, b.rates)
	if err != nil {
		return nil, err
	}
	return folded, pipe.Close()
}

// report is step 8: the posted trades are created, with their entry ids,
// and each repeat of a trade in the batch gets its first occurrence's
// outcome.
func (b *tradeBatch) report(posted []*tradeWork) {
	for _, w := range posted {
		r := &b.results[w.idx]
		r.Status, r.FeeEntryID, r.CommissionEntryID = TradeCreated, w.feeID, w.commID
	}
	for _, i := range b.repeats {
		r := &b.results[i]
		first := b.results[b.first[r.ID].idx]
		r.FeeEntryID, r.CommissionEntryID = first.FeeEntryID, first.CommissionEntryID
		if first.Status == TradeRejected {
			r.Status, r.Err = TradeRejected, first.Err
		}
	}
}

// checkTrade validates a trade without the database.
func checkTrade(chart *accounts.Chart, t NewTrade, now time.Time, newID func() string) (*tradeWork, error) {
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
	case t.Product != "" && !ValidProduct(t.Product):
		return nil, &folio.Error{Code: folio.EINVALID, Fields: []string{"product"},
			Message: "product must be 1 to 32 characters of a-z 0-9 _ -, starting with a letter (such as spot or futures)"}
	}
	if t.Product == "" {
		t.Product = DefaultProduct
	}
	w := &tradeWork{in: t, feeID: newID(), commID: newID()}
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
	// Spot trades hash as before products existed: their replays stay
	// "exists".
	if t.Product != DefaultProduct {
		fmt.Fprintf(&b, "product=%s\n", t.Product)
	}
	w.content = b.Bytes()
	return w, nil
}

// loadTradeContext is step 3: it loads the programs and the traders of
// todo with their chains as deep as any program's rule needs (Rule.Depth),
// through the user cache.
func (s *Service) loadTradeContext(ctx context.Context, tx pgx.Tx, b *tradeBatch, todo []*tradeWork) error {
	if len(todo) == 0 {
		return nil
	}
	progs, err := loadPrograms(ctx, tx, s.Rules)
	if err != nil {
		return err
	}
	depth := 1
	for _, p := range progs.byID {
		if r, ok := s.Rules.Rule(p.Kind); ok {
			depth = max(depth, r.Depth(p))
		}
	}
	ids := make([]string, len(todo))
	for i, w := range todo {
		ids[i] = w.in.UserID
	}
	if b.usersVersion, err = usersVersion(ctx, tx); err != nil {
		return err
	}
	users, err := s.tradeUsers(ctx, tx, b.usersVersion, ids)
	if err != nil {
		return err
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
		more, err := s.tradeUsers(ctx, tx, b.usersVersion, next)
		if err != nil {
			return err
		}
		for k, v := range more {
			users[k] = v
		}
		frontier = next
	}
	b.users, b.progs, b.look = users, progs, newTradeLookups()
	return nil
}

// prepareTrade resolves one trade's fee, program, chain and split, in
// that order, recording in w.explain why it pays what it pays.
func (s *Service) prepareTrade(ctx context.Context, tx pgx.Tx, b *tradeBatch, w *tradeWork) error {
	u := b.users[w.in.UserID]
	if u == nil {
		return folio.Errorf(folio.ENOTFOUND, "user %s not found", w.in.UserID)
	}
	if err := w.priceFee(ctx, tx, b, u); err != nil {
		return err
	}
	w.explain = map[string]any{}
	w.code, w.country = u.ReferralCode, u.Country
	p := b.progs.resolve(u)
	if p == nil {
		w.explain["reason"] = "no trade program applies to the trader (no assignment, group program or default)"
		return w.splitFee(noRule{}, &Program{Kind: "none"}, &Chain{Trader: Member{ID: u.ID}}, &apd.Decimal{})
	}
	v, err := s.programAt(ctx, tx, b, w, p)
	if err != nil || v == nil {
		return err
	}
	if err := s.loadChain(ctx, tx, b, u, eligibilityDepth(v)); err != nil {
		return err
	}
	if ok, err := b.eligible(ctx, tx, w, v, u); err != nil || !ok {
		return err
	}
	p = v.forProduct(w.in.Product)
	rule, ok := s.Rules.Rule(p.Kind)
	if !ok {
		return folio.Errorf(folio.EINTERNAL, "no rule registered for program kind %s", p.Kind)
	}
	w.program = p
	w.explain["program"], w.explain["kind"] = p.ID, p.Kind
	if p.Product != "" {
		w.explain["by_product"] = p.Product
	}
	baseFee, err := w.baseFee(p)
	if err != nil {
		return err
	}
	depth := rule.Depth(p)
	if err := s.loadChain(ctx, tx, b, u, depth); err != nil {
		return err
	}
	if ok, err := b.eligible(ctx, tx, w, p, u); err != nil || !ok {
		return err
	}
	chain := w.chain(u, b.users, depth)
	if err := b.ruleInputs(ctx, tx, w, rule.Inputs(p), p, u, chain); err != nil {
		return err
	}
	if depth > 0 && len(chain.Ancestors) == 0 {
		w.explain["reason"] = "the trader has no referrer"
	}
	return w.splitFee(rule, p, chain, &baseFee)
}

// priceFee prices a trade that carries no fee from the fee schedule of
// the trader's group, rounded down to the currency's precision, and
// refuses a zero fee.
func (w *tradeWork) priceFee(ctx context.Context, tx pgx.Tx, b *tradeBatch, u *User) error {
	if w.in.Fee == nil {
		rate, err := b.look.feeRate(ctx, tx, u.Group, w.in.Market, w.in.Liquidity)
		if err != nil {
			return err
		}
		if rate == nil {
			return folio.Errorf(folio.EINVALID, "trade %s carries no fee and the fee schedule has no row for group %q, market %s", w.in.ID, u.Group, w.in.Market)
		}
		w.feeCur, _ = b.chart.Currency(w.in.Volume.Currency)
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
	return nil
}

// baseFee is p's base_fee_rate × volume, subtracted from the fee to give
// the commission basis; zero without a rate, a volume, or when the volume
// is in another currency than the fee.
func (w *tradeWork) baseFee(p *Program) (apd.Decimal, error) {
	var baseFee apd.Decimal
	if p.BaseFeeRate == nil || w.volume == nil {
		return baseFee, nil
	}
	if w.in.Volume.Currency != w.feeCur.ID {
		w.explain["base_fee_skipped"] = "volume and fee are in different currencies"
		return baseFee, nil
	}
	if _, err := exact.Mul(&baseFee, p.BaseFeeRate, w.volume); err != nil {
		return baseFee, err
	}
	w.explain["base_fee"] = ledger.Format(&baseFee)
	return baseFee, nil
}

// chain is the trader u with up to depth ancestors, from the direct
// referrer up, as far as users (step 3) holds them.
func (w *tradeWork) chain(u *User, users map[string]*User, depth int) *Chain {
	chain := &Chain{Trader: Member{ID: u.ID}}
	for cur := u; len(chain.Ancestors) < depth && cur.ReferrerID != ""; {
		a := users[cur.ReferrerID]
		if a == nil {
			break
		}
		chain.Ancestors = append(chain.Ancestors, Member{ID: a.ID, Rate: a.Rate, KickbackRate: a.KickbackRate})
		w.ancestors = append(w.ancestors, a.ID)
		cur = a
	}
	return chain
}

// ruleInputs reads into chain what the rule needs beyond it (Rule.Inputs):
// the trader's revenue-share table, the direct referrer's rate and the
// code's kickback.
func (b *tradeBatch) ruleInputs(ctx context.Context, tx pgx.Tx, w *tradeWork, inputs Inputs, p *Program, u *User, chain *Chain) error {
	if inputs.Has(InputRevenueShares) {
		shares, err := b.look.revenueShares(ctx, tx, u.ID)
		if err != nil {
			return err
		}
		chain.Trader.Shares = shares
		if len(chain.Trader.Shares) == 0 {
			w.explain["reason"] = "the trader has no revenue-share table"
		}
	}
	if inputs.Has(InputKickback) && len(chain.Ancestors) > 0 {
		return b.kickback(ctx, tx, p, u, chain)
	}
	return nil
}

// kickback sets the direct referrer's rate (override, else the volume tier
// as of b.now, else the program's) and the code's kickback.
func (b *tradeBatch) kickback(ctx context.Context, tx pgx.Tx, p *Program, u *User, chain *Chain) error {
	ref := &chain.Ancestors[0]
	if ref.KickbackRate == nil && len(p.Tiers) > 0 {
		rate, err := b.look.tierRate(ctx, b.rep, tx, p, ref.ID, b.now)
		if err != nil {
			return err
		}
		ref.KickbackRate = rate
	}
	if u.ReferralCode != "" {
		owner, kick, err := b.look.codeKickback(ctx, tx, u.ReferralCode)
		if err != nil {
			return err
		}
		if owner == ref.ID {
			chain.CodeKickback = kick
		}
	}
	return nil
}

// splitFee splits the fee less baseFee with rule (Split) and records the
// basis, the platform's remainder and, when no one is paid, why.
func (w *tradeWork) splitFee(rule Rule, p *Program, chain *Chain, baseFee *apd.Decimal) error {
	split, err := Split(rule, p, chain, &w.fee, baseFee, w.feeCur.Precision)
	if err != nil {
		return err
	}
	w.split = split
	w.explain["basis"] = ledger.Format(&split.Basis)
	w.explain["platform"] = ledger.Format(&split.Remainder)
	if w.program != nil && len(split.Shares) == 0 && w.explain["reason"] == nil {
		w.explain["reason"] = "every share rounded down to zero at the currency precision, or the rates are zero"
	}
	return nil
}

// highestTier is the rate of the highest volume tier of p (tiers are kept
// highest rate first) that an affiliate with these referrals and
// trailing-30-day referred volume reaches (nil: none).
func highestTier(p *Program, referrals int64, volume *apd.Decimal) *apd.Decimal {
	for _, t := range p.Tiers {
		if referrals >= t.MinReferrals && volume.Cmp(&t.MinVolume) >= 0 {
			r := t.Rate
			return &r
		}
	}
	return nil
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
		EffectiveAt: w.in.ExecutedAt, Metadata: md, Route: w.in.UserID,
		Postings: []ledger.NewPosting{
			{Account: "202:" + c + ":" + w.in.UserID, Side: accounts.Debit, Amount: fee},
			{Account: "101:" + c, Side: accounts.Credit, Amount: fee},
		},
	}
	comm := &ledger.NewEntry{
		ID: w.commID, IdempotencyKey: "commission:" + w.in.ID, Kind: EntryCommission, Description: "Commission split of trade " + w.in.ID,
		EffectiveAt: w.in.ExecutedAt, ParentID: w.feeID, Metadata: md, Route: w.in.UserID,
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
