package reconcile

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/cockroachdb/apd/v3"
	"github.com/folioledger/folio"
	"github.com/folioledger/folio/affiliate"
	"github.com/folioledger/folio/ledger"
	"github.com/folioledger/folio/schema"
	"github.com/jackc/pgx/v5"
)

// CurrencyReport is one currency's figures for a period (docs/CONTRACT.md §4).
type CurrencyReport struct {
	Currency        string
	FeesBooked      apd.Decimal // Cr 101 by trade_fee entries
	Distributed     apd.Decimal // Cr 208 by commission entries
	PlatformRevenue apd.Decimal // Cr 605 by commission entries
	DeferredResidue apd.Decimal // balance of 101 at the end (must be 0)
	AccruedOpening  apd.Decimal // Σ 208 balances at the start
	Accrued         apd.Decimal // = Distributed
	Bounties        apd.Decimal // Cr 208 by bounty entries
	BountyExpense   apd.Decimal // Dr 420 by bounty entries
	PaidOut         apd.Decimal // Dr 208 by payouts (posted)
	Forfeited       apd.Decimal // Dr 208 by forfeit entries
	Reversed        apd.Decimal // net Cr 208 by reversals (negative: clawed back)
	Adjustments     apd.Decimal // net Cr 208 by any other entry
	AccruedClosing  apd.Decimal // Σ 208 balances at the end (ledger)
}

// Discrepancy is one failed reconciliation check.
type Discrepancy struct {
	Kind     string   `json:"kind"`
	Currency string   `json:"currency,omitempty"`
	Detail   string   `json:"detail"`
	Entries  []string `json:"entries,omitempty"`
}

// Discrepancy kinds.
const (
	DiscResidue        = "deferred_residue"
	DiscSplit          = "fee_split_mismatch"
	DiscRollForward    = "accrued_roll_forward"
	DiscCommissionLink = "trade_fee_without_one_commission"
	DiscAccruals       = "accruals_mismatch"
	DiscAdjustment     = "manual_208_adjustment"
	// DiscPayoutWithoutBatch: payout or forfeit entries that no payout
	// batch wrote (the engine always sets their batch_id), such as manual
	// entries of those kinds written before the kinds were reserved.
	DiscPayoutWithoutBatch = "payout_without_batch"
)

// Report is the reconciliation report of a period.
type Report struct {
	From, To time.Time
	// Basis is how the period is bounded: by the entries' effective
	// (business) time or by their recorded time (ledger.Basis).
	Basis ledger.Basis
	// FromSeq and ToSeq are, by recorded time, the period's seq range
	// (FromSeq, ToSeq], per shard; by effective time, the range searched for entries
	// effective in the period (ToSeq is the journal's head).
	FromSeq ledger.Cut
	ToSeq   ledger.Cut
	// Late, by effective time after a closed period (RunAfterClose), is
	// the cut that period was closed at; nil otherwise.
	Late          ledger.Cut
	Currencies    []CurrencyReport
	Discrepancies []Discrepancy
	// PayoutBatches lists the payout batches executed in the period.
	PayoutBatches []PayoutSummary

	per period // the reads of the period's basis (period.go)
}

// PayoutSummary is one executed batch's total per currency.
type PayoutSummary struct {
	BatchID  string
	Currency string
	Amount   apd.Decimal
}

// exact is the context for the report's sums: anything inexact errors.
var exact = apd.Context{
	Precision:   80,
	MaxExponent: apd.MaxExponent,
	MinExponent: apd.MinExponent,
	Traps:       apd.DefaultTraps | apd.Inexact | apd.Rounded,
	Rounding:    apd.RoundHalfEven,
}

// flowKinds are the kinds of entry that move 208 within the commission
// flow, with the completions of pending entries (counted as the entries
// they complete); 208 postings of any other kind are adjustments.
var flowKinds = []string{affiliate.EntryCommission, affiliate.EntryBounty, affiliate.EntryPayout, affiliate.EntryForfeit,
	ledger.KindReversal, ledger.KindPost, ledger.KindVoid}

// maxListed bounds the entry ids listed in one discrepancy.
const maxListed = 50

// Run is RunBasis by recorded time (the report as it always was).
func Run(ctx context.Context, db *schema.DB, from, to time.Time) (*Report, error) {
	return RunBasis(ctx, db, from, to, ledger.BasisRecorded)
}

// RunBasis reports, per currency, the flows of the entries of [from, to)
// — entries recorded in it, or effective in it (basis): fees booked, their
// split, the 101 residue, the 208 roll-forward (opening + accrued +
// bounties − paid − forfeited ± reversed ± adjustments = closing, checked
// against the ledger, whose balances are taken at the same basis), bounty
// expense, payouts per batch, trade_fee entries without exactly one
// commission child, payout and forfeit entries without a batch, and
// accruals against the journal. Every failed check is a discrepancy naming
// the entries concerned: whatever the journal holds (entries of any kind,
// written by any version), the report is produced; an error means the
// database could not be read.
func RunBasis(ctx context.Context, db *schema.DB, from, to time.Time, basis ledger.Basis) (*Report, error) {
	return run(ctx, db, from, to, basis, nil)
}

