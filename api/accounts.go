package api

import (
	"encoding/csv"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/cockroachdb/apd/v3"

	"github.com/folioledger/folio"
	"github.com/folioledger/folio/accounts"
	"github.com/folioledger/folio/ledger"
)

// parseAsOf reads the point-in-time parameters of balance and report
// routes: at most one of as_of (recorded time), as_of_seq and, when allowed,
// as_of_effective (business time).
func parseAsOf(q url.Values, allowEffective bool) (ledger.AsOf, error) {
	var at ledger.AsOf
	n := 0
	if s := q.Get("as_of"); s != "" {
		t, err := parseTime("as_of", s)
		if err != nil {
			return at, err
		}
		at.Recorded, n = t, n+1
	}
	if s := q.Get("as_of_seq"); s != "" {
		seq, err := strconv.ParseInt(s, 10, 64)
		if err != nil || seq < 1 {
			return at, &folio.Error{Code: folio.EINVALID, Fields: []string{"as_of_seq"}, Message: fmt.Sprintf("as_of_seq %q must be a positive integer", truncate(s, 32))}
		}
		at.Seq, n = seq, n+1
	}
	if s := q.Get("as_of_effective"); s != "" {
		if !allowEffective {
			return at, &folio.Error{Code: folio.EINVALID, Fields: []string{"as_of_effective"}, Message: "as_of_effective is not supported here; use as_of or as_of_seq"}
		}
		t, err := parseTime("as_of_effective", s)
		if err != nil {
			return at, err
		}
		at.Effective, n = t, n+1
	}
	if n > 1 {
		return at, &folio.Error{Code: folio.EINVALID, Fields: []string{"as_of", "as_of_seq", "as_of_effective"}, Message: "give at most one of as_of, as_of_seq and as_of_effective"}
	}
	return at, nil
}

// balanceJSON is GET /v1/accounts/{account}/balance.
type balanceJSON struct {
	Account   string `json:"account"`
	Currency  string `json:"currency"`
	Debits    string `json:"debits"`
	Credits   string `json:"credits"`
	Balance   string `json:"balance"`
	Pending   string `json:"pending"`
	Available string `json:"available"`
	Seq       int64  `json:"seq"`
}

// getBalance: GET /v1/accounts/{account}/balance?as_of=&as_of_seq=&as_of_effective=.
func (s *Server) getBalance(w http.ResponseWriter, r *http.Request) error {
	at, err := parseAsOf(r.URL.Query(), true)
	if err != nil {
		return err
	}
	b, err := s.ledger.GetBalance(r.Context(), accountParam(r), at)
	if err != nil {
		return err
	}
	pending, available := b.Pending(), b.Available()
	writeJSON(w, http.StatusOK, balanceJSON{
		Account:   b.Account.String(),
		Currency:  b.Account.Currency,
		Debits:    ledger.Format(&b.Debits),
		Credits:   ledger.Format(&b.Credits),
		Balance:   ledger.Format(&b.Balance),
		Pending:   ledger.Format(&pending),
		Available: ledger.Format(&available),
		Seq:       b.Seq,
	})
	return nil
}

// statementLineJSON is one posting of a statement. Debit and credit are
// "0" on the other side.
type statementLineJSON struct {
	Seq             int64    `json:"seq"`
	EntryID         string   `json:"entry_id"`
	EffectiveAt     string   `json:"effective_at"`
	RecordedAt      string   `json:"recorded_at"`
	Kind            string   `json:"kind"`
	Description     string   `json:"description"`
	CounterAccounts []string `json:"counter_accounts"`
	Debit           string   `json:"debit"`
	Credit          string   `json:"credit"`
	Balance         string   `json:"balance"`
}

// statementJSON is GET /v1/accounts/{account}/statement.
type statementJSON struct {
	Account        string              `json:"account"`
	Currency       string              `json:"currency"`
	From           string              `json:"from"`
	To             string              `json:"to"`
	OpeningBalance string              `json:"opening_balance"`
	ClosingBalance string              `json:"closing_balance"`
	Lines          []statementLineJSON `json:"lines"`
}

// statementPeriod reads ?from=&to= (effective time, from inclusive, to
// exclusive). Defaults cover the whole journal: from the Unix epoch to a day
// after now (entries may be effective up to 24 hours ahead).
func (s *Server) statementPeriod(q url.Values) (time.Time, time.Time, error) {
	from, err := optionalTime("from", q.Get("from"))
	if err != nil {
		return from, from, err
	}
	to, err := optionalTime("to", q.Get("to"))
	if err != nil {
		return from, to, err
	}
	if from.IsZero() {
		from = time.Unix(0, 0).UTC()
	}
	if to.IsZero() {
		to = s.clock().Add(25 * time.Hour).Truncate(time.Hour)
	}
	if !from.Before(to) {
		return from, to, &folio.Error{Code: folio.EINVALID, Fields: []string{"from", "to"}, Message: "from must be before to"}
	}
	return from, to, nil
}

