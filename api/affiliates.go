package api

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/folioledger/folio"
	"github.com/folioledger/folio/accounts"
	"github.com/folioledger/folio/affiliate"
	"github.com/folioledger/folio/internal/text"
	"github.com/folioledger/folio/ledger"
)

// maskID hides most of a user id for affiliate keys (affiliate.MaskID).
func maskID(id string) string { return affiliate.MaskID(id) }

// idMask hides from an affiliate key every other user's id in what it
// reads, by the one rule of maskID: user ids in id fields, the holders of
// other users' accounts (201:USDT:a***e), other users' ids inside free text
// such as descriptions, trade and event ids ("signup bounty for u***12"),
// and other users' referral codes (a code names its owner as surely as an
// id). The key's own holder and its own codes are shown as they are. The
// stored text is not changed: masking happens as the answer is written.
// A nil *idMask (admin, auditor and poster keys) masks nothing.
type idMask struct {
	own   string          // the key's holder
	codes map[string]bool // the holder's referral codes
	users map[string]bool // other users' ids found in the answer's texts and accounts
}

// maskFor returns the mask of the request's caller: nil unless it is an
// affiliate key. texts are the free texts the answer will carry (each
// span of id characters in them that is a registered user is masked by
// text) and holders the account holders it will carry (masked by text
// too, registered or not).
func (s *Server) maskFor(r *http.Request, texts, holders []string) (*idMask, error) {
	if !masked(r) {
		return nil, nil
	}
	ctx := r.Context()
	m := &idMask{own: principalFrom(ctx).Holder, codes: map[string]bool{}, users: map[string]bool{}}
	codes, err := s.affiliate.ListCodes(ctx, m.own)
	if err != nil && folio.ErrorCode(err) != folio.ENOTFOUND {
		return nil, err
	}
	for _, c := range codes {
		m.codes[c.Code] = true
	}
	seen := map[string]bool{}
	var candidates []string
	for _, t := range texts {
		idSpans(t, func(c string) {
			if !seen[c] {
				seen[c] = true
				candidates = append(candidates, c)
			}
		})
	}
	users, err := s.affiliate.RegisteredUsers(ctx, candidates)
	if err != nil {
		return nil, err
	}
	for _, id := range append(users, holders...) {
		if id != "" && id != m.own {
			m.users[id] = true
		}
	}
	return m, nil
}

// id masks a user id unless it is the key's own ("" stays "": no user).
func (m *idMask) id(id string) string {
	if m == nil || id == "" || id == m.own {
		return id
	}
	return maskID(id)
}

// code masks a referral code unless it is one of the holder's own.
func (m *idMask) code(c string) string {
	if m == nil || c == "" || m.codes[c] {
		return c
	}
	return maskID(c)
}

// optCode is code for an optional code.
func (m *idMask) optCode(c *string) *string {
	if m == nil || c == nil {
		return c
	}
	return optString(m.code(*c))
}

// account masks the holder of another user's account ("201:USDT:a***e");
// platform accounts and the key's own are left as they are.
func (m *idMask) account(a string) string {
	if m == nil {
		return a
	}
	k, err := accounts.ParseKey(a)
	if err != nil {
		return m.text(a)
	}
	if k.Holder == "" || k.Holder == m.own {
		return a
	}
	k.Holder = maskID(k.Holder)
	return k.String()
}

