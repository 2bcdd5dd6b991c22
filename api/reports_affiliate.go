package api

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cockroachdb/apd/v3"

	"github.com/folioledger/folio"
	"github.com/folioledger/folio/affiliate"
	"github.com/folioledger/folio/ledger"
	"github.com/folioledger/folio/reconcile"
)

// getReconciliation: GET /v1/reports/reconciliation?from=&to=&basis=&format=,
// the affiliate reconciliation of the entries effective (basis=effective,
// the default) or recorded (basis=recorded) in [from, to) (docs/CONTRACT.md
// §4; defaults: from the beginning of the journal to now). It answers 200
// whether or not discrepancies were found: "ok" says which.
func (s *Server) getReconciliation(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	asCSV, err := wantCSV(r)
	if err != nil {
		return err
	}
	from, err := optionalTime("from", q.Get("from"))
	if err != nil {
		return err
	}
	if from.IsZero() {
		from = time.Unix(0, 0).UTC()
	}
	to, err := optionalTime("to", q.Get("to"))
	if err != nil {
		return err
	}
	if to.IsZero() {
		to = s.clock().Add(time.Second)
	}
	if !from.Before(to) {
		return &folio.Error{Code: folio.EINVALID, Fields: []string{"from", "to"}, Message: "from must be before to"}
	}
	basis, err := ledger.ParseBasis(q.Get("basis"))
	if err != nil {
		return err
	}
	rep, err := reconcile.RunBasis(r.Context(), s.db, from, to, basis)
	if err != nil {
		return err
	}
	if asCSV {
		// Render first, so that a failure is still a problem document.
		var buf bytes.Buffer
		if err := rep.WriteCSV(&buf); err != nil {
			return err
		}
		startCSV(w, "reconciliation-"+from.Format("20060102T150405Z")+"-"+to.Format("20060102T150405Z")+".csv")
		_, _ = w.Write(buf.Bytes())
		return nil
	}
	writeJSON(w, http.StatusOK, rep)
	return nil
}

// defaultStatsPeriod is the range of statistics without from.
const defaultStatsPeriod = 30 * 24 * time.Hour

// statsTotalsJSON are the totals of a statistics answer; money in the
// reporting currency.
type statsTotalsJSON struct {
	Commission string `json:"commission"`
	Fees       string `json:"fees"`
	Volume     string `json:"volume"`
	Referrals  int64  `json:"referrals"` // direct referees, ever
	Traders    int64  `json:"traders"`   // referees at any level who traded in the period
	Trades     int64  `json:"trades"`
}

// statsSummaryJSON are the referral counts: of the direct referees, except
// traded_in_period, which counts referees at any level (the rollup's).
type statsSummaryJSON struct {
	Total              int64 `json:"total"`
	Verified           int64 `json:"verified"`
	Deposited          int64 `json:"deposited"`
	FirstTrade         int64 `json:"first_trade"`
	RegisteredInPeriod int64 `json:"registered_in_period"`
	TradedInPeriod     int64 `json:"traded_in_period"`
}

// statsCurrencyJSON is the commission earned in one accrual currency.
type statsCurrencyJSON struct {
	Currency   string `json:"currency"`
	Commission string `json:"commission"`
	Reporting  string `json:"reporting"` // the same, in the reporting currency
}

// statsUnpricedJSON is what a statistics answer could not convert into the
// reporting currency (no FX rate in force at the accruals' business time),
// in one accrual currency; those accruals count 0 in the reporting figures
// until a rate arrives and the folder revalues them.
type statsUnpricedJSON struct {
	Currency   string `json:"currency"`
	Commission string `json:"commission"`
	Fees       string `json:"fees"`
}

type statsSeriesJSON struct {
	Start      string `json:"start"`
	Commission string `json:"commission"`
	Fees       string `json:"fees"`
	Volume     string `json:"volume"`
	Trades     int64  `json:"trades"`
}

type statsGroupJSON struct {
	Key        string `json:"key"`
	Commission string `json:"commission"`
	Fees       string `json:"fees"`
	Volume     string `json:"volume"`
	Trades     int64  `json:"trades"`
}

// statsJSON is GET /v1/affiliates/{id}/stats (docs/CONTRACT.md §4).
type statsJSON struct {
	Affiliate  string              `json:"affiliate"`
	From       string              `json:"from"`
	To         string              `json:"to"`
	Currency   string              `json:"currency"`
	Interval   string              `json:"interval,omitempty"`
	GroupBy    string              `json:"group_by,omitempty"`
	Totals     statsTotalsJSON     `json:"totals"`
	Summary    statsSummaryJSON    `json:"summary"`
	ByCurrency []statsCurrencyJSON `json:"by_currency"`
	Unpriced   []statsUnpricedJSON `json:"unpriced"`
	Series     []statsSeriesJSON   `json:"series"`
	Groups     []statsGroupJSON    `json:"groups"`
}