// getStatement: GET /v1/accounts/{account}/statement?from=&to=&basis=&format=csv.
// basis=effective (the default): the postings effective in [from, to);
// basis=recorded: those recorded in it, in journal order.
func (s *Server) getStatement(w http.ResponseWriter, r *http.Request) error {
	asCSV, err := wantCSV(r)
	if err != nil {
		return err
	}
	from, to, err := s.statementPeriod(r.URL.Query())
	if err != nil {
		return err
	}
	basis, err := ledger.ParseBasis(r.URL.Query().Get("basis"))
	if err != nil {
		return err
	}
	statement := s.ledger.Statement
	if basis == ledger.BasisRecorded {
		statement = s.ledger.StatementRecorded
	}
	st, err := statement(r.Context(), accountParam(r), from, to)
	if err != nil {
		return err
	}
	if err := s.maskStatement(r, st); err != nil {
		return err
	}
	if asCSV {
		return writeStatementCSV(w, st)
	}
	out := statementJSON{
		Account:        st.Account.String(),
		Currency:       st.Currency,
		From:           formatTime(st.From),
		To:             formatTime(st.To),
		OpeningBalance: ledger.Format(&st.Opening),
		ClosingBalance: ledger.Format(&st.Closing),
		Lines:          make([]statementLineJSON, len(st.Lines)),
	}
	for i := range st.Lines {
		ln := &st.Lines[i]
		debit, credit := sides(ln, "0")
		out.Lines[i] = statementLineJSON{
			Seq:             ln.Seq,
			EntryID:         ln.EntryID,
			EffectiveAt:     formatTime(ln.EffectiveAt),
			RecordedAt:      formatTime(ln.RecordedAt),
			Kind:            ln.Kind,
			Description:     ln.Description,
			CounterAccounts: ln.CounterAccounts,
			Debit:           debit,
			Credit:          credit,
			Balance:         ledger.Format(&ln.Running),
		}
		if out.Lines[i].CounterAccounts == nil {
			out.Lines[i].CounterAccounts = []string{}
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// maskStatement masks, for an affiliate key, other users' ids in the
// statement's descriptions and counter-accounts (the journal keeps them:
// a payout entry names every payee's 201 account, a bounty its referee).
func (s *Server) maskStatement(r *http.Request, st *ledger.Statement) error {
	if !masked(r) {
		return nil
	}
	var texts, holders []string
	for i := range st.Lines {
		texts = append(texts, st.Lines[i].Description)
		for _, a := range st.Lines[i].CounterAccounts {
			if k, err := accounts.ParseKey(a); err == nil && k.Holder != "" {
				holders = append(holders, k.Holder)
			}
		}
	}
	m, err := s.maskFor(r, texts, holders)
	if err != nil {
		return err
	}
	for i := range st.Lines {
		ln := &st.Lines[i]
		ln.Description = m.text(ln.Description)
		for j, a := range ln.CounterAccounts {
			ln.CounterAccounts[j] = m.account(a)
		}
	}
	return nil
}

// sides returns a line's debit and credit texts, other for the side it is not on.
func sides(ln *ledger.StatementLine, other string) (string, string) {
	amt := ledger.Format(&ln.Amount)
	if ln.Side == accounts.Debit {
		return amt, other
	}
	return other, amt
}

// statementCSVHeader is the header row of a statement in CSV.
var statementCSVHeader = []string{"seq", "entry_id", "effective_at", "recorded_at", "kind", "description", "counter_accounts", "debit", "credit", "balance"}

// writeStatementCSV writes a statement as RFC 4180 CSV: the header row, an
// "Opening balance" row (effective_at = from, balance = opening), one row
// per posting (the side it is not on left empty), and a "Closing balance"
// row (effective_at = to, the period's debit and credit totals, balance =
// closing).
func writeStatementCSV(w http.ResponseWriter, st *ledger.Statement) error {
	var debits, credits apd.Decimal
	for i := range st.Lines {
		ln := &st.Lines[i]
		dst := &credits
		if ln.Side == accounts.Debit {
			dst = &debits
		}
		if _, err := ledger.Decimal.Add(dst, dst, &ln.Amount); err != nil {
			return err
		}
	}
	name := fmt.Sprintf("statement-%s-%s-%s.csv", strings.ReplaceAll(st.Account.String(), ":", "_"),
		st.From.Format("20060102T150405Z"), st.To.Format("20060102T150405Z"))
	startCSV(w, name)
	cw := csv.NewWriter(w)
	cw.UseCRLF = true
	_ = cw.Write(statementCSVHeader)
	_ = cw.Write([]string{"", "", formatTime(st.From), "", "", "Opening balance", "", "", "", ledger.Format(&st.Opening)})
	for i := range st.Lines {
		ln := &st.Lines[i]
		debit, credit := sides(ln, "")
		_ = cw.Write([]string{strconv.FormatInt(ln.Seq, 10), ln.EntryID, formatTime(ln.EffectiveAt), formatTime(ln.RecordedAt),
			ln.Kind, csvText(ln.Description), strings.Join(ln.CounterAccounts, " "), debit, credit, ledger.Format(&ln.Running)})
	}
	_ = cw.Write([]string{"", "", formatTime(st.To), "", "", "Closing balance", "", ledger.Format(&debits), ledger.Format(&credits), ledger.Format(&st.Closing)})
	cw.Flush()
	return nil // the status is sent; a write error means the client went away
}

// startCSV sends the headers of a CSV download.
func startCSV(w http.ResponseWriter, filename string) {
	w.Header().Set("Content-Type", "text/csv; charset=utf-8; header=present")
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", filename))
	w.WriteHeader(http.StatusOK)
}

// csvText neutralizes free text that a spreadsheet would run as a formula
// (a leading = + - @, tab or carriage return) by prefixing a quote, as
// OWASP recommends for CSV exports.
func csvText(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