// RunAfterClose is RunBasis by effective time for an accounting period
// that follows a closed one (package periods): late is the cut the
// previous period was closed at. The period holds the entries effective
// in [from, to) and the entries effective before from but recorded after
// late (post-close adjustments, booked in this period); its opening
// balances are those of the entries effective before from up to late.
// Report.Late records late. A nil late is RunBasis by effective time.
func RunAfterClose(ctx context.Context, db *schema.DB, from, to time.Time, late ledger.Cut) (*Report, error) {
	return run(ctx, db, from, to, ledger.BasisEffective, late)
}

func run(ctx context.Context, db *schema.DB, from, to time.Time, basis ledger.Basis, late ledger.Cut) (*Report, error) {
	if !from.Before(to) {
		return nil, folio.Errorf(folio.EINVALID, "from must be before to")
	}
	if basis == "" {
		basis = ledger.DefaultBasis
	}
	rep := &Report{From: from.UTC(), To: to.UTC(), Basis: basis, Late: late}
	err := db.ReadTx(ctx, func(tx pgx.Tx) error {
		rep.Currencies, rep.Discrepancies, rep.PayoutBatches = nil, nil, nil
		var per period
		if basis == ledger.BasisEffective {
			ep, err := ledger.NewEffectivePeriod(ctx, tx, from, to)
			if err != nil {
				return err
			}
			heads, err := ledger.Heads(ctx, tx)
			if err != nil {
				return err
			}
			ep.Late = late
			rep.FromSeq = ep.Floor
			for _, h := range heads {
				rep.ToSeq = append(rep.ToSeq, h.Seq)
			}
			per = effective{ep}
		} else {
			var err error
			if rep.FromSeq, err = ledger.CutBefore(ctx, tx, from); err != nil {
				return err
			}
			if rep.ToSeq, err = ledger.CutBefore(ctx, tx, to); err != nil {
				return err
			}
			per = recorded{rep.FromSeq, rep.ToSeq, rep.From, rep.To}
		}
		rep.per = per
		byCur := map[string]*CurrencyReport{}
		get := func(c string) *CurrencyReport {
			if r := byCur[c]; r != nil {
				return r
			}
			r := &CurrencyReport{Currency: c}
			byCur[c] = r
			return r
		}
		flows, err := per.flows(ctx, tx, []string{"101", "208", "420", "605"})
		if err != nil {
			return err
		}
		for _, fl := range flows {
			kind, code, amt := fl.Kind, fl.Code, fl.Amount
			r := get(fl.Currency)
			credit := fl.Side == "credit"
			var dst *apd.Decimal
			sign := 1
			switch {
			case code == "101" && kind == affiliate.EntryTradeFee && credit:
				dst = &r.FeesBooked
			case code == "605" && kind == affiliate.EntryCommission && credit:
				dst = &r.PlatformRevenue
			case code == "420" && kind == affiliate.EntryBounty && !credit:
				dst = &r.BountyExpense
			case code == "208" && kind == affiliate.EntryCommission && credit:
				dst = &r.Distributed
			case code == "208" && kind == affiliate.EntryBounty && credit:
				dst = &r.Bounties
			case code == "208" && kind == affiliate.EntryPayout && !credit:
				dst = &r.PaidOut
			case code == "208" && kind == affiliate.EntryForfeit && !credit:
				dst = &r.Forfeited
			case code == "208" && kind == ledger.KindReversal:
				dst = &r.Reversed
			case code == "208":
				dst = &r.Adjustments
			}
			if dst == nil {
				continue
			}
			if code == "208" && (kind == ledger.KindReversal || dst == &r.Adjustments) && !credit {
				sign = -1
			}
			if sign < 0 {
				amt.Negative = !amt.Negative
			}
			if _, err := exact.Add(dst, dst, &amt); err != nil {
				return err
			}
		}
		for _, x := range []struct {
			code string
			end  bool
			set  func(*CurrencyReport) *apd.Decimal
		}{
			{"208", false, func(r *CurrencyReport) *apd.Decimal { return &r.AccruedOpening }},
			{"208", true, func(r *CurrencyReport) *apd.Decimal { return &r.AccruedClosing }},
			{"101", true, func(r *CurrencyReport) *apd.Decimal { return &r.DeferredResidue }},
		} {
			sums, err := per.balances(ctx, tx, x.code, x.end)
			if err != nil {
				return err
			}
			for cur, v := range sums {
				*x.set(get(cur)) = v
			}
		}
		for _, r := range byCur {
			r.Accrued = r.Distributed
			rep.Currencies = append(rep.Currencies, *r)
		}
		sort.Slice(rep.Currencies, func(i, j int) bool { return rep.Currencies[i].Currency < rep.Currencies[j].Currency })
		for i := range rep.Currencies {
			if err := checkCurrency(ctx, tx, rep, &rep.Currencies[i]); err != nil {
				return err
			}
		}
		if err := checkCommissionLinks(ctx, tx, rep); err != nil {
			return err
		}
		if err := checkAccruals(ctx, tx, rep); err != nil {
			return err
		}
		return payoutSummaries(ctx, tx, rep)
	})
	if err != nil {
		return nil, err
	}
	return rep, nil
}