// text masks the other users' ids inside free text: within each run of id
// characters (A-Z a-z 0-9 . _ -), the longest span between separators
// (. _ -) that is another user's id is masked, from the left; a span that
// is the key's own id is kept whole. So "signup:u-4960cd12" reads
// "signup:u***12" and a trade id "fill-erin-99-7" "fill-e***99-7". An id
// glued to other letters ("alice2024") is not found.
func (m *idMask) text(s string) string {
	if m == nil || len(m.users) == 0 || s == "" {
		return s
	}
	var b strings.Builder
	last := 0
	idRuns(s, func(i, j int) {
		run := s[i:j]
		starts, ends := idParts(run)
		for a := 0; a < len(starts); {
			next := a + 1
			for z := min(len(starts), a+maxIDParts) - 1; z >= a; z-- {
				c := run[starts[a]:ends[z]]
				if c == m.own {
					next = z + 1
					break
				}
				if m.users[c] {
					b.WriteString(s[last : i+starts[a]])
					b.WriteString(maskID(c))
					last = i + ends[z]
					next = z + 1
					break
				}
			}
			a = next
		}
	})
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// maxIDParts bounds the parts (between . _ -) of an id looked for in text.
const maxIDParts = 8

// idRuns calls fn with the bounds of each maximal run of id characters of s.
func idRuns(s string, fn func(i, j int)) {
	for i := 0; i < len(s); {
		if !text.IsName(s[i]) {
			i++
			continue
		}
		j := i
		for j < len(s) && text.IsName(s[j]) {
			j++
		}
		fn(i, j)
		i = j
	}
}

// idParts returns the bounds of the parts of a run, split at . _ and -.
func idParts(run string) (starts, ends []int) {
	start := 0
	for k := 0; k <= len(run); k++ {
		if k == len(run) || run[k] == '.' || run[k] == '_' || run[k] == '-' {
			starts, ends = append(starts, start), append(ends, k)
			start = k + 1
		}
	}
	return starts, ends
}

// idSpans calls fn with every span of s that text would test: within each
// run of id characters, each span of 1 to maxIDParts consecutive parts
// that has the form of a user id.
func idSpans(s string, fn func(string)) {
	idRuns(s, func(i, j int) {
		run := s[i:j]
		starts, ends := idParts(run)
		for a := range starts {
			for z := a; z < min(len(starts), a+maxIDParts); z++ {
				if c := run[starts[a]:ends[z]]; accounts.ValidHolder(c) {
					fn(c)
				}
			}
		}
	})
}

// referralCodeRequest is the body of POST /v1/affiliates/{id}/codes.
type referralCodeRequest struct {
	Code     string `json:"code"`
	Rate     string `json:"rate"`
	Kickback string `json:"kickback"`
	Note     string `json:"note"`
}

func (q referralCodeRequest) toDomain() (affiliate.NewCode, error) {
	c := affiliate.NewCode{Code: q.Code, Note: q.Note}
	if q.Rate != "" {
		d, err := parseRate("rate", q.Rate)
		if err != nil {
			return c, err
		}
		c.Rate = &d
	}
	if q.Kickback != "" {
		d, err := parseRate("kickback", q.Kickback)
		if err != nil {
			return c, err
		}
		c.Kickback = &d
	}
	return c, nil
}

// referralCodeJSON is a referral code. disabled_at is when it stopped
// accepting signups (null: it accepts them).
type referralCodeJSON struct {
	Code      string  `json:"code"`
	Owner     string  `json:"owner"`
	Rate      *string `json:"rate"`
	Kickback  *string `json:"kickback"`
	Note      string  `json:"note"`
	CreatedAt string  `json:"created_at"`
	Referrals int64   `json:"referrals"`

	// DisabledAt: when it stopped accepting signups (null: it accepts them).
	DisabledAt *string `json:"disabled_at"`
}

func newReferralCodeJSON(c *affiliate.Code) referralCodeJSON {
	return referralCodeJSON{Code: c.Code, Owner: c.Owner, Rate: optDecimal(c.Rate), Kickback: optDecimal(c.Kickback), Note: c.Note,
		CreatedAt: formatTime(c.CreatedAt), DisabledAt: optTime(c.DisabledAt), Referrals: c.Referrals}
}

// codePatchRequest is the body of PATCH /v1/affiliates/{id}/codes/{code}:
// the members given change, absent (or null) ones stay.
type codePatchRequest struct {
	Rate     *string `json:"rate"`
	Kickback *string `json:"kickback"`
	Note     *string `json:"note"`
	Disabled *bool   `json:"disabled"`
}

func (q codePatchRequest) toDomain() (affiliate.CodeChange, error) {
	c := affiliate.CodeChange{Note: q.Note, Disabled: q.Disabled}
	if q.Rate != nil {
		d, err := parseRate("rate", *q.Rate)
		if err != nil {
			return c, err
		}
		c.Rate = &d
	}
	if q.Kickback != nil {
		d, err := parseRate("kickback", *q.Kickback)
		if err != nil {
			return c, err
		}
		c.Kickback = &d
	}
	return c, nil
}

// patchCode: PATCH /v1/affiliates/{id}/codes/{code} {rate?, kickback?,
// note?, disabled?} edits the affiliate's code (affiliate.UpdateCode): a
// new default rate reaches the referees that follow the code; disabled
// refuses new signups with it. Another affiliate's code is 404.
func (s *Server) patchCode(w http.ResponseWriter, r *http.Request) error {
	id, err := userIDParam(r)
	if err != nil {
		return err
	}
	code := affiliate.NormalizeCode(pathParam(r, "code"))
	if len(code) > 64 || !accounts.ValidHolder(code) {
		return &folio.Error{Code: folio.EINVALID, Fields: []string{"code"}, Message: "code must be 6 to 12 characters of " + affiliate.CodeAlphabet}
	}
	var req codePatchRequest
	if err := s.decodeJSON(w, r, &req, false); err != nil {
		return err
	}
	ch, err := req.toDomain()
	if err != nil {
		return err
	}
	c, err := s.affiliate.UpdateCode(r.Context(), id, code, ch, actor(r))
	if err != nil {
		return err
	}
	m, err := s.maskFor(r, []string{c.Note}, nil)
	if err != nil {
		return err
	}
	out := newReferralCodeJSON(c)
	out.Note = m.text(out.Note)
	writeJSON(w, http.StatusOK, out)
	return nil
}

// referralNoteRequest is the body of PUT
// /v1/affiliates/{id}/referrals/{referee}/note; "" clears the note.
type referralNoteRequest struct {
	Note *string `json:"note"`
}

// referralNoteJSON answers PUT /v1/affiliates/{id}/referrals/{referee}/note.
type referralNoteJSON struct {
	Referee string `json:"referee"`
	Note    string `json:"note"`
}

// putReferralNote: PUT /v1/affiliates/{id}/referrals/{referee}/note
// {"note": "…"} records the affiliate's private note on a user of its
// referral tree (affiliate.SetReferralNote): shown in its referral list to
// itself and to admins. A user outside its tree is 404.
func (s *Server) putReferralNote(w http.ResponseWriter, r *http.Request) error {
	id, err := userIDParam(r)
	if err != nil {
		return err
	}
	referee := pathParam(r, "referee")
	if !accounts.ValidHolder(referee) {
		return &folio.Error{Code: folio.EINVALID, Fields: []string{"referee"}, Message: "referee must be a user id: 1 to 64 characters of A-Z a-z 0-9 . _ -"}
	}
	var req referralNoteRequest
	if err := s.decodeJSON(w, r, &req, false); err != nil {
		return err
	}
	if req.Note == nil {
		return &folio.Error{Code: folio.EINVALID, Fields: []string{"note"}, Message: "note is required: a string, \"\" to clear it"}
	}
	if err := s.affiliate.SetReferralNote(r.Context(), id, referee, *req.Note, actor(r)); err != nil {
		return err
	}
	m, err := s.maskFor(r, []string{*req.Note}, []string{referee})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, referralNoteJSON{Referee: m.id(referee), Note: m.text(*req.Note)})
	return nil
}

