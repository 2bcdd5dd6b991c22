package bundle

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/cockroachdb/apd/v3"

	"github.com/folioledger/folio/accounts"
	"github.com/folioledger/folio/ledger"
)

// reconFile is the part of reconciliation.json the verifier recomputes
// (package reconcile's report by recorded time; its discrepancies, some of
// which need the commission engine's accruals, are not recomputed).
type reconFile struct {
	From          string         `json:"from"`
	To            string         `json:"to"`
	Basis         string         `json:"basis"`
	FromSeq       []int64        `json:"from_seq"`
	ToSeq         []int64        `json:"to_seq"`
	Currencies    []reconCur     `json:"currencies"`
	PayoutBatches []reconBatch   `json:"payout_batches"`
	OK            bool           `json:"ok"`
	Discrepancies []reconDiscrep `json:"discrepancies"`
}

type reconDiscrep struct {
	Kind string `json:"kind"`
}

type reconBatch struct {
	BatchID  string `json:"batch_id"`
	Currency string `json:"currency"`
	Amount   string `json:"amount"`
}

// reconCur is one currency's figures; the field names are the report's.
type reconCur map[string]any

// reconFigures are the figures of a currency, in the report's order.
var reconFigures = []string{"fees_booked", "distributed", "platform_revenue", "deferred_residue", "accrued_opening", "accrued", "bounties",
	"bounty_expense", "paid_out", "forfeited", "reversed", "adjustments", "accrued_closing"}

// Entry kinds of the commission flow (package affiliate's; the bundle's
// verifier reads only the bundle, so it names them itself).
const (
	kindTradeFee   = "trade_fee"
	kindCommission = "commission"
	kindBounty     = "bounty"
	kindPayout     = "payout"
	kindForfeit    = "forfeit"
)

// reconciliation recomputes every figure of reconciliation.json from the
// entries and the trial balances, and checks its bounds.
func (v *verifier) reconciliation() error {
	name := FileReconciliation
	raw, err := os.ReadFile(filepath.Join(v.dir, name))
	if err != nil {
		return v.fail(name, 0, "", "cannot be read: %v", err)
	}
	var rep reconFile
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&rep); err != nil {
		return v.fail(name, lineAt(raw, dec.InputOffset()), jsonField(err), "not a reconciliation report: %v", err)
	}
	if rep.From != v.m.From || rep.To != v.m.To || rep.Basis != string(ledger.BasisRecorded) {
		return v.fail(name, 1, "from", "the report covers [%s, %s) by %s time; the bundle [%s, %s) by recorded time", rep.From, rep.To, rep.Basis, v.m.From, v.m.To)
	}
	var fromSeq, toSeq []int64
	for _, a := range v.anchorList {
		fromSeq, toSeq = append(fromSeq, a.FromSeq), append(toSeq, a.ToSeq)
	}
	if !slices.Equal(rep.FromSeq, fromSeq) {
		return v.fail(name, 1, "from_seq", "%v, but the anchors start at %v", rep.FromSeq, fromSeq)
	}
	if !slices.Equal(rep.ToSeq, toSeq) {
		return v.fail(name, 1, "to_seq", "%v, but the anchors end at %v", rep.ToSeq, toSeq)
	}
	if rep.OK != (len(rep.Discrepancies) == 0) {
		return v.fail(name, 1, "ok", "%t with %d discrepancies", rep.OK, len(rep.Discrepancies))
	}

	want, batches, err := v.expectedRecon()
	if err != nil {
		return v.fail(name, 1, "", "%v", err)
	}
	seen := map[string]bool{}
	for i, c := range rep.Currencies {
		cur, _ := c["currency"].(string)
		if seen[cur] {
			return v.fail(name, 1, fmt.Sprintf("currencies[%d].currency", i), "%q is listed twice", cur)
		}
		seen[cur] = true
		w := want[cur]
		for _, f := range reconFigures {
			s, _ := c[f].(string)
			got, err := canonicalDecimal(s)
			if err != nil {
				return v.fail(name, 1, fmt.Sprintf("currencies[%d].%s", i, f), "%v", err)
			}
			var exp apd.Decimal
			if w != nil {
				exp = w[f]
			}
			if got.Cmp(&exp) != 0 {
				return v.fail(name, 1, fmt.Sprintf("currencies[%d].%s", i, f), "%s %s, but the entries and trial balances give %s", cur, s, ledger.Format(&exp))
			}
		}
	}
	for _, cur := range sortedKeys(want) {
		if seen[cur] {
			continue
		}
		for _, f := range reconFigures {
			if d := want[cur][f]; !d.IsZero() {
				return v.fail(name, 1, "currencies", "%s is missing, but the entries give it %s %s", cur, f, ledger.Format(&d))
			}
		}
	}
	if len(rep.PayoutBatches) != len(batches) {
		return v.fail(name, 1, "payout_batches", "%d batches, but the entries give %d", len(rep.PayoutBatches), len(batches))
	}
	for i, b := range rep.PayoutBatches {
		if b != batches[i] {
			return v.fail(name, 1, fmt.Sprintf("payout_batches[%d]", i), "%+v, but the entries give %+v", b, batches[i])
		}
	}
	return nil
}

