package reconcile

import (
	"encoding/csv"
	"encoding/json"
	"io"
	"time"

	"github.com/cockroachdb/apd/v3"
	"github.com/folioledger/folio/ledger"
)

// MarshalJSON renders the report in the shape of docs/CONTRACT.md §4: amounts as
// strings, times RFC 3339 UTC.
func (r *Report) MarshalJSON() ([]byte, error) {
	type cur struct {
		Currency        string `json:"currency"`
		FeesBooked      string `json:"fees_booked"`
		Distributed     string `json:"distributed"`
		PlatformRevenue string `json:"platform_revenue"`
		DeferredResidue string `json:"deferred_residue"`
		AccruedOpening  string `json:"accrued_opening"`
		Accrued         string `json:"accrued"`
		Bounties        string `json:"bounties"`
		BountyExpense   string `json:"bounty_expense"`
		PaidOut         string `json:"paid_out"`
		Forfeited       string `json:"forfeited"`
		Reversed        string `json:"reversed"`
		Adjustments     string `json:"adjustments"`
		AccruedClosing  string `json:"accrued_closing"`
	}
	type batch struct {
		BatchID  string `json:"batch_id"`
		Currency string `json:"currency"`
		Amount   string `json:"amount"`
	}
	out := struct {
		From          string        `json:"from"`
		To            string        `json:"to"`
		Basis         string        `json:"basis"`
		FromSeq       ledger.Cut    `json:"from_seq"`
		ToSeq         ledger.Cut    `json:"to_seq"`
		Late          ledger.Cut    `json:"late_cut,omitempty"`
		OK            bool          `json:"ok"`
		Currencies    []cur         `json:"currencies"`
		PayoutBatches []batch       `json:"payout_batches"`
		Discrepancies []Discrepancy `json:"discrepancies"`
	}{From: r.From.Format(time.RFC3339Nano), To: r.To.Format(time.RFC3339Nano), Basis: string(r.Basis), FromSeq: r.FromSeq, ToSeq: r.ToSeq, Late: r.Late,
		OK: len(r.Discrepancies) == 0, Currencies: []cur{}, PayoutBatches: []batch{}, Discrepancies: r.Discrepancies}
	if out.Discrepancies == nil {
		out.Discrepancies = []Discrepancy{}
	}
	f := func(d *apd.Decimal) string { return ledger.Format(d) }
	for i := range r.Currencies {
		c := &r.Currencies[i]
		out.Currencies = append(out.Currencies, cur{c.Currency, f(&c.FeesBooked), f(&c.Distributed), f(&c.PlatformRevenue), f(&c.DeferredResidue),
			f(&c.AccruedOpening), f(&c.Accrued), f(&c.Bounties), f(&c.BountyExpense), f(&c.PaidOut), f(&c.Forfeited), f(&c.Reversed),
			f(&c.Adjustments), f(&c.AccruedClosing)})
	}
	for i := range r.PayoutBatches {
		b := &r.PayoutBatches[i]
		out.PayoutBatches = append(out.PayoutBatches, batch{b.BatchID, b.Currency, f(&b.Amount)})
	}
	return json.Marshal(out)
}

// WriteCSV writes the report as CSV: one row per currency with every
// figure, then one row per discrepancy.
func (r *Report) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	cw.UseCRLF = true // RFC 4180
	header := []string{"section", "currency", "fees_booked", "distributed", "platform_revenue", "deferred_residue", "accrued_opening",
		"accrued", "bounties", "bounty_expense", "paid_out", "forfeited", "reversed", "adjustments", "accrued_closing", "kind", "detail", "entries"}
	if err := cw.Write(header); err != nil {
		return err
	}
	f := func(d *apd.Decimal) string { return ledger.Format(d) }
	for i := range r.Currencies {
		c := &r.Currencies[i]
		row := []string{"currency", c.Currency, f(&c.FeesBooked), f(&c.Distributed), f(&c.PlatformRevenue), f(&c.DeferredResidue),
			f(&c.AccruedOpening), f(&c.Accrued), f(&c.Bounties), f(&c.BountyExpense), f(&c.PaidOut), f(&c.Forfeited), f(&c.Reversed),
			f(&c.Adjustments), f(&c.AccruedClosing), "", "", ""}
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	for _, d := range r.Discrepancies {
		row := make([]string, len(header))
		row[0], row[1], row[15], row[16] = "discrepancy", d.Currency, d.Kind, d.Detail
		for i, e := range d.Entries {
			if i > 0 {
				row[17] += " "
			}
			row[17] += e
		}
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}
