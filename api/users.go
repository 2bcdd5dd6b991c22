package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/cockroachdb/apd/v3"

	"github.com/folioledger/folio"
	"github.com/folioledger/folio/accounts"
	"github.com/folioledger/folio/affiliate"
	"github.com/folioledger/folio/keys"
	"github.com/folioledger/folio/ledger"
	"github.com/folioledger/folio/payouts"
)

// userRequest is the body of POST /v1/users.
type userRequest struct {
	ID           string   `json:"id"`
	ReferralCode string   `json:"referral_code"`
	Country      string   `json:"country"`
	SignupIP     string   `json:"signup_ip"`
	DeviceID     string   `json:"device_id"`
	RegisteredAt string   `json:"registered_at"`
	Group        string   `json:"group"`
	VIPLevel     int      `json:"vip_level"`
	UTM          *utmJSON `json:"utm"`
	// Signup risk signals (issue 15 item 7): scored against the referral
	// chain and stored only as keyed hashes (payouts/signup_risk.go).
	IP        string `json:"ip"`
	Device    string `json:"device"`
	UserAgent string `json:"user_agent"`
}

// utmJSON is the campaign a user signed up through.
type utmJSON struct {
	Source   string `json:"source"`
	Medium   string `json:"medium"`
	Campaign string `json:"campaign"`
}

func (q userRequest) toDomain() (affiliate.NewUser, error) {
	u := affiliate.NewUser{ID: q.ID, ReferralCode: q.ReferralCode, Country: q.Country, SignupIP: q.SignupIP, DeviceID: q.DeviceID, Group: q.Group, VIPLevel: q.VIPLevel,
		Signals: affiliate.SignupSignals{IP: q.IP, Device: q.Device, UserAgent: q.UserAgent}}
	if q.UTM != nil {
		u.UTM = affiliate.UTM{Source: q.UTM.Source, Medium: q.UTM.Medium, Campaign: q.UTM.Campaign}
	}
	if !accounts.ValidHolder(q.ID) {
		return u, &folio.Error{Code: folio.EINVALID, Fields: []string{"id"}, Message: "id must be 1 to 64 characters of A-Z a-z 0-9 . _ -"}
	}
	var err error
	u.RegisteredAt, err = optionalTime("registered_at", q.RegisteredAt)
	return u, err
}

// milestonesJSON are the dates a user reached its lifecycle milestones.
type milestonesJSON struct {
	KYCVerifiedAt  *string `json:"kyc_verified_at"`
	FirstDepositAt *string `json:"first_deposit_at"`
	FirstTradeAt   *string `json:"first_trade_at"`
}

// userJSON is a user. For affiliate keys (which only read their own user)
// the referrer's id and the referrer's code it joined with are masked.
type userJSON struct {
	ID           string         `json:"id"`
	Referrer     *string        `json:"referrer"`
	ReferralCode *string        `json:"referral_code"`
	Country      string         `json:"country"`
	SignupIP     string         `json:"signup_ip"`
	DeviceID     string         `json:"device_id"`
	Group        string         `json:"group"`
	Program      *string        `json:"program"`
	Rate         *string        `json:"rate"`
	KickbackRate *string        `json:"kickback_rate"`
	HasTaxID     bool           `json:"has_tax_id"`
	RegisteredAt string         `json:"registered_at"`
	Milestones   milestonesJSON `json:"milestones"`
	VIPLevel     int            `json:"vip_level"`
	UTM          utmJSON        `json:"utm"`
	// RateFollowsCode: the rate is the default rate of the code the user
	// joined with and follows it (false: custom, pinned, or none).
	RateFollowsCode bool `json:"rate_follows_code"`
	// SignupRisk is shown to every key but affiliate keys, for users whose
	// signup carried signals.
	SignupRisk *signupRiskJSON `json:"signup_risk,omitempty"`
}