// postCode: POST /v1/affiliates/{id}/codes gives the affiliate a referral
// code (generated when "code" is absent) → 201. A taken code or the code
// limit is 409 conflict.
func (s *Server) postCode(w http.ResponseWriter, r *http.Request) error {
	id, err := userIDParam(r)
	if err != nil {
		return err
	}
	var req referralCodeRequest
	if err := s.decodeJSON(w, r, &req, true); err != nil {
		return err
	}
	nc, err := req.toDomain()
	if err != nil {
		return err
	}
	c, err := s.affiliate.CreateCode(r.Context(), id, nc, actor(r))
	if err != nil {
		return err
	}
	// An affiliate key reads its note as GET .../codes shows it.
	m, err := s.maskFor(r, []string{c.Note}, nil)
	if err != nil {
		return err
	}
	out := newReferralCodeJSON(c)
	out.Note = m.text(out.Note)
	writeJSON(w, http.StatusCreated, out)
	return nil
}

// getCodes: GET /v1/affiliates/{id}/codes, oldest first, with the number
// of users who signed up with each.
func (s *Server) getCodes(w http.ResponseWriter, r *http.Request) error {
	id, err := userIDParam(r)
	if err != nil {
		return err
	}
	asCSV, err := wantCSV(r)
	if err != nil {
		return err
	}
	codes, err := s.affiliate.ListCodes(r.Context(), id)
	if err != nil {
		return err
	}
	var notes []string
	for i := range codes {
		notes = append(notes, codes[i].Note)
	}
	m, err := s.maskFor(r, notes, nil)
	if err != nil {
		return err
	}
	out := listJSON[referralCodeJSON]{Data: []referralCodeJSON{}}
	for i := range codes {
		c := newReferralCodeJSON(&codes[i])
		c.Owner, c.Note = m.id(c.Owner), m.text(c.Note)
		out.Data = append(out.Data, c)
	}
	if asCSV {
		rows := make([][]string, len(out.Data))
		for i, c := range out.Data {
			rows[i] = codeCSVRow(c)
		}
		writeListCSV(w, r, "codes-"+id+".csv", codesCSVHeader, rows, "")
		return nil
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// refereeJSON is a direct referee. Affiliate keys get the id masked and no
// signup ip, device or country.
type refereeJSON struct {
	ID           string         `json:"id"`
	ReferralCode *string        `json:"referral_code"`
	Country      string         `json:"country,omitempty"`
	SignupIP     string         `json:"signup_ip,omitempty"`
	DeviceID     string         `json:"device_id,omitempty"`
	Group        string         `json:"group,omitempty"`
	RegisteredAt string         `json:"registered_at"`
	Milestones   milestonesJSON `json:"milestones"`
}

// levelCountJSON counts referees at one depth (1 = direct).
type levelCountJSON struct {
	Level int   `json:"level"`
	Count int64 `json:"count"`
}

// refereesJSON is GET /v1/affiliates/{id}/referees: a page of direct
// referees and the referee counts of every level.
type refereesJSON struct {
	Data       []refereeJSON    `json:"data"`
	NextCursor string           `json:"next_cursor,omitempty"`
	Levels     []levelCountJSON `json:"levels"`
}

// Referee cursors. Admins and auditors page by (registered_at, id). An
// affiliate's cursor must not carry a referee's id (cursors are only
// base64), so it holds (registered_at, how many referees registered at
// that instant were already listed).
const (
	cursorReferees       = "referees"
	cursorRefereesMasked = "referees-masked"
)

// getReferees: GET /v1/affiliates/{id}/referees?limit=&cursor=, direct
// referees in registration order, and counts per level down to
// affiliate.DefaultMaxLevels.
func (s *Server) getReferees(w http.ResponseWriter, r *http.Request) error {
	id, err := userIDParam(r)
	if err != nil {
		return err
	}
	q, asCSV, limit, err := listRequest(r)
	if err != nil {
		return err
	}
	hide := masked(r)
	var afterAt time.Time
	var afterID string
	skip := 0
	if c := q.Get("cursor"); c != "" {
		tag := cursorReferees
		if hide {
			tag = cursorRefereesMasked
		}
		pos, err := decodeCursor(tag, c)
		if err != nil {
			return err
		}
		at, rest, _ := strings.Cut(pos, "|")
		t, terr := time.Parse(time.RFC3339Nano, at)
		n, nerr := strconv.Atoi(rest)
		bad := terr != nil || rest == "" || (hide && (nerr != nil || n < 1)) || (!hide && !accounts.ValidHolder(rest))
		if bad {
			return &folio.Error{Code: folio.EINVALID, Fields: []string{"cursor"}, Message: "bad cursor: pass back a next_cursor value unchanged"}
		}
		afterAt = t
		if hide {
			skip = n
		} else {
			afterID = rest
		}
	}
	m, err := s.maskFor(r, nil, nil)
	if err != nil {
		return err
	}
	counts, err := s.affiliate.RefereeCounts(r.Context(), id, affiliate.DefaultMaxLevels)
	if err != nil {
		return err
	}
	// The first page starts at the zero time. (registered_at, id) >
	// (afterAt, "") lists every referee registered at afterAt itself: the
	// masked cursor skips those already listed.
	users, err := s.affiliate.DirectReferees(r.Context(), id, afterAt, afterID, limit+1+skip)
	if err != nil {
		return err
	}
	if hide {
		k := 0
		for k < len(users) && k < skip && users[k].RegisteredAt.Equal(afterAt) {
			k++
		}
		users = users[k:]
	}
	out := refereesJSON{Data: []refereeJSON{}, Levels: []levelCountJSON{}}
	for _, c := range counts {
		out.Levels = append(out.Levels, levelCountJSON{Level: c.Level, Count: c.Count})
	}
	for i, u := range users {
		if i == limit {
			last := users[i-1]
			pos := formatTime(last.RegisteredAt) + "|"
			if hide {
				// Referees listed so far at the last one's instant.
				n := 0
				for j := i - 1; j >= 0 && users[j].RegisteredAt.Equal(last.RegisteredAt); j-- {
					n++
				}
				if last.RegisteredAt.Equal(afterAt) {
					n += skip
				}
				out.NextCursor = encodeCursor(cursorRefereesMasked, pos+strconv.Itoa(n))
			} else {
				out.NextCursor = encodeCursor(cursorReferees, pos+last.ID)
			}
			break
		}
		ref := refereeJSON{ID: u.ID, ReferralCode: optString(u.ReferralCode), Country: u.Country, SignupIP: u.SignupIP, DeviceID: u.DeviceID,
			Group: u.Group, RegisteredAt: formatTime(u.RegisteredAt), Milestones: milestonesJSON{
				KYCVerifiedAt: optTime(u.KYCVerifiedAt), FirstDepositAt: optTime(u.FirstDepositAt), FirstTradeAt: optTime(u.FirstTradeAt)}}
		if hide {
			ref.ID, ref.Country, ref.SignupIP, ref.DeviceID, ref.Group = m.id(u.ID), "", "", "", ""
			ref.ReferralCode = m.optCode(ref.ReferralCode)
		}
		out.Data = append(out.Data, ref)
	}
	if asCSV {
		rows := make([][]string, len(out.Data))
		for i, x := range out.Data {
			rows[i] = refereeCSVRow(x)
		}
		writeListCSV(w, r, "referees-"+id+".csv", refereesCSVHeader, rows, out.NextCursor)
		return nil
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// accrualJSON is one accrual line: a beneficiary's share of a trade or a
// bounty, or (negative) of a reversal.
type accrualJSON struct {
	ID                string  `json:"id"`
	Source            string  `json:"source"`
	TradeID           *string `json:"trade_id"`
	EventID           *string `json:"event_id"`
	EntryID           string  `json:"entry_id"`
	Beneficiary       string  `json:"beneficiary"`
	TraderID          string  `json:"trader_id"`
	Level             int     `json:"level"`
	Program           string  `json:"program"`
	Kind              string  `json:"kind"`
	Rate              *string `json:"rate"`
	Basis             *string `json:"basis"`
	Amount            string  `json:"amount"`
	Currency          string  `json:"currency"`
	FXRate            *string `json:"fx_rate"`
	ReportingAmount   *string `json:"reporting_amount"`
	ReportingCurrency string  `json:"reporting_currency"`
	Market            string  `json:"market"`
	Code              string  `json:"code"`
	Reverses          *string `json:"reverses"`
	RecordedAt        string  `json:"recorded_at"`
}

// newAccrualJSON converts an accrual; m (nil: none) masks the trader
// unless it is the key's holder (a kickback to the trader itself), other
// users' ids inside the trade and event ids (a signup's event id is
// "signup:" and the referee's id) and other users' referral codes.
func newAccrualJSON(a *affiliate.Accrual, m *idMask) accrualJSON {
	out := accrualJSON{
		ID: a.ID, Source: a.Source, TradeID: optString(a.TradeID), EventID: optString(a.EventID), EntryID: a.EntryID,
		Beneficiary: m.id(a.Beneficiary), TraderID: m.id(a.TraderID), Level: a.Level, Program: a.ProgramID, Kind: a.Kind,
		Rate: optDecimal(a.Rate), Basis: optDecimal(a.Basis), Amount: ledger.Format(&a.Amount), Currency: a.Currency,
		FXRate: optDecimal(a.FXRate), ReportingAmount: optDecimal(a.ReportingAmount), ReportingCurrency: a.ReportingCurrency,
		Market: a.Market, Code: m.code(a.Code), Reverses: optString(a.Reverses), RecordedAt: formatTime(a.RecordedAt),
	}
	if m != nil {
		out.TradeID, out.EventID = optString(m.text(a.TradeID)), optString(m.text(a.EventID))
	}
	return out
}

// accrualFilter reads the query of GET /v1/affiliates/{id}/accruals.
func accrualFilter(id string, q url.Values) (affiliate.AccrualFilter, int, error) {
	f := affiliate.AccrualFilter{Beneficiary: id, Currency: q.Get("currency"), TradeID: q.Get("trade_id"), Source: q.Get("source")}
	if f.Currency != "" && !accounts.ValidCurrencyID(f.Currency) {
		return f, 0, &folio.Error{Code: folio.EINVALID, Fields: []string{"currency"}, Message: "currency must be 1 to 16 characters of A-Z and 0-9"}
	}
	if len(f.TradeID) > 128 {
		return f, 0, &folio.Error{Code: folio.EINVALID, Fields: []string{"trade_id"}, Message: "trade_id is at most 128 characters"}
	}
	switch f.Source {
	case "", "trade", "bounty", "reversal":
	default:
		return f, 0, &folio.Error{Code: folio.EINVALID, Fields: []string{"source"}, Message: "source must be trade, bounty or reversal"}
	}
	var err error
	if f.From, err = optionalTime("from", q.Get("from")); err != nil {
		return f, 0, err
	}
	if f.To, err = optionalTime("to", q.Get("to")); err != nil {
		return f, 0, err
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.From.Before(f.To) {
		return f, 0, &folio.Error{Code: folio.EINVALID, Fields: []string{"from", "to"}, Message: "from must be before to"}
	}
	limit, err := parseLimit(q)
	if err != nil {
		return f, 0, err
	}
	if c := q.Get("cursor"); c != "" {
		pos, err := decodeCursor("accruals", c)
		if err != nil {
			return f, 0, err
		}
		at, aid, _ := strings.Cut(pos, "|")
		t, terr := time.Parse(time.RFC3339Nano, at)
		if terr != nil || !ledger.ValidUUID(aid) {
			return f, 0, &folio.Error{Code: folio.EINVALID, Fields: []string{"cursor"}, Message: "bad cursor: pass back a next_cursor value unchanged"}
		}
		f.AfterAt, f.AfterID = t, aid
	}
	f.Limit = limit + 1
	return f, limit, nil
}

// getAccruals: GET /v1/affiliates/{id}/accruals?currency=&trade_id=&source=
// &from=&to=&limit=&cursor=, the affiliate's accrual lines in recording
// order (from inclusive, to exclusive, on recorded_at).
func (s *Server) getAccruals(w http.ResponseWriter, r *http.Request) error {
	id, err := userIDParam(r)
	if err != nil {
		return err
	}
	asCSV, err := wantCSV(r)
	if err != nil {
		return err
	}
	f, limit, err := accrualFilter(id, r.URL.Query())
	if err != nil {
		return err
	}
	if _, err := s.affiliate.GetUser(r.Context(), id); err != nil {
		return err
	}
	as, err := s.affiliate.ListAccruals(r.Context(), f)
	if err != nil {
		return err
	}
	var texts, traders []string
	for i := range as {
		texts = append(texts, as[i].TradeID, as[i].EventID)
		traders = append(traders, as[i].TraderID)
	}
	m, err := s.maskFor(r, texts, traders)
	if err != nil {
		return err
	}
	out := listJSON[accrualJSON]{Data: []accrualJSON{}}
	for i := range as {
		if i == limit {
			last := as[i-1]
			out.NextCursor = encodeCursor("accruals", last.RecordedAt.Format(time.RFC3339Nano)+"|"+last.ID)
			break
		}
		out.Data = append(out.Data, newAccrualJSON(&as[i], m))
	}
	if asCSV {
		rows := make([][]string, len(out.Data))
		for i, a := range out.Data {
			rows[i] = accrualCSVRow(a)
		}
		writeListCSV(w, r, "accruals-"+id+".csv", accrualsCSVHeader, rows, out.NextCursor)
		return nil
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