func checkCurrency(ctx context.Context, tx pgx.Tx, rep *Report, r *CurrencyReport) error {
	c := r.Currency
	if !r.DeferredResidue.IsZero() {
		ids, err := rep.per.accountEntryIDs(ctx, tx, "101:"+c, maxListed)
		if err != nil {
			return err
		}
		rep.Discrepancies = append(rep.Discrepancies, Discrepancy{Kind: DiscResidue, Currency: c,
			Detail: fmt.Sprintf("account 101:%s holds %s at the end of the period; it must be 0", c, ledger.Format(&r.DeferredResidue)), Entries: ids})
	}
	var split apd.Decimal
	if _, err := exact.Add(&split, &r.Distributed, &r.PlatformRevenue); err != nil {
		return err
	}
	if split.Cmp(&r.FeesBooked) != 0 {
		rep.Discrepancies = append(rep.Discrepancies, Discrepancy{Kind: DiscSplit, Currency: c,
			Detail: fmt.Sprintf("fees booked %s ≠ distributed %s + platform revenue %s", ledger.Format(&r.FeesBooked), ledger.Format(&r.Distributed), ledger.Format(&r.PlatformRevenue))})
	}
	var expect apd.Decimal
	steps := []struct {
		d   *apd.Decimal
		neg bool
	}{{&r.AccruedOpening, false}, {&r.Accrued, false}, {&r.Bounties, false}, {&r.PaidOut, true}, {&r.Forfeited, true}, {&r.Reversed, false}, {&r.Adjustments, false}}
	for _, st := range steps {
		var err error
		if st.neg {
			_, err = exact.Sub(&expect, &expect, st.d)
		} else {
			_, err = exact.Add(&expect, &expect, st.d)
		}
		if err != nil {
			return err
		}
	}
	if expect.Cmp(&r.AccruedClosing) != 0 {
		rep.Discrepancies = append(rep.Discrepancies, Discrepancy{Kind: DiscRollForward, Currency: c,
			Detail: fmt.Sprintf("208 roll-forward gives %s but the ledger's 208 accounts total %s", ledger.Format(&expect), ledger.Format(&r.AccruedClosing))})
	}
	if !r.Adjustments.IsZero() {
		ids, err := rep.per.codeEntryIDsExcept(ctx, tx, "208", c, flowKinds, maxListed)
		if err != nil {
			return err
		}
		rep.Discrepancies = append(rep.Discrepancies, Discrepancy{Kind: DiscAdjustment, Currency: c,
			Detail: fmt.Sprintf("entries outside the commission flow moved 208:%s by %s", c, ledger.Format(&r.Adjustments)), Entries: ids})
	}
	return nil
}

// checkCommissionLinks finds trade_fee entries of the period without
// exactly one commission child.
func checkCommissionLinks(ctx context.Context, tx pgx.Tx, rep *Report) error {
	ids, err := rep.per.parentsWithoutOneChild(ctx, tx, affiliate.EntryTradeFee, affiliate.EntryCommission, maxListed)
	if err != nil || len(ids) == 0 {
		return err
	}
	rep.Discrepancies = append(rep.Discrepancies, Discrepancy{Kind: DiscCommissionLink,
		Detail: fmt.Sprintf("%d trade_fee entries (at most %d listed) do not have exactly one commission entry", len(ids), maxListed), Entries: ids})
	return nil
}

// payoutSummaries totals the payout entries of the period per batch and
// currency; payout and forfeit entries without a batch are a discrepancy.
func payoutSummaries(ctx context.Context, tx pgx.Tx, rep *Report) error {
	totals, err := rep.per.batchTotals(ctx, tx, affiliate.EntryPayout)
	if err != nil {
		return err
	}
	for _, t := range totals {
		rep.PayoutBatches = append(rep.PayoutBatches, PayoutSummary{BatchID: t.BatchID, Currency: t.Currency, Amount: t.Amount})
	}
	ids, err := rep.per.entryIDsWithoutBatch(ctx, tx, []string{affiliate.EntryPayout, affiliate.EntryForfeit}, maxListed)
	if err != nil || len(ids) == 0 {
		return err
	}
	rep.Discrepancies = append(rep.Discrepancies, Discrepancy{Kind: DiscPayoutWithoutBatch,
		Detail: fmt.Sprintf("%d payout or forfeit entries (at most %d listed) belong to no payout batch: the engine always writes them with one", len(ids), maxListed), Entries: ids})
	return nil
}