// signupRiskJSON is a signup's risk assessment (payouts.SignupRisk).
type signupRiskJSON struct {
	Flagged    bool           `json:"flagged"`
	Score      int64          `json:"score"`
	Action     string         `json:"action"`
	Flags      []payouts.Flag `json:"flags"`
	Matched    []string       `json:"matched"`
	AssessedAt string         `json:"assessed_at"`
}

func newSignupRiskJSON(r *payouts.SignupRisk) *signupRiskJSON {
	if r == nil {
		return nil
	}
	out := &signupRiskJSON{Flagged: r.Flagged(), Score: r.Score, Action: r.Action, Flags: r.Flags, Matched: r.Matched, AssessedAt: formatTime(r.At)}
	if out.Flags == nil {
		out.Flags = []payouts.Flag{}
	}
	if out.Matched == nil {
		out.Matched = []string{}
	}
	return out
}

// withSignupRisk adds the user's signup risk for callers other than
// affiliate keys.
func (s *Server) withSignupRisk(r *http.Request, out *userJSON) error {
	if masked(r) {
		return nil
	}
	risk, err := s.payouts.SignupRisk(r.Context(), out.ID)
	out.SignupRisk = newSignupRiskJSON(risk)
	return err
}

func newUserJSON(u *affiliate.User, m *idMask) userJSON {
	out := userJSON{
		ID:           u.ID,
		Referrer:     optString(u.ReferrerID),
		ReferralCode: optString(u.ReferralCode),
		Country:      u.Country,
		SignupIP:     u.SignupIP,
		DeviceID:     u.DeviceID,
		Group:        u.Group,
		Program:      optString(u.ProgramID),
		Rate:         optDecimal(u.Rate),
		KickbackRate: optDecimal(u.KickbackRate),
		HasTaxID:     u.TaxID != "",
		RegisteredAt: formatTime(u.RegisteredAt),
		VIPLevel:     u.VIPLevel,
		UTM:          utmJSON{Source: u.UTM.Source, Medium: u.UTM.Medium, Campaign: u.UTM.Campaign},
		Milestones: milestonesJSON{
			KYCVerifiedAt:  optTime(u.KYCVerifiedAt),
			FirstDepositAt: optTime(u.FirstDepositAt),
			FirstTradeAt:   optTime(u.FirstTradeAt),
		},
	}
	out.RateFollowsCode = u.RateFollowsCode
	if m != nil {
		out.Referrer, out.ReferralCode = optString(m.id(u.ReferrerID)), m.optCode(out.ReferralCode)
	}
	return out
}

func optDecimal(d *apd.Decimal) *string {
	if d == nil {
		return nil
	}
	s := ledger.Format(d)
	return &s
}

func optTime(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := formatTime(*t)
	return &s
}

// userIDParam returns the route's {id} as a user id, or invalid_request.
func userIDParam(r *http.Request) (string, error) {
	id := pathParam(r, "id")
	if !accounts.ValidHolder(id) {
		return "", folio.Errorf(folio.EINVALID, "user id %q must be 1 to 64 characters of A-Z a-z 0-9 . _ -", truncate(id, 64))
	}
	return id, nil
}

// actor is the audit actor of a request: the calling key's id.
func actor(r *http.Request) string { return principalFrom(r.Context()).ID }

// masked reports whether ids of other users must be masked for the caller
// (affiliate keys).
func masked(r *http.Request) bool { return principalFrom(r.Context()).Role == keys.RoleAffiliate }

// postUser: POST /v1/users registers a user (201), or answers the existing
// one registered with the same data (200); other data is 409 conflict.
func (s *Server) postUser(w http.ResponseWriter, r *http.Request) error {
	var req userRequest
	if err := s.decodeJSON(w, r, &req, false); err != nil {
		return err
	}
	nu, err := req.toDomain()
	if err != nil {
		return err
	}
	u, created, err := s.affiliate.CreateUser(r.Context(), nu)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	w.Header().Set("Location", "/v1/users/"+u.ID)
	out := newUserJSON(u, nil)
	if err := s.withSignupRisk(r, &out); err != nil {
		return err
	}
	writeJSON(w, status, out)
	return nil
}