// expectedRecon computes, per currency, the report's figures as package
// reconcile does: flows of the posted postings to 101, 208, 420 and 605 by
// entry kind (a post_pending entry counts as the entry it completes, found
// in the bundle or in referenced.jsonl), balances of 101 and 208 from the trial
// balances; and the payout batches' debit totals.
func (v *verifier) expectedRecon() (map[string]map[string]apd.Decimal, []reconBatch, error) {
	kindOf := map[string]string{}
	for _, e := range v.list {
		kindOf[e.ID] = e.Kind
	}
	for id, e := range v.referenced {
		kindOf[id] = e.Kind
	}
	out := map[string]map[string]apd.Decimal{}
	get := func(cur string) map[string]apd.Decimal {
		if out[cur] == nil {
			out[cur] = map[string]apd.Decimal{}
		}
		return out[cur]
	}
	add := func(cur, fig string, d apd.Decimal, neg bool) error {
		m := get(cur)
		x := m[fig]
		if neg {
			d.Negative = !d.Negative
		}
		if _, err := exact.Add(&x, &x, &d); err != nil {
			return err
		}
		m[fig] = x
		return nil
	}
	type bkey struct{ batch, cur string }
	btotal := map[bkey]apd.Decimal{}
	for _, e := range v.list {
		kind := e.Kind
		if kind == ledger.KindPost {
			if k, ok := kindOf[e.Completes]; ok {
				kind = k
			}
		}
		for i := range e.Postings {
			p := &e.Postings[i]
			k, _ := accounts.ParseKey(p.Account)
			amt, _ := canonicalDecimal(p.Amount)
			if e.Kind == kindPayout && p.Side == string(accounts.Debit) && e.BatchID != "" {
				bk := bkey{e.BatchID, k.Currency}
				t := btotal[bk]
				if _, err := exact.Add(&t, &t, &amt); err != nil {
					return nil, nil, err
				}
				btotal[bk] = t
			}
			if p.Pending {
				continue
			}
			credit := p.Side == string(accounts.Credit)
			code := k.Code
			fig, neg := "", false
			switch {
			case code == "101" && kind == kindTradeFee && credit:
				fig = "fees_booked"
			case code == "605" && kind == kindCommission && credit:
				fig = "platform_revenue"
			case code == "420" && kind == kindBounty && !credit:
				fig = "bounty_expense"
			case code == "208" && kind == kindCommission && credit:
				fig = "distributed"
			case code == "208" && kind == kindBounty && credit:
				fig = "bounties"
			case code == "208" && kind == kindPayout && !credit:
				fig = "paid_out"
			case code == "208" && kind == kindForfeit && !credit:
				fig = "forfeited"
			case code == "208" && kind == ledger.KindReversal:
				fig, neg = "reversed", !credit
			case code == "208":
				fig, neg = "adjustments", !credit
			}
			if fig == "" {
				continue
			}
			if err := add(k.Currency, fig, amt, neg); err != nil {
				return nil, nil, err
			}
		}
	}
	for cur, m := range out {
		if d, ok := m["distributed"]; ok {
			out[cur]["accrued"] = d
		}
	}
	for _, x := range []struct {
		rows map[rowKey]figures
		code string
		fig  string
	}{{v.opening, "208", "accrued_opening"}, {v.closing, "208", "accrued_closing"}, {v.closing, "101", "deferred_residue"}} {
		for rk, f := range x.rows {
			if !strings.HasPrefix(rk.account, x.code+":") {
				continue
			}
			k, _ := accounts.ParseKey(rk.account)
			if err := add(k.Currency, x.fig, f.balance, false); err != nil {
				return nil, nil, err
			}
		}
	}
	var batches []reconBatch
	for bk, t := range btotal {
		batches = append(batches, reconBatch{BatchID: bk.batch, Currency: bk.cur, Amount: ledger.Format(&t)})
	}
	sort.Slice(batches, func(i, j int) bool {
		if batches[i].BatchID != batches[j].BatchID {
			return batches[i].BatchID < batches[j].BatchID
		}
		return batches[i].Currency < batches[j].Currency
	})
	return out, batches, nil
}
