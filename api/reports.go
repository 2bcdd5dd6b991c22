package api

import (
	"encoding/csv"
	"fmt"
	"net/http"
	"strconv"

	"github.com/folioledger/folio"
	"github.com/folioledger/folio/accounts"
	"github.com/folioledger/folio/ledger"
)

// trialBalanceLineJSON is one account of a trial balance.
type trialBalanceLineJSON struct {
	Account    string `json:"account"`
	NormalSide string `json:"normal_side"`
	Debits     string `json:"debits"`
	Credits    string `json:"credits"`
	Balance    string `json:"balance"`
}

// trialBalanceCurrencyJSON is one currency of a trial balance.
type trialBalanceCurrencyJSON struct {
	Currency     string                 `json:"currency"`
	TotalDebits  string                 `json:"total_debits"`
	TotalCredits string                 `json:"total_credits"`
	Balanced     bool                   `json:"balanced"`
	Accounts     []trialBalanceLineJSON `json:"accounts"`
}

// trialBalanceJSON is GET /v1/reports/trial-balance.
type trialBalanceJSON struct {
	Seq        int64                      `json:"seq"`
	Currencies []trialBalanceCurrencyJSON `json:"currencies"`
}

// getTrialBalance: GET /v1/reports/trial-balance?as_of=&as_of_seq=&currency=&basis=&format=.
// basis=effective (the default, ledger.DefaultBasis) counts the postings
// effective at or before as_of (default now); basis=recorded the journal
// as recorded at as_of or as_of_seq (as_of_seq without basis implies
// recorded; with basis=effective it is a 400).
func (s *Server) getTrialBalance(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	asCSV, err := wantCSV(r)
	if err != nil {
		return err
	}
	at, err := parseAsOf(q, false)
	if err != nil {
		return err
	}
	currency := q.Get("currency")
	if currency != "" {
		if !accounts.ValidCurrencyID(currency) {
			return &folio.Error{Code: folio.EINVALID, Fields: []string{"currency"}, Message: fmt.Sprintf("currency %q must be 1 to 16 characters of A-Z and 0-9", truncate(currency, 32))}
		}
		chart, err := accounts.LoadChart(r.Context(), s.db.Pool)
		if err != nil {
			return err
		}
		if _, ok := chart.Currency(currency); !ok {
			return &folio.Error{Code: folio.ECURRENCY, Fields: []string{"currency"}, Message: fmt.Sprintf("currency %s does not exist", currency)}
		}
	}
	basis, err := ledger.ParseBasis(q.Get("basis"))
	if err != nil {
		return err
	}
	if at.Seq > 0 && q.Get("basis") == "" {
		basis = ledger.BasisRecorded // a seq is a position in the journal as recorded
	}
	var tb *ledger.TrialBalance
	switch {
	case basis == ledger.BasisEffective && at.Seq > 0:
		return &folio.Error{Code: folio.EINVALID, Fields: []string{"as_of_seq", "basis"}, Message: "as_of_seq is a position in the journal: use it with basis=recorded"}
	case basis == ledger.BasisEffective:
		// as_of is an effective (business) time on this basis.
		tb, err = s.ledger.TrialBalanceEffective(r.Context(), at.Recorded, currency)
	default:
		tb, err = s.ledger.TrialBalance(r.Context(), at, currency)
	}
	if err != nil {
		return err
	}
	out := trialBalanceJSON{Seq: tb.Seq, Currencies: []trialBalanceCurrencyJSON{}}
	for _, c := range tb.Currencies {
		cj := trialBalanceCurrencyJSON{Currency: c.Currency, TotalDebits: ledger.Format(&c.TotalDebits),
			TotalCredits: ledger.Format(&c.TotalCredits), Balanced: c.Balanced, Accounts: []trialBalanceLineJSON{}}
		for i := range c.Lines {
			ln := &c.Lines[i]
			cj.Accounts = append(cj.Accounts, trialBalanceLineJSON{Account: ln.Account.String(), NormalSide: string(ln.Normal),
				Debits: ledger.Format(&ln.Debits), Credits: ledger.Format(&ln.Credits), Balance: ledger.Format(&ln.Balance)})
		}
		out.Currencies = append(out.Currencies, cj)
	}
	if asCSV {
		writeTrialBalanceCSV(w, out)
		return nil
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// writeTrialBalanceCSV writes one row per account and, after each
// currency's accounts, a "Total" row with the currency's debit and credit
// totals and "balanced" or "UNBALANCED" in the balance column.
func writeTrialBalanceCSV(w http.ResponseWriter, tb trialBalanceJSON) {
	startCSV(w, "trial-balance-seq-"+strconv.FormatInt(tb.Seq, 10)+".csv")
	cw := csv.NewWriter(w)
	cw.UseCRLF = true
	_ = cw.Write([]string{"currency", "account", "normal_side", "debits", "credits", "balance"})
	for _, c := range tb.Currencies {
		for _, a := range c.Accounts {
			_ = cw.Write([]string{c.Currency, a.Account, a.NormalSide, a.Debits, a.Credits, a.Balance})
		}
		state := "balanced"
		if !c.Balanced {
			state = "UNBALANCED"
		}
		_ = cw.Write([]string{c.Currency, "Total", "", c.TotalDebits, c.TotalCredits, state})
	}
	cw.Flush()
}