// userAndMask reads user id and the id mask of the request's key (nil:
// the key sees raw ids), which every user route that answers with the
// user needs.
func (s *Server) userAndMask(r *http.Request, id string) (*affiliate.User, *idMask, error) {
	u, err := s.affiliate.GetUser(r.Context(), id)
	if err != nil {
		return nil, nil, err
	}
	m, err := s.maskFor(r, nil, nil)
	return u, m, err
}

// getUser: GET /v1/users/{id}.
func (s *Server) getUser(w http.ResponseWriter, r *http.Request) error {
	id, err := userIDParam(r)
	if err != nil {
		return err
	}
	u, m, err := s.userAndMask(r, id)
	if err != nil {
		return err
	}
	out := newUserJSON(u, m)
	if err := s.withSignupRisk(r, &out); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// eventRequest is the body of POST /v1/users/{id}/events.
type eventRequest struct {
	ID       string     `json:"id"`
	Type     string     `json:"type"`
	Amount   amountText `json:"amount"`
	Currency string     `json:"currency"`
	At       string     `json:"at"`
}

func (q eventRequest) toDomain() (affiliate.Event, error) {
	ev := affiliate.Event{ID: q.ID, Type: q.Type, Currency: q.Currency}
	switch {
	case !ledger.ValidIdempotencyKey(q.ID):
		return ev, &folio.Error{Code: folio.EINVALID, Fields: []string{"id"}, Message: "id must be 1 to 200 printable characters without spaces"}
	case strings.HasPrefix(q.ID, affiliate.ReservedEventPrefix):
		return ev, &folio.Error{Code: folio.EINVALID, Fields: []string{"id"}, Message: "event ids starting with \"signup:\" are reserved for the signup event that POST /v1/users raises"}
	}
	if q.Amount != "" {
		d, err := ledger.ParseAmount(string(q.Amount), accounts.MaxPrecision)
		if err != nil {
			return ev, &folio.Error{Code: folio.EAMOUNT, Fields: []string{"amount"}, Message: folio.ErrorMessage(err)}
		}
		ev.Amount = &d
	}
	var err error
	ev.At, err = optionalTime("at", q.At)
	return ev, err
}

// eventJSON is a recorded lifecycle event and the bounty entries it wrote.
type eventJSON struct {
	ID             string   `json:"id"`
	UserID         string   `json:"user_id"`
	Type           string   `json:"type"`
	Amount         *string  `json:"amount"`
	Currency       *string  `json:"currency"`
	At             string   `json:"at"`
	BountyEntryIDs []string `json:"bounty_entry_ids"`
}

// postEvent: POST /v1/users/{id}/events records a lifecycle event (201),
// idempotent by event id: a replay answers 200 with Idempotency-Replayed
// and the bounty entries the first request wrote.
func (s *Server) postEvent(w http.ResponseWriter, r *http.Request) error {
	userID, err := userIDParam(r)
	if err != nil {
		return err
	}
	var req eventRequest
	if err := s.decodeJSON(w, r, &req, false); err != nil {
		return err
	}
	ev, err := req.toDomain()
	if err != nil {
		return err
	}
	res, err := s.affiliate.RecordEvent(r.Context(), userID, ev)
	if err != nil {
		return err
	}
	out := eventJSON{ID: res.Event.ID, UserID: res.UserID, Type: res.Event.Type, Amount: optDecimal(res.Event.Amount),
		At: formatTime(res.Event.At), BountyEntryIDs: append([]string{}, res.EntryIDs...)}
	if res.Event.Currency != "" {
		cur := res.Event.Currency
		out.Currency = &cur
	}
	if !res.Created {
		w.Header().Set(headerReplayed, "true")
		writeJSON(w, http.StatusOK, out)
		return nil
	}
	s.metrics.written(len(res.EntryIDs), 0)
	writeJSON(w, http.StatusCreated, out)
	return nil
}

// updateUser decodes a configuration change of the user {id}, applies it
// with the caller's key as audit actor and answers 200 with the user.
func updateUser[T any](s *Server, w http.ResponseWriter, r *http.Request, apply func(ctx context.Context, id string, req T, actor string) error) error {
	id, err := userIDParam(r)
	if err != nil {
		return err
	}
	var req T
	if err := s.decodeJSON(w, r, &req, false); err != nil {
		return err
	}
	if err := apply(r.Context(), id, req, actor(r)); err != nil {
		return err
	}
	u, err := s.affiliate.GetUser(r.Context(), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newUserJSON(u, nil))
	return nil
}

// programAssignment is the body of PUT /v1/users/{id}/program: a program
// id, or null (or "") to clear the assignment. The member is required.
type programAssignment struct {
	Program json.RawMessage `json:"program"`
}

// putUserProgram: PUT /v1/users/{id}/program {"program": "orderly"}; null
// or "" clears the assignment (the group's or the default program applies).
func (s *Server) putUserProgram(w http.ResponseWriter, r *http.Request) error {
	return updateUser(s, w, r, func(ctx context.Context, id string, q programAssignment, actor string) error {
		p := ""
		switch raw := strings.TrimSpace(string(q.Program)); raw {
		case "":
			return &folio.Error{Code: folio.EINVALID, Fields: []string{"program"}, Message: "program is required: a program id, or null to clear the assignment"}
		case "null":
		default:
			if err := json.Unmarshal(q.Program, &p); err != nil {
				return &folio.Error{Code: folio.EINVALID, Fields: []string{"program"}, Message: "program must be a string (a program id) or null"}
			}
		}
		return s.affiliate.AssignProgram(ctx, id, p, actor)
	})
}

// rateRequest is the body of PUT /v1/users/{id}/rate.
type rateRequest struct {
	Rate string `json:"rate"`
}

// putUserRate: PUT /v1/users/{id}/rate {"rate": "0.50"}, a differential
// rate (validated P ≤ rate ≤ the referrer's rate; decreases clamp the
// subtree).
//
// An affiliate key sets the rate of a direct referee of its holder only
// (putRefereeRate).
func (s *Server) putUserRate(w http.ResponseWriter, r *http.Request) error {
	if principalFrom(r.Context()).Role == keys.RoleAffiliate {
		return s.putRefereeRate(w, r)
	}
	return updateUser(s, w, r, func(ctx context.Context, id string, q rateRequest, actor string) error {
		rate, err := parseRate("rate", q.Rate)
		if err != nil {
			return err
		}
		return s.affiliate.SetRate(ctx, id, rate, actor)
	})
}

// putRefereeRate is PUT /v1/users/{id}/rate with an affiliate key: a
// custom rate for a direct referee of its holder, within [P, its own
// rate] (affiliate.SetRefereeRate; any other user is 403). The answer is
// the referee with its id masked and without its signup data.
func (s *Server) putRefereeRate(w http.ResponseWriter, r *http.Request) error {
	id, err := userIDParam(r)
	if err != nil {
		return err
	}
	var q rateRequest
	if err := s.decodeJSON(w, r, &q, false); err != nil {
		return err
	}
	rate, err := parseRate("rate", q.Rate)
	if err != nil {
		return err
	}
	if err := s.affiliate.SetRefereeRate(r.Context(), principalFrom(r.Context()).Holder, id, rate, actor(r)); err != nil {
		return err
	}
	u, m, err := s.userAndMask(r, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, refereeRateJSON{ID: m.id(u.ID), Rate: optDecimal(u.Rate), RateFollowsCode: u.RateFollowsCode})
	return nil
}

// refereeRateJSON answers an affiliate key's PUT /v1/users/{id}/rate.
type refereeRateJSON struct {
	ID              string  `json:"id"`
	Rate            *string `json:"rate"`
	RateFollowsCode bool    `json:"rate_follows_code"`
}

// kickbackRateRequest is the body of PUT /v1/users/{id}/kickback-rate: a
// rate string, or null to clear the override. The member is required.
type kickbackRateRequest struct {
	Rate json.RawMessage `json:"rate"`
}

// putUserKickbackRate: PUT /v1/users/{id}/kickback-rate {"rate": "0.30"}
// or {"rate": null}.
func (s *Server) putUserKickbackRate(w http.ResponseWriter, r *http.Request) error {
	return updateUser(s, w, r, func(ctx context.Context, id string, q kickbackRateRequest, actor string) error {
		var rate *apd.Decimal
		switch raw := strings.TrimSpace(string(q.Rate)); {
		case raw == "":
			return &folio.Error{Code: folio.EINVALID, Fields: []string{"rate"}, Message: "rate is required: a rate such as \"0.30\", or null to clear the override"}
		case raw == "null":
		default:
			var text string
			if err := json.Unmarshal(q.Rate, &text); err != nil {
				return &folio.Error{Code: folio.EINVALID, Fields: []string{"rate"}, Message: "rate must be a string such as \"0.30\", or null"}
			}
			d, err := parseRate("rate", text)
			if err != nil {
				return err
			}
			rate = &d
		}
		return s.affiliate.SetKickbackRate(ctx, id, rate, actor)
	})
}

// revenueShareRequest is the body of PUT /v1/users/{id}/revenue-share.
type revenueShareRequest struct {
	Shares *[]shareJSON `json:"shares"`
}

// shareJSON is one line of a revenue-share table.
type shareJSON struct {
	Beneficiary string `json:"beneficiary"`
	Share       string `json:"share"`
}

func (q revenueShareRequest) toDomain() ([]affiliate.TableShare, error) {
	if q.Shares == nil {
		return nil, &folio.Error{Code: folio.EINVALID, Fields: []string{"shares"}, Message: "shares is required ([] clears the table)"}
	}
	out := make([]affiliate.TableShare, len(*q.Shares))
	for i, sh := range *q.Shares {
		field := fmt.Sprintf("shares[%d]", i)
		if !accounts.ValidHolder(sh.Beneficiary) {
			return nil, &folio.Error{Code: folio.EINVALID, Fields: []string{field + ".beneficiary"}, Message: field + ".beneficiary must be a user id"}
		}
		d, err := parseRate(field+".share", sh.Share)
		if err != nil {
			return nil, err
		}
		if d.IsZero() {
			return nil, &folio.Error{Code: folio.EINVALID, Fields: []string{field + ".share"}, Message: field + ".share must be greater than zero"}
		}
		out[i] = affiliate.TableShare{Beneficiary: sh.Beneficiary, Share: d}
	}
	return out, nil
}

// putUserRevenueShare: PUT /v1/users/{id}/revenue-share replaces the
// user's revenue-share table (table programs) → 200 {user_id, shares}.
func (s *Server) putUserRevenueShare(w http.ResponseWriter, r *http.Request) error {
	id, err := userIDParam(r)
	if err != nil {
		return err
	}
	var req revenueShareRequest
	if err := s.decodeJSON(w, r, &req, false); err != nil {
		return err
	}
	shares, err := req.toDomain()
	if err != nil {
		return err
	}
	if err := s.affiliate.SetRevenueShare(r.Context(), id, shares, actor(r)); err != nil {
		return err
	}
	out := struct {
		UserID string      `json:"user_id"`
		Shares []shareJSON `json:"shares"`
	}{UserID: id, Shares: []shareJSON{}}
	for _, sh := range shares {
		out.Shares = append(out.Shares, shareJSON{Beneficiary: sh.Beneficiary, Share: ledger.Format(&sh.Share)})
	}
	slices.SortFunc(out.Shares, func(a, b shareJSON) int { return strings.Compare(a.Beneficiary, b.Beneficiary) })
	writeJSON(w, http.StatusOK, out)
	return nil
}

// referrerRequest is the body of PUT /v1/users/{id}/referrer.
type referrerRequest struct {
	Referrer *string `json:"referrer"`
}

// putUserReferrer: PUT /v1/users/{id}/referrer {"referrer": "X"}
// re-parents a user ("" makes it a root); a cycle is 409 cycle, the user
// itself 400 self_referral.
func (s *Server) putUserReferrer(w http.ResponseWriter, r *http.Request) error {
	return updateUser(s, w, r, func(ctx context.Context, id string, q referrerRequest, actor string) error {
		if q.Referrer == nil {
			return &folio.Error{Code: folio.EINVALID, Fields: []string{"referrer"}, Message: "referrer is required: a user id, or \"\" to make the user a root"}
		}
		if *q.Referrer != "" && !accounts.ValidHolder(*q.Referrer) {
			return &folio.Error{Code: folio.EINVALID, Fields: []string{"referrer"}, Message: "referrer must be a user id (1 to 64 characters of A-Z a-z 0-9 . _ -)"}
		}
		return s.affiliate.SetReferrer(ctx, id, *q.Referrer, actor)
	})
}

// taxIDRequest is the body of PUT /v1/users/{id}/tax-id.
type taxIDRequest struct {
	TaxID *string `json:"tax_id"`
}

// putUserTaxID: PUT /v1/users/{id}/tax-id {"tax_id": "..."} ("" clears it).
// The tax id itself is never echoed: users show has_tax_id.
func (s *Server) putUserTaxID(w http.ResponseWriter, r *http.Request) error {
	return updateUser(s, w, r, func(ctx context.Context, id string, q taxIDRequest, actor string) error {
		if q.TaxID == nil {
			return &folio.Error{Code: folio.EINVALID, Fields: []string{"tax_id"}, Message: "tax_id is required (\"\" clears it)"}
		}
		return s.affiliate.SetTaxID(ctx, id, *q.TaxID, actor)
	})
}

// chainMemberJSON is one referrer of a chain. Affiliate keys see masked ids
// and no rates.
type chainMemberJSON struct {
	Level        int     `json:"level"`
	ID           string  `json:"id"`
	Group        string  `json:"group"`
	Program      *string `json:"program"`
	Rate         *string `json:"rate"`
	KickbackRate *string `json:"kickback_rate"`
}

// getChain: GET /v1/users/{id}/chain, the user's referrers nearest first
// (level 1 = the direct referrer), up to affiliate.MaxChain levels.
func (s *Server) getChain(w http.ResponseWriter, r *http.Request) error {
	id, err := userIDParam(r)
	if err != nil {
		return err
	}
	chain, err := s.affiliate.Chain(r.Context(), id)
	if err != nil {
		return err
	}
	m, err := s.maskFor(r, nil, nil)
	if err != nil {
		return err
	}
	out := struct {
		UserID string            `json:"user_id"`
		Chain  []chainMemberJSON `json:"chain"`
	}{UserID: id, Chain: []chainMemberJSON{}}
	for i, u := range chain {
		c := chainMemberJSON{Level: i + 1, ID: u.ID, Group: u.Group, Program: optString(u.ProgramID), Rate: optDecimal(u.Rate), KickbackRate: optDecimal(u.KickbackRate)}
		if m != nil {
			c = chainMemberJSON{Level: i + 1, ID: m.id(u.ID)}
		}
		out.Chain = append(out.Chain, c)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// parseRate parses a rate in [0, 1] (a decimal string, at most 18 places),
// naming the field.
func parseRate(field, s string) (apd.Decimal, error) {
	d, err := affiliate.ParseRate(field, s)
	if err != nil {
		return d, &folio.Error{Code: folio.EINVALID, Fields: []string{field}, Message: folio.ErrorMessage(err)}
	}
	return d, nil
}
