package api

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cockroachdb/apd/v3"

	"github.com/folioledger/folio"
	"github.com/folioledger/folio/accounts"
	"github.com/folioledger/folio/affiliate"
	"github.com/folioledger/folio/internal/text"
	"github.com/folioledger/folio/keys"
	"github.com/folioledger/folio/ledger"
	"github.com/folioledger/folio/payouts"
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
	if sq.From, sq.To, err = s.statsPeriod(q); err != nil {
		return err
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

// referralJSON is one referee of an affiliate (level 1: direct); the
// volume, commission and trades of its own trades (not its downline's), in
// the reporting currency, as earned by the affiliate. Affiliate keys get
// the referee masked and no country. kickback is the share its code
// returns to it (kickback programs) and commission_type "shared" when that
// share is above zero, else "rebate". note is the affiliate's private
// note, shown to the affiliate and to admins only. vip_level is the
// referee's current VIP level and products the product lines it traded,
// ever (like the figures, which cover every time; the stats grouped by
// product split commission by product over a period). signup_flagged says
// whether its signup raised a self-referral flag; signup_risk (the score,
// the rules and the matched users) is for keys other than affiliate keys,
// which see the flag only: the matched users may be the affiliate's own
// upline and the signals tell a farm which of its tricks were seen.
type referralJSON struct {
	Referee        string  `json:"referee"`
	Level          int     `json:"level"`
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
	CommissionType string  `json:"commission_type"`
	Kickback       *string `json:"kickback"`
	Note           string  `json:"note,omitempty"`
	// Unpriced: per accrual currency, the commission and fees of this
	// referee's accruals that no FX rate converted yet (counted 0 in
	// commission); empty when everything is priced.
	Unpriced      []statsUnpricedJSON `json:"unpriced"`
	VIPLevel      int                 `json:"vip_level"`
	Products      []string            `json:"products"`
	SignupFlagged bool                `json:"signup_flagged"`
	SignupRisk    *signupRiskJSON     `json:"signup_risk,omitempty"`
}

// referralQuery reads the query of GET /v1/affiliates/{id}/referrals.
func referralQuery(id string, q url.Values) (affiliate.ReferralQuery, int, error) {
	rq := affiliate.ReferralQuery{Affiliate: id, Level: 1, Country: q.Get("country"), Code: q.Get("code"), Milestone: q.Get("milestone"),
		Q: q.Get("q"), Order: q.Get("order")}
	bad := func(field, msg string) error {
		return &folio.Error{Code: folio.EINVALID, Fields: []string{field}, Message: msg}
	}
	switch l := q.Get("level"); l {
	case "":
	case "all":
		rq.Level = 0
	default:
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > affiliate.DefaultMaxLevels {
			return rq, 0, bad("level", fmt.Sprintf("level must be 1 to %d, or all", affiliate.DefaultMaxLevels))
		}
		rq.Level = n
	}
	if rq.Country != "" && !countryCode.MatchString(rq.Country) {
		return rq, 0, bad("country", "country must be an ISO 3166 alpha-2 code such as DE")
	}
	if rq.Code != "" && (len(rq.Code) > 12 || !accounts.ValidHolder(rq.Code)) {
		return rq, 0, bad("code", "code must be 6 to 12 characters of "+affiliate.CodeAlphabet)
	}
	if len(rq.Q) > 64 || text.TextProblem(rq.Q, text.SingleLine) != "" {
		return rq, 0, bad("q", "q must be up to 64 characters of one line")
	}
	if v := q.Get("vip_level"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > affiliate.MaxVIPLevel {
			return rq, 0, bad("vip_level", fmt.Sprintf("vip_level must be a whole number from 0 to %d", affiliate.MaxVIPLevel))
		}
		rq.VIPLevel = &n
	}
	if rq.Product = q.Get("product"); rq.Product != "" && !affiliate.ValidProduct(rq.Product) {
		return rq, 0, bad("product", "product must be a product identifier such as spot or futures")
	}
	if rq.Order != "" && !slices.Contains(affiliate.ReferralOrders, rq.Order) {
		return rq, 0, bad("order", "order must be one of "+strings.Join(affiliate.ReferralOrders, ", "))
	}
	if rq.Order == "" {
		rq.Order = affiliate.ReferralsByRegistration
	}
	if rq.Milestone != "" && !slices.Contains(affiliate.Milestones, rq.Milestone) {
		return rq, 0, bad("milestone", "milestone must be one of "+strings.Join(affiliate.Milestones, ", "))
	}
	if rq.Milestone == "" && (q.Get("milestone_from") != "" || q.Get("milestone_to") != "") {
		return rq, 0, bad("milestone", "milestone_from and milestone_to need milestone: one of "+strings.Join(affiliate.Milestones, ", "))
	}
	for _, r := range []struct {
		from, to   string
		fromT, toT *time.Time
	}{{"registered_from", "registered_to", &rq.RegisteredFrom, &rq.RegisteredTo}, {"milestone_from", "milestone_to", &rq.MilestoneFrom, &rq.MilestoneTo}} {
		var err error
		if *r.fromT, err = optionalTime(r.from, q.Get(r.from)); err != nil {
			return rq, 0, err
		}
		if *r.toT, err = optionalTime(r.to, q.Get(r.to)); err != nil {
			return rq, 0, err
		}
		if !r.fromT.IsZero() && !r.toT.IsZero() && !r.fromT.Before(*r.toT) {
			return rq, 0, &folio.Error{Code: folio.EINVALID, Fields: []string{r.from, r.to}, Message: r.from + " must be before " + r.to}
		}
	}
	limit, err := parseLimit(q)
	if err != nil {
		return rq, 0, err
	}
	rq.Limit = limit
	if c := q.Get("cursor"); c != "" {
		pos, err := decodeCursor("referrals", c)
		if err != nil {
			return rq, 0, err
		}
		parts := strings.Split(pos, "|")
		badCursor := bad("cursor", "bad cursor: pass back a next_cursor value unchanged, with the same order")
		if len(parts) != 4 || parts[0] != rq.Order {
			return rq, 0, badCursor
		}
		at, terr := time.Parse(time.RFC3339Nano, parts[2])
		n, nerr := strconv.Atoi(parts[3])
		_, _, kerr := apd.NewFromString(parts[1])
		if rq.Order == affiliate.ReferralsByRegistration {
			_, kerr = time.Parse(time.RFC3339Nano, parts[1])
		}
		if terr != nil || nerr != nil || kerr != nil || n < 1 {
			return rq, 0, badCursor
		}
		rq.After = &affiliate.ReferralCursor{Key: parts[1], At: at, N: n}
	}
	return rq, limit, nil
}

var countryCode = regexp.MustCompile(`^[A-Z]{2}$`)

// getAffiliateReferrals: GET /v1/affiliates/{id}/referrals?level=&country=
// &code=&registered_from=&registered_to=&milestone=&milestone_from=
// &milestone_to=&q=&order=&limit=&cursor=&format=, the affiliate's
// referees (level 1 unless level says otherwise; "all" every level) that
// match every filter given, in order (registered_at, commission or volume,
// largest first; ties newest first). Referee ids are masked for affiliate
// keys, whose q matches a whole id (or a note); so that the cursor does not
// give them away, it holds the last referee's order figure and
// registration time and how many referees with exactly those were already
// listed, never an id.
func (s *Server) getAffiliateReferrals(w http.ResponseWriter, r *http.Request) error {
	id, err := userIDParam(r)
	if err != nil {
		return err
	}
	asCSV, err := wantCSV(r)
	if err != nil {
		return err
	}
	rq, _, err := referralQuery(id, r.URL.Query())
	if err != nil {
		return err
	}
	p := principalFrom(r.Context())
	rq.QExactID = masked(r)
	rq.Notes = p.Role != keys.RoleAuditor
	refs, next, err := s.affiliate.ListReferrals(r.Context(), rq)
	if err != nil {
		return err
	}
	var notes []string
	for i := range refs {
		notes = append(notes, refs[i].Note)
	}
	m, err := s.maskFor(r, notes, nil)
	if err != nil {
		return err
	}
	ids := make([]string, len(refs))
	for i := range refs {
		ids[i] = refs[i].User.ID
	}
	risks, err := payouts.SignupRisks(r.Context(), s.payouts.DB.Pool, ids)
	if err != nil {
		return err
	}
	out := listJSON[referralJSON]{Data: make([]referralJSON, 0, len(refs))}
	if next != nil {
		out.NextCursor = encodeCursor("referrals", rq.Order+"|"+next.Key+"|"+formatTime(next.At)+"|"+strconv.Itoa(next.N))
	}
	for i := range refs {
		ref := &refs[i]
		u := ref.User
		referee, country := u.ID, u.Country
		if m != nil {
			referee, country = m.id(referee), ""
		}
		out.Data = append(out.Data, referralJSON{Referee: referee, Level: ref.Level, Code: m.optCode(optString(u.ReferralCode)), Country: country,
			RegisteredAt: formatTime(u.RegisteredAt), KYCVerifiedAt: optTime(u.KYCVerifiedAt), FirstDepositAt: optTime(u.FirstDepositAt),
			FirstTradeAt: optTime(u.FirstTradeAt), Currency: s.reportingCurrency(), Volume: ledger.Format(&ref.Volume), Commission: ledger.Format(&ref.Commission),
			Trades: ref.Trades, CommissionType: ref.CommissionType(), Kickback: optDecimal(ref.Kickback), Note: m.text(ref.Note),
			Unpriced: unpricedJSON(ref.Unpriced), VIPLevel: u.VIPLevel, Products: ref.Products, SignupFlagged: risks[u.ID].Flagged()})
		x := &out.Data[len(out.Data)-1]
		if x.Products == nil {
			x.Products = []string{}
		}
		if m == nil {
			x.SignupRisk = newSignupRiskJSON(risks[u.ID])
		}
	}
	if asCSV {
		writeReferralsCSV(w, r, id, out.Data, out.NextCursor)
		return nil
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

var referralsCSVHeader = []string{"referee", "level", "code", "country", "registered_at", "kyc_verified_at", "first_deposit_at", "first_trade_at",
	"currency", "volume", "commission", "trades", "commission_type", "kickback", "note", "unpriced", "vip_level", "products", "signup_flagged", "signup_risk"}

// unpricedJSON converts unpriced amounts (never nil: [] when none).
func unpricedJSON(us []affiliate.UnpricedAmount) []statsUnpricedJSON {
	out := make([]statsUnpricedJSON, 0, len(us))
	for i := range us {
		u := &us[i]
		out = append(out, statsUnpricedJSON{Currency: u.Currency, Commission: ledger.Format(&u.Commission), Fees: ledger.Format(&u.Fees)})
	}
	return out
}

func writeReferralsCSV(w http.ResponseWriter, r *http.Request, affiliateID string, refs []referralJSON, next string) {
	rows := make([][]string, len(refs))
	for i, x := range refs {
		rows[i] = []string{csvText(x.Referee), strconv.Itoa(x.Level), csvOpt(x.Code), x.Country, x.RegisteredAt, csvOpt(x.KYCVerifiedAt), csvOpt(x.FirstDepositAt),
			csvOpt(x.FirstTradeAt), x.Currency, x.Volume, x.Commission, strconv.FormatInt(x.Trades, 10), x.CommissionType, csvOpt(x.Kickback), csvText(x.Note),
			unpricedCell(x.Unpriced), strconv.Itoa(x.VIPLevel), productsCell(x.Products), strconv.FormatBool(x.SignupFlagged), riskCell(x.SignupRisk)}
	}
	writeListCSV(w, r, "referrals-"+affiliateID+".csv", referralsCSVHeader, rows, next)
}

// unpricedCell is a referral's unpriced amounts as a CSV cell: their
// compact JSON, as the JSON answer carries them.
func unpricedCell(us []statsUnpricedJSON) string {
	raw, err := json.Marshal(us)
	if err != nil {
		return ""
	}
	return string(raw)
}

// productsCell is a referral's products as a CSV cell: their compact
// JSON, as the JSON answer carries them.
func productsCell(ps []string) string {
	raw, err := json.Marshal(ps)
	if err != nil {
		return ""
	}
	return string(raw)
}

// riskCell is a referral's signup risk as a CSV cell: its compact JSON,
// empty when none (or not shown).
func riskCell(r *signupRiskJSON) string {
	if r == nil {
		return ""
	}
	raw, err := json.Marshal(r)
	if err != nil {
		return ""
	}
	return string(raw)
}

// topReferralJSON is one referee of a top list.
type topReferralJSON struct {
	Rank       int    `json:"rank"`
	Referee    string `json:"referee"`
	Commission string `json:"commission"`
	Fees       string `json:"fees"`
	Volume     string `json:"volume"`
	Trades     int64  `json:"trades"`
}

// topReferralsJSON is GET /v1/affiliates/{id}/referrals/top.
type topReferralsJSON struct {
	Affiliate string              `json:"affiliate"`
	From      string              `json:"from"`
	To        string              `json:"to"`
	Currency  string              `json:"currency"`
	Data      []topReferralJSON   `json:"data"`
	Unpriced  []statsUnpricedJSON `json:"unpriced"`
}

// defaultTopReferrals is the length of a top list without limit.
const defaultTopReferrals = 10

// getTopReferrals: GET /v1/affiliates/{id}/referrals/top?from=&to=&limit=
// &format=, the referees (any level) that earned the affiliate the most
// commission in the period, largest first (ties by id), limit of them
// (default 10, at most the list limit). The period is as in
// GET .../stats grouped by referee: without to, now; without from, 30 days
// before to; widened to whole days (the answer gives the range used).
// unpriced is what the period's figures could not convert into the
// reporting currency. Referee ids are masked for affiliate keys.
func (s *Server) getTopReferrals(w http.ResponseWriter, r *http.Request) error {
	id, err := userIDParam(r)
	if err != nil {
		return err
	}
	asCSV, err := wantCSV(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	sq := affiliate.StatsQuery{Affiliate: id, GroupBy: "referee"}
	if sq.From, sq.To, err = s.statsPeriod(q); err != nil {
		return err
	}
	limit := defaultTopReferrals
	if q.Get("limit") != "" {
		if limit, err = parseLimit(q); err != nil {
			return err
		}
	}
	st, err := s.affiliate.Stats(r.Context(), sq)
	if err != nil {
		return err
	}
	groups := slices.Clone(st.Groups)
	slices.SortStableFunc(groups, func(a, b affiliate.StatsPoint) int {
		if c := b.Commission.Cmp(&a.Commission); c != 0 {
			return c
		}
		return strings.Compare(a.Key, b.Key)
	})
	groups = groups[:min(limit, len(groups))]
	m, err := s.maskFor(r, nil, nil)
	if err != nil {
		return err
	}
	f := func(d *apd.Decimal) string { return ledger.Format(d) }
	out := topReferralsJSON{Affiliate: id, From: formatTime(st.From), To: formatTime(st.To), Currency: st.Currency,
		Data: make([]topReferralJSON, 0, len(groups)), Unpriced: make([]statsUnpricedJSON, 0, len(st.Unpriced))}
	for i := range groups {
		g := &groups[i]
		out.Data = append(out.Data, topReferralJSON{Rank: i + 1, Referee: m.id(g.Key), Commission: f(&g.Commission), Fees: f(&g.Fees), Volume: f(&g.Volume), Trades: g.Trades})
	}
	out.Unpriced = unpricedJSON(st.Unpriced)
	if asCSV {
		rows := make([][]string, len(out.Data))
		for i, x := range out.Data {
			rows[i] = []string{strconv.Itoa(x.Rank), csvText(x.Referee), out.Currency, x.Commission, x.Fees, x.Volume, strconv.FormatInt(x.Trades, 10)}
		}
		writeListCSV(w, r, "top-referrals-"+id+".csv", topReferralsCSVHeader, rows, "")
		return nil
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// topReferralsCSVHeader is the header of the top list in CSV; the
// unpriced amounts are JSON only.
var topReferralsCSVHeader = []string{"rank", "referee", "currency", "commission", "fees", "volume", "trades"}

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

// statsPeriod reads the from/to query parameters of the statistics routes:
// to defaults to now, from to defaultStatsPeriod before to, and from must
// be before to.
func (s *Server) statsPeriod(q url.Values) (from, to time.Time, err error) {
	if to, err = optionalTime("to", q.Get("to")); err != nil {
		return from, to, err
	}
	if to.IsZero() {
		to = s.clock()
	}
	if from, err = optionalTime("from", q.Get("from")); err != nil {
		return from, to, err
	}
	if from.IsZero() {
		from = to.Add(-defaultStatsPeriod)
	}
	if !from.Before(to) {
		return from, to, &folio.Error{Code: folio.EINVALID, Fields: []string{"from", "to"}, Message: "from must be before to"}
	}
	return from, to, nil
}