// getAffiliateStats: GET /v1/affiliates/{id}/stats?from=&to=&interval=&group_by=&format=.
// Without to: now; without from: 30 days before to. The range is widened to
// whole hours (whole days when grouping by referee); the answer gives the
// range used. Referee keys are masked for affiliate keys.
func (s *Server) getAffiliateStats(w http.ResponseWriter, r *http.Request) error {
	id, err := userIDParam(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	asCSV, err := wantCSV(r)
	if err != nil {
		return err
	}
	sq := affiliate.StatsQuery{Affiliate: id, Interval: q.Get("interval"), GroupBy: q.Get("group_by")}
	if sq.To, err = optionalTime("to", q.Get("to")); err != nil {
		return err
	}
	if sq.To.IsZero() {
		sq.To = s.clock()
	}
	if sq.From, err = optionalTime("from", q.Get("from")); err != nil {
		return err
	}
	if sq.From.IsZero() {
		sq.From = sq.To.Add(-defaultStatsPeriod)
	}
	if !sq.From.Before(sq.To) {
		return &folio.Error{Code: folio.EINVALID, Fields: []string{"from", "to"}, Message: "from must be before to"}
	}
	if sq.Interval != "" && !slices.Contains(affiliate.StatsIntervals, sq.Interval) {
		return &folio.Error{Code: folio.EINVALID, Fields: []string{"interval"},
			Message: fmt.Sprintf("interval %q must be one of %s", truncate(sq.Interval, 32), strings.Join(affiliate.StatsIntervals, ", "))}
	}
	if sq.GroupBy != "" && !slices.Contains(affiliate.StatsGroupings, sq.GroupBy) {
		return &folio.Error{Code: folio.EINVALID, Fields: []string{"group_by"},
			Message: fmt.Sprintf("group_by %q must be one of %s", truncate(sq.GroupBy, 32), strings.Join(affiliate.StatsGroupings, ", "))}
	}
	st, err := s.affiliate.Stats(r.Context(), sq)
	if err != nil {
		return err
	}
	f := func(d *apd.Decimal) string { return ledger.Format(d) }
	out := statsJSON{
		Affiliate: st.Affiliate, From: formatTime(st.From), To: formatTime(st.To), Currency: st.Currency,
		Interval: sq.Interval, GroupBy: sq.GroupBy,
		Totals: statsTotalsJSON{Commission: f(&st.Totals.Commission), Fees: f(&st.Totals.Fees), Volume: f(&st.Totals.Volume),
			Referrals: st.Referrals.Total, Traders: st.Referrals.TradedInPeriod, Trades: st.Totals.Trades},
		Summary: statsSummaryJSON{Total: st.Referrals.Total, Verified: st.Referrals.Verified, Deposited: st.Referrals.Deposited,
			FirstTrade: st.Referrals.FirstTrade, RegisteredInPeriod: st.Referrals.RegisteredInPeriod, TradedInPeriod: st.Referrals.TradedInPeriod},
		ByCurrency: make([]statsCurrencyJSON, 0, len(st.ByCurrency)),
		Unpriced:   make([]statsUnpricedJSON, 0, len(st.Unpriced)),
		Series:     make([]statsSeriesJSON, 0, len(st.Series)),
		Groups:     make([]statsGroupJSON, 0, len(st.Groups)),
	}
	for i := range st.Unpriced {
		u := &st.Unpriced[i]
		out.Unpriced = append(out.Unpriced, statsUnpricedJSON{Currency: u.Currency, Commission: f(&u.Commission), Fees: f(&u.Fees)})
	}
	for i := range st.ByCurrency {
		c := &st.ByCurrency[i]
		out.ByCurrency = append(out.ByCurrency, statsCurrencyJSON{Currency: c.Currency, Commission: f(&c.Commission), Reporting: f(&c.Reporting)})
	}
	for i := range st.Series {
		p := &st.Series[i]
		out.Series = append(out.Series, statsSeriesJSON{Start: formatTime(p.Start), Commission: f(&p.Commission), Fees: f(&p.Fees), Volume: f(&p.Volume), Trades: p.Trades})
	}
	var keys []string
	for i := range st.Groups {
		keys = append(keys, st.Groups[i].Key)
	}
	m, err := s.maskFor(r, keys, nil)
	if err != nil {
		return err
	}
	for i := range st.Groups {
		p := &st.Groups[i]
		key := p.Key
		switch sq.GroupBy {
		case "referee":
			key = m.id(key)
		case "code":
			key = m.code(key)
		default:
			key = m.text(key)
		}
		out.Groups = append(out.Groups, statsGroupJSON{Key: key, Commission: f(&p.Commission), Fees: f(&p.Fees), Volume: f(&p.Volume), Trades: p.Trades})
	}
	if asCSV {
		writeStatsCSV(w, out)
		return nil
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// statsCSVHeader is the header of the statistics CSV: a "total" row, then
// one "series" row per bucket (start set) and one "group" row per group
// (key set); money in the reporting currency, except the "unpriced" rows
// (one per accrual currency with amounts no rate converted: currency set
// to that currency, volume and trades empty).
var statsCSVHeader = []string{"section", "start", "key", "currency", "commission", "fees", "volume", "trades"}

func writeStatsCSV(w http.ResponseWriter, st statsJSON) {
	startCSV(w, "stats-"+st.Affiliate+".csv")
	cw := csv.NewWriter(w)
	cw.UseCRLF = true
	_ = cw.Write(statsCSVHeader)
	_ = cw.Write([]string{"total", "", "", st.Currency, st.Totals.Commission, st.Totals.Fees, st.Totals.Volume, strconv.FormatInt(st.Totals.Trades, 10)})
	for _, u := range st.Unpriced {
		_ = cw.Write([]string{"unpriced", "", "", u.Currency, u.Commission, u.Fees, "", ""})
	}
	for _, p := range st.Series {
		_ = cw.Write([]string{"series", p.Start, "", st.Currency, p.Commission, p.Fees, p.Volume, strconv.FormatInt(p.Trades, 10)})
	}
	for _, p := range st.Groups {
		_ = cw.Write([]string{"group", "", csvText(p.Key), st.Currency, p.Commission, p.Fees, p.Volume, strconv.FormatInt(p.Trades, 10)})
	}
	cw.Flush()
}

// referralJSON is one direct referee of an affiliate; the volume, commission
// and trades of its own trades (not its downline's), in the reporting
// currency. Affiliate keys get the referee masked and no country.
type referralJSON struct {
	Referee        string  `json:"referee"`
	Code           *string `json:"code"`
	Country        string  `json:"country,omitempty"`
	RegisteredAt   string  `json:"registered_at"`
	KYCVerifiedAt  *string `json:"kyc_verified_at"`
	FirstDepositAt *string `json:"first_deposit_at"`
	FirstTradeAt   *string `json:"first_trade_at"`
	Currency       string  `json:"currency"`
	Volume         string  `json:"volume"`
	Commission     string  `json:"commission"`
	Trades         int64   `json:"trades"`
}

// getAffiliateReferrals: GET /v1/affiliates/{id}/referrals?limit=&cursor=&format=,
// the direct referees in registration order. Referee ids are masked for
// affiliate keys; so that the cursor does not give them away, it holds the
// last registration time and how many referees registered at that very
// time were already listed, never an id.
func (s *Server) getAffiliateReferrals(w http.ResponseWriter, r *http.Request) error {
	id, err := userIDParam(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	asCSV, err := wantCSV(r)
	if err != nil {
		return err
	}
	limit, err := parseLimit(q)
	if err != nil {
		return err
	}
	var afterAt time.Time
	skip := 0
	if c := q.Get("cursor"); c != "" {
		pos, err := decodeCursor("referrals", c)
		if err != nil {
			return err
		}
		at, n, _ := strings.Cut(pos, "|")
		t, terr := time.Parse(time.RFC3339Nano, at)
		k, nerr := strconv.Atoi(n)
		if terr != nil || nerr != nil || k < 1 {
			return &folio.Error{Code: folio.EINVALID, Fields: []string{"cursor"}, Message: "bad cursor: pass back a next_cursor value unchanged"}
		}
		afterAt, skip = t, k
	}
	// (registered_at, id) > (afterAt, "") selects registered_at >= afterAt;
	// the first skip referees registered at afterAt were on earlier pages.
	refs, err := s.affiliate.Referrals(r.Context(), id, afterAt, "", skip+limit+1)
	if err != nil {
		return err
	}
	skipped := 0
	for skipped < len(refs) && skipped < skip && refs[skipped].User.RegisteredAt.Equal(afterAt) {
		skipped++
	}
	refs = refs[skipped:]
	m, err := s.maskFor(r, nil, nil)
	if err != nil {
		return err
	}
	out := listJSON[referralJSON]{Data: make([]referralJSON, 0, min(len(refs), limit))}
	for i := range refs {
		if i == limit {
			last := refs[i-1].User.RegisteredAt
			n := 0
			for j := i - 1; j >= 0 && refs[j].User.RegisteredAt.Equal(last); j-- {
				n++
			}
			if last.Equal(afterAt) {
				n += skipped
			}
			out.NextCursor = encodeCursor("referrals", formatTime(last)+"|"+strconv.Itoa(n))
			break
		}
		ref := &refs[i]
		u := ref.User
		referee, country := u.ID, u.Country
		if m != nil {
			referee, country = m.id(referee), ""
		}
		out.Data = append(out.Data, referralJSON{Referee: referee, Code: m.optCode(optString(u.ReferralCode)), Country: country,
			RegisteredAt: formatTime(u.RegisteredAt), KYCVerifiedAt: optTime(u.KYCVerifiedAt), FirstDepositAt: optTime(u.FirstDepositAt),
			FirstTradeAt: optTime(u.FirstTradeAt), Currency: s.reportingCurrency(), Volume: ledger.Format(&ref.Volume), Commission: ledger.Format(&ref.Commission),
			Trades: ref.Trades})
	}
	if asCSV {
		writeReferralsCSV(w, r, id, out.Data, out.NextCursor)
		return nil
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

var referralsCSVHeader = []string{"referee", "code", "country", "registered_at", "kyc_verified_at", "first_deposit_at", "first_trade_at",
	"currency", "volume", "commission", "trades"}

func writeReferralsCSV(w http.ResponseWriter, r *http.Request, affiliateID string, refs []referralJSON, next string) {
	rows := make([][]string, len(refs))
	for i, x := range refs {
		rows[i] = []string{csvText(x.Referee), csvOpt(x.Code), x.Country, x.RegisteredAt, csvOpt(x.KYCVerifiedAt), csvOpt(x.FirstDepositAt),
			csvOpt(x.FirstTradeAt), x.Currency, x.Volume, x.Commission, strconv.FormatInt(x.Trades, 10)}
	}
	writeListCSV(w, r, "referrals-"+affiliateID+".csv", referralsCSVHeader, rows, next)
}

// taxTotalJSON is one affiliate's payouts in a calendar year.
type taxTotalJSON struct {
	Holder   string `json:"holder"`
	Amount   string `json:"amount"`
	HasTaxID bool   `json:"has_tax_id"`
	Unpriced int64  `json:"unpriced"` // accruals paid without a reporting-currency amount
}

// taxReportJSON is GET /v1/reports/tax.
type taxReportJSON struct {
	Year          int            `json:"year"`
	Currency      string         `json:"currency"`
	Threshold     string         `json:"threshold"`
	OverThreshold bool           `json:"over_threshold"`
	Data          []taxTotalJSON `json:"data"`
}

// reportingCurrency is the affiliate service's reporting currency (its
// default when unset).
func (s *Server) reportingCurrency() string {
	if s.affiliate.ReportingCurrency == "" {
		return "USD"
	}
	return s.affiliate.ReportingCurrency
}

// getTaxReport: GET /v1/reports/tax?year=&over_threshold=&format=, payout
// totals per affiliate for a calendar year (default: the current one) in the
// reporting currency, largest first; with over_threshold=true only those
// above the fraud rules' tax_threshold without a tax id on file.
func (s *Server) getTaxReport(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	asCSV, err := wantCSV(r)
	if err != nil {
		return err
	}
	year := s.clock().Year()
	if y := q.Get("year"); y != "" {
		n, err := strconv.Atoi(y)
		if err != nil || n < 1970 || n > 9999 {
			return &folio.Error{Code: folio.EINVALID, Fields: []string{"year"}, Message: fmt.Sprintf("year %q must be a year from 1970 to 9999", truncate(y, 16))}
		}
		year = n
	}
	over := false
	if v := q.Get("over_threshold"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return &folio.Error{Code: folio.EINVALID, Fields: []string{"over_threshold"}, Message: fmt.Sprintf("over_threshold %q must be true or false", truncate(v, 16))}
		}
		over = b
	}
	rules, err := s.payouts.FraudRules(r.Context())
	if err != nil {
		return err
	}
	totals, err := s.payouts.TaxTotals(r.Context(), year, over)
	if err != nil {
		return err
	}
	rep := s.reportingCurrency()
	out := taxReportJSON{Year: year, Currency: rep, Threshold: rules.TaxThreshold, OverThreshold: over, Data: make([]taxTotalJSON, 0, len(totals))}
	for i := range totals {
		t := &totals[i]
		out.Data = append(out.Data, taxTotalJSON{Holder: t.Holder, Amount: ledger.Format(&t.Amount), HasTaxID: t.HasTaxID, Unpriced: t.Unpriced})
	}
	if asCSV {
		startCSV(w, "tax-"+strconv.Itoa(year)+".csv")
		cw := csv.NewWriter(w)
		cw.UseCRLF = true
		_ = cw.Write([]string{"year", "holder", "currency", "amount", "has_tax_id", "unpriced"})
		for _, t := range out.Data {
			_ = cw.Write([]string{strconv.Itoa(year), csvText(t.Holder), rep, t.Amount, strconv.FormatBool(t.HasTaxID), strconv.FormatInt(t.Unpriced, 10)})
		}
		cw.Flush()
		return nil
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
