package affiliate

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/netip"
	"regexp"
	"strings"
	"time"

	"github.com/cockroachdb/apd/v3"
	"github.com/folioledger/folio"
	"github.com/folioledger/folio/accounts"
	"github.com/folioledger/folio/internal/text"
	"github.com/folioledger/folio/ledger"
	"github.com/folioledger/folio/schema"
	"github.com/jackc/pgx/v5"
)

// User is a user of the exchange as the affiliate engine knows it.
type User struct {
	ID             string
	ReferrerID     string
	ReferralCode   string
	Country        string
	SignupIP       string
	DeviceID       string
	Group          string
	ProgramID      string
	Rate           *apd.Decimal
	KickbackRate   *apd.Decimal
	TaxID          string
	RegisteredAt   time.Time
	KYCVerifiedAt  *time.Time
	FirstDepositAt *time.Time
	FirstTradeAt   *time.Time
	VIPLevel       int // see SetVIPLevel
	UTM            UTM // the campaign it signed up through

	// RateFollowsCode: the rate is the default rate of the code the user
	// joined with, and follows it when the code's owner changes it; false
	// for a custom (pinned) rate or none.
	RateFollowsCode bool
}

// NewUser registers a user.
type NewUser struct {
	ID           string
	ReferralCode string
	Country      string
	SignupIP     string
	DeviceID     string
	Group        string
	RegisteredAt time.Time // zero: now
	VIPLevel     int
	UTM          UTM
	// Signals are the signup's self-referral signals, handed to
	// Service.SignupCheck and never stored by this package.
	Signals SignupSignals
}

// SignupSignals are what a signup tells about where it came from (issue
// 15 item 7): the client's IP address, a device id and its user agent.
// Personal data: the payouts package keeps only keyed hashes of them.
type SignupSignals struct {
	IP        string // an IPv4 or IPv6 address, canonicalized by ValidateSignals
	Device    string
	UserAgent string
}

// SignupCheck assesses a new user inside the transaction that creates it,
// after its row is written and before its signup bounty: an error refuses
// the signup and the transaction writes nothing. signals are the checked
// signals, with the user's signup_ip and device_id standing in for a
// missing IP or device.
type SignupCheck func(ctx context.Context, tx pgx.Tx, now time.Time, u *User, signals SignupSignals) error

// ValidateSignals checks the signals and canonicalizes the IP address
// (netip: "::ffff:10.0.0.1" is 10.0.0.1, IPv6 in its short form).
func ValidateSignals(in SignupSignals) (SignupSignals, error) {
	for _, f := range []struct {
		name, v string
		max     int
	}{{"ip", in.IP, 64}, {"device", in.Device, 128}, {"user_agent", in.UserAgent, 512}} {
		if len(f.v) > f.max {
			return in, &folio.Error{Code: folio.EINVALID, Fields: []string{f.name}, Message: fmt.Sprintf("%s is longer than %d bytes", f.name, f.max)}
		}
		if err := checkText(f.name, f.v, text.SingleLine); err != nil {
			return in, err
		}
		if f.v != "" && strings.TrimSpace(f.v) != f.v {
			return in, &folio.Error{Code: folio.EINVALID, Fields: []string{f.name}, Message: f.name + " has leading or trailing white space"}
		}
	}
	if in.IP != "" {
		a, err := netip.ParseAddr(in.IP)
		if err != nil || a.Zone() != "" {
			return in, &folio.Error{Code: folio.EINVALID, Fields: []string{"ip"}, Message: fmt.Sprintf("ip %q is not an IPv4 or IPv6 address", in.IP)}
		}
		in.IP = a.Unmap().String()
	}
	return in, nil
}

var (
	countryPattern = regexp.MustCompile(`^[A-Z]{2}$`)
	groupPattern   = regexp.MustCompile(`^[A-Za-z0-9._-]{0,64}$`)
	codePattern    = regexp.MustCompile(`^[A-HJ-NP-Z2-9]{6,12}$`)
)

// checkText refuses client-given text that is not valid UTF-8 or holds
// control characters other than allowed (text.TextProblem), naming field.
func checkText(field, s, allowed string) error {
	if p := text.TextProblem(s, allowed); p != "" {
		return &folio.Error{Code: folio.EINVALID, Fields: []string{field}, Message: field + " " + p}
	}
	return nil
}

// CodeAlphabet is the unambiguous alphabet of referral codes: no 0/O/1/I.
const CodeAlphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"

// NormalizeCode upper-cases a code; codes compare case-insensitively.
func NormalizeCode(c string) string { return strings.ToUpper(strings.TrimSpace(c)) }

// sqlLoadUsers reads users by id (loadUsers).
var sqlLoadUsers = `SELECT ` + userColumns + ` FROM users WHERE id = ANY($1)`

const userColumns = `id, coalesce(referrer_id, ''), coalesce(referral_code, ''), country, signup_ip, device_id, grp, coalesce(program_id, ''),
	rate::text, kickback_rate::text, coalesce(tax_id, ''), registered_at, kyc_verified_at, first_deposit_at, first_trade_at,
	vip_level, utm_source, utm_medium, utm_campaign, rate_follows_code`

func scanUser(row pgx.Row) (*User, error) {
	u := &User{}
	var rate, kick *string
	var vip int64
	if err := row.Scan(&u.ID, &u.ReferrerID, &u.ReferralCode, &u.Country, &u.SignupIP, &u.DeviceID, &u.Group, &u.ProgramID,
		&rate, &kick, &u.TaxID, &u.RegisteredAt, &u.KYCVerifiedAt, &u.FirstDepositAt, &u.FirstTradeAt,
		&vip, &u.UTM.Source, &u.UTM.Medium, &u.UTM.Campaign, &u.RateFollowsCode); err != nil {
		return nil, err
	}
	u.VIPLevel = int(vip)
	var err error
	if u.Rate, err = ledger.ParseStoredOptional(rate); err != nil {
		return nil, err
	}
	if u.KickbackRate, err = ledger.ParseStoredOptional(kick); err != nil {
		return nil, err
	}
	u.RegisteredAt = u.RegisteredAt.UTC()
	return u, nil
}

// loadUsers returns the users with the given ids.
func loadUsers(ctx context.Context, q schema.Querier, ids []string) (map[string]*User, error) {
	out := map[string]*User{}
	if len(ids) == 0 {
		return out, nil
	}
	// Sized: a generic plan cached while the table was small would keep
	// scanning it as it grows.
	rows, err := q.Query(ctx, schema.Sized(sqlLoadUsers), ids)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, err
		}
		out[u.ID] = u
	}
	return out, rows.Err()
}

// collectUsers runs a query of userColumns and returns its users in order.
func collectUsers(ctx context.Context, q schema.Querier, sql string, args ...any) ([]*User, error) {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (*User, error) { return scanUser(r) })
}

func getUser(ctx context.Context, q schema.Querier, id string, lock bool) (*User, error) {
	sql := `SELECT ` + userColumns + ` FROM users WHERE id = $1`
	if lock {
		sql += ` FOR UPDATE`
	}
	u, err := scanUser(q.QueryRow(ctx, sql, id))
	if isNoRows(err) {
		return nil, notFound("user", id)
	}
	return u, err
}

// GetUser returns a user.
func (s *Service) GetUser(ctx context.Context, id string) (*User, error) {
	return getUser(ctx, s.DB.Pool, id, false)
}

// CreateUser registers a user, fixing its referrer through the referral
// code, and raises the signup bounty. Registering the same id again with the
// same data answers the existing user (created=false); with different data
// it is a conflict.
func (s *Service) CreateUser(ctx context.Context, in NewUser) (u *User, created bool, err error) {
	switch {
	case !accounts.ValidHolder(in.ID):
		return nil, false, folio.Errorf(folio.EINVALID, "user id must be 1 to 64 characters of A-Z a-z 0-9 . _ -")
	case in.Country != "" && !countryPattern.MatchString(in.Country):
		return nil, false, folio.Errorf(folio.EINVALID, "country must be an ISO 3166 alpha-2 code such as DE")
	case !groupPattern.MatchString(in.Group):
		return nil, false, folio.Errorf(folio.EINVALID, "group must be up to 64 characters of A-Z a-z 0-9 . _ -")
	case len(in.SignupIP) > 64 || len(in.DeviceID) > 128:
		return nil, false, folio.Errorf(folio.EINVALID, "signup_ip or device_id is too long")
	}
	if err := checkText("signup_ip", in.SignupIP, text.SingleLine); err != nil {
		return nil, false, err
	}
	if err := checkText("device_id", in.DeviceID, text.SingleLine); err != nil {
		return nil, false, err
	}
	if err := checkSignupExtras(in); err != nil {
		return nil, false, err
	}
	signals, err := ValidateSignals(in.Signals)
	if err != nil {
		return nil, false, err
	}
	if signals.IP == "" {
		if a, err := netip.ParseAddr(in.SignupIP); err == nil && a.Zone() == "" {
			signals.IP = a.Unmap().String()
		}
	}
	if signals.Device == "" {
		signals.Device = in.DeviceID
	}
	code := NormalizeCode(in.ReferralCode)
	err = s.DB.Tx(ctx, func(tx pgx.Tx) error {
		now := s.now()
		reg := in.RegisteredAt.UTC().Truncate(time.Microsecond)
		if in.RegisteredAt.IsZero() {
			reg = now
		} else if err := ledger.CheckTime("registered_at", reg, now); err != nil {
			// The signup bounty is booked at registered_at: the ledger's
			// bounds on effective times apply, under the client's name.
			return err
		}
		// The code is checked first: only an existing user can own a code,
		// so signing up with one's own code is a registration repeated
		// with a different code, refused as a self-referral.
		var referrer string
		var rate *string
		var disabled bool
		if code != "" {
			var codeRate *string
			err := tx.QueryRow(ctx, `SELECT owner_id, rate::text, disabled_at IS NOT NULL FROM referral_codes WHERE code = $1`, code).Scan(&referrer, &codeRate, &disabled)
			if isNoRows(err) {
				return folio.Errorf(folio.EINVALID, "referral code %q does not exist", in.ReferralCode)
			}
			if err != nil {
				return err
			}
			if referrer == in.ID {
				return folio.Errorf(folio.ESELFREFERRAL, "user %s cannot sign up with its own code", in.ID)
			}
			rate = codeRate
		}
		existing, err := getUser(ctx, tx, in.ID, false)
		if err == nil {
			u, created = existing, false
			if existing.ReferralCode != code || existing.Country != in.Country || existing.SignupIP != in.SignupIP ||
				existing.DeviceID != in.DeviceID || existing.Group != in.Group || (!in.RegisteredAt.IsZero() && !existing.RegisteredAt.Equal(reg)) ||
				existing.UTM != in.UTM {
				return folio.Errorf(folio.ECONFLICT, "user %s already exists with different data", in.ID)
			}
			// The signup's VIP level, not the current one (an admin may
			// have changed it since).
			if lvl, err := signupVIPLevel(ctx, tx, in.ID); err != nil || lvl != in.VIPLevel {
				if err != nil {
					return err
				}
				return folio.Errorf(folio.ECONFLICT, "user %s already exists with different data (it signed up with VIP level %d)", in.ID, lvl)
			}
			return nil
		}
		if folio.ErrorCode(err) != folio.ENOTFOUND {
			return err
		}
		// A disabled code refuses new users only: its referees keep it, and
		// a signup repeated by one of them answers it as it is (above).
		if disabled {
			return &folio.Error{Code: folio.EINVALID, Fields: []string{"referral_code"},
				Message: fmt.Sprintf("referral code %q is disabled: it accepts no new signups", in.ReferralCode)}
		}
		_, err = tx.Exec(ctx, `INSERT INTO users (id, referrer_id, signup_referrer, referral_code, country, signup_ip, device_id, grp, rate, rate_follows_code, registered_at, created_at,
				vip_level, utm_source, utm_medium, utm_campaign)
			VALUES ($1, NULLIF($2, ''), NULLIF($2, ''), NULLIF($3, ''), $4, $5, $6, $7, $8::numeric, $8::numeric IS NOT NULL, $9, $10, $11, $12, $13, $14)`,
			in.ID, referrer, code, in.Country, in.SignupIP, in.DeviceID, in.Group, rate, reg, now,
			in.VIPLevel, in.UTM.Source, in.UTM.Medium, in.UTM.Campaign)
		if err != nil {
			return raced(err, "user %s was created by a concurrent request; send the request again", in.ID)
		}
		if err := recordVIPLevel(ctx, tx, in.ID, in.VIPLevel, "signup", now); err != nil {
			return err
		}
		if u, err = getUser(ctx, tx, in.ID, false); err != nil {
			return err
		}
		created = true
		if s.SignupCheck != nil {
			if err := s.SignupCheck(ctx, tx, now, u, signals); err != nil {
				return err
			}
		}
		_, err = s.awardBounties(ctx, tx, now, u, Event{ID: "signup:" + u.ID, Type: EventSignup, At: reg})
		return err
	})
	return u, created, err
}

// Code is a referral code.
type Code struct {
	Code      string
	Owner     string
	Rate      *apd.Decimal // differential: default rate of referees joining with it
	Kickback  *apd.Decimal // kickback: share returned to the referee
	Note      string
	CreatedAt time.Time
	Referrals int64

	// DisabledAt is when the code stopped accepting signups (nil: it
	// accepts them).
	DisabledAt *time.Time
}

// NewCode requests a referral code; Code empty means generate one.
type NewCode struct {
	Code     string
	Rate     *apd.Decimal
	Kickback *apd.Decimal
	Note     string
}

// CreateCode gives an affiliate a referral code (generated if not chosen),
// within its code limit. A default rate is checked like a referee rate
// (P ≤ rate ≤ owner's rate); a kickback must not exceed the owner's
// kickback rate.
func (s *Service) CreateCode(ctx context.Context, owner string, in NewCode, actor string) (*Code, error) {
	code := NormalizeCode(in.Code)
	if code != "" && !codePattern.MatchString(code) {
		return nil, folio.Errorf(folio.EINVALID, "code must be 6 to 12 characters of %s (no 0, O, 1 or I)", CodeAlphabet)
	}
	if len(in.Note) > 200 {
		return nil, folio.Errorf(folio.EINVALID, "note is longer than 200 characters")
	}
	if err := checkText("note", in.Note, text.Multiline); err != nil {
		return nil, err
	}
	var out *Code
	err := s.DB.Tx(ctx, func(tx pgx.Tx) error {
		now := s.now()
		u, err := getUser(ctx, tx, owner, true)
		if err != nil {
			return err
		}
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM referral_codes WHERE owner_id = $1`, owner).Scan(&n); err != nil {
			return err
		}
		p, err := s.programOf(ctx, tx, u)
		if err != nil {
			return err
		}
		limit := s.MaxCodes
		if limit <= 0 {
			limit = 20
		}
		if p != nil && p.MaxCodes > 0 {
			limit = p.MaxCodes
		}
		if n >= limit {
			if p != nil && p.MaxCodes > 0 {
				return folio.Errorf(folio.ECONFLICT, "affiliate %s already has %d codes, the limit of its program %s (max_codes %d)", owner, n, p.ID, limit)
			}
			return folio.Errorf(folio.ECONFLICT, "affiliate %s already has %d codes, the limit", owner, limit)
		}
		if err := checkCodeRates(p, u, in.Rate, in.Kickback); err != nil {
			return err
		}
		if code == "" {
			if code, err = generateCode(); err != nil {
				return err
			}
		}
		tag, err := tx.Exec(ctx, `INSERT INTO referral_codes (code, owner_id, rate, kickback, note, created_at) VALUES ($1, $2, $3::numeric, $4::numeric, $5, $6)
			ON CONFLICT (code) DO NOTHING`, code, owner, decText(in.Rate), decText(in.Kickback), in.Note, now)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return folio.Errorf(folio.ECONFLICT, "code %s is taken", code)
		}
		out = &Code{Code: code, Owner: owner, Rate: in.Rate, Kickback: in.Kickback, Note: in.Note, CreatedAt: now}
		return audit(ctx, tx, now, actor, "code.create", "code:"+code, nil, map[string]any{"code": code, "owner": owner, "rate": decText(in.Rate), "kickback": decText(in.Kickback), "note": in.Note})
	})
	return out, err
}

// checkCodeRates validates a code's default rate (differential: P ≤ rate ≤
// the owner's rate) and kickback (kickback: 0 ≤ k ≤ the owner's rate R)
// against the program p the owner u resolves to; nil ones are not checked.
func checkCodeRates(p *Program, u *User, rate, kickback *apd.Decimal) error {
	if rate != nil {
		if p == nil || p.Kind != KindDifferential {
			return folio.Errorf(folio.EINVALID, "a code rate applies to differential programs; %s's program is not one", u.ID)
		}
		if u.Rate == nil {
			return folio.Errorf(folio.EINVALID, "affiliate %s has no rate yet; set it before giving codes a rate", u.ID)
		}
		if err := checkDifferentialRate(p, rate, u.Rate); err != nil {
			return err
		}
	}
	if kickback != nil {
		if p == nil || p.Kind != KindKickback {
			return folio.Errorf(folio.EINVALID, "a code kickback applies to kickback programs; %s's program is not one", u.ID)
		}
		r := p.Rate
		if u.KickbackRate != nil {
			r = *u.KickbackRate
		}
		if kickback.Sign() < 0 || kickback.Cmp(&r) > 0 {
			return folio.Errorf(folio.EINVALID, "kickback %s must be between 0 and the affiliate's rate %s", ledger.Format(kickback), ledger.Format(&r))
		}
	}
	return nil
}

func generateCode() (string, error) {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	for i := range b {
		b[i] = CodeAlphabet[int(b[i])%len(CodeAlphabet)]
	}
	return string(b), nil
}

// ListCodes returns an affiliate's codes with their referral counts.
func (s *Service) ListCodes(ctx context.Context, owner string) ([]Code, error) {
	if _, err := s.GetUser(ctx, owner); err != nil {
		return nil, err
	}
	rows, err := s.DB.Pool.Query(ctx, `SELECT c.code, c.owner_id, c.rate::text, c.kickback::text, c.note, c.created_at, c.disabled_at,
			(SELECT count(*) FROM users u WHERE u.referral_code = c.code)
		FROM referral_codes c WHERE c.owner_id = $1 ORDER BY c.created_at, c.code`, owner)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Code
	for rows.Next() {
		var c Code
		var rate, kick *string
		if err := rows.Scan(&c.Code, &c.Owner, &rate, &kick, &c.Note, &c.CreatedAt, &c.DisabledAt, &c.Referrals); err != nil {
			return nil, err
		}
		if c.Rate, err = ledger.ParseStoredOptional(rate); err != nil {
			return nil, err
		}
		if c.Kickback, err = ledger.ParseStoredOptional(kick); err != nil {
			return nil, err
		}
		c.CreatedAt = c.CreatedAt.UTC()
		if c.DisabledAt != nil {
			t := c.DisabledAt.UTC()
			c.DisabledAt = &t
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// ancestors returns the referrer chain of id, nearest first, up to depth.
func ancestors(ctx context.Context, q schema.Querier, id string, depth int) ([]string, error) {
	var out []string
	cur := id
	for len(out) < depth {
		var ref *string
		err := q.QueryRow(ctx, `SELECT referrer_id FROM users WHERE id = $1`, cur).Scan(&ref)
		if isNoRows(err) || (err == nil && ref == nil) {
			break
		}
		if err != nil {
			return nil, err
		}
		out = append(out, *ref)
		cur = *ref
	}
	return out, nil
}

// SetReferrer re-parents a user (admin): effective for trades recorded
// after it; settled commissions are untouched. Refused if it would create
// a cycle or a self-referral. Audit-logged with before and after.
func (s *Service) SetReferrer(ctx context.Context, id, referrer, actor string) error {
	if id == referrer {
		return folio.Errorf(folio.ESELFREFERRAL, "user %s cannot refer itself", id)
	}
	return s.DB.Tx(ctx, func(tx pgx.Tx) error {
		now := s.now()
		u, err := getUser(ctx, tx, id, true)
		if err != nil {
			return err
		}
		if referrer != "" {
			if _, err := getUser(ctx, tx, referrer, false); err != nil {
				return err
			}
			up, err := ancestors(ctx, tx, referrer, 1<<20)
			if err != nil {
				return err
			}
			for _, a := range up {
				if a == id {
					return folio.Errorf(folio.ECYCLE, "making %s the referrer of %s would create a cycle", referrer, id)
				}
			}
		}
		if err := execUserChange(ctx, tx, `UPDATE users SET referrer_id = NULLIF($2, '') WHERE id = $1`, id, referrer); err != nil {
			return err
		}
		if err := audit(ctx, tx, now, actor, "user.referrer", "user:"+id, map[string]string{"referrer": u.ReferrerID}, map[string]string{"referrer": referrer}); err != nil {
			return err
		}
		return s.clampMoved(ctx, tx, now, actor, u, referrer)
	})
}

// clampMoved keeps differential rates consistent after a move: a moved user
// whose rate is above its new referrer's is clamped with its subtree, as a
// rate decrease would (each clamp audit-logged).
func (s *Service) clampMoved(ctx context.Context, tx pgx.Tx, now time.Time, actor string, u *User, referrer string) error {
	if referrer == "" || u.Rate == nil {
		return nil
	}
	ref, err := getUser(ctx, tx, referrer, false)
	if err != nil {
		return err
	}
	p, err := s.programOf(ctx, tx, u)
	if err != nil {
		return err
	}
	if ref.Rate == nil || p == nil || p.Kind != KindDifferential || u.Rate.Cmp(ref.Rate) <= 0 {
		return nil
	}
	return clampBelow(ctx, tx, now, actor, referrer, *ref.Rate, p.MinPassDown)
}

// AssignProgram sets (or with "" clears) a user's own trade program.
func (s *Service) AssignProgram(ctx context.Context, id, program, actor string) error {
	return s.DB.Tx(ctx, func(tx pgx.Tx) error {
		now := s.now()
		u, err := getUser(ctx, tx, id, true)
		if err != nil {
			return err
		}
		if program != "" {
			progs, err := loadPrograms(ctx, tx, s.Rules)
			if err != nil {
				return err
			}
			p := progs.byID[program]
			if p == nil {
				return notFound("program", program)
			}
			if p.Kind == KindBounty {
				return folio.Errorf(folio.EINVALID, "program %s is a bounty program; bounty programs apply to every user", program)
			}
		}
		if err := execUserChange(ctx, tx, `UPDATE users SET program_id = NULLIF($2, '') WHERE id = $1`, id, program); err != nil {
			return err
		}
		return audit(ctx, tx, now, actor, "user.program", "user:"+id, map[string]string{"program": u.ProgramID}, map[string]string{"program": program})
	})
}

// checkDifferentialRate enforces P ≤ rate ≤ upstream (the referrer's rate).
func checkDifferentialRate(p *Program, rate, upstream *apd.Decimal) error {
	if rate.Sign() < 0 || rate.Cmp(one) > 0 {
		return folio.Errorf(folio.EINVALID, "rate %s must be between 0 and 1", ledger.Format(rate))
	}
	if rate.Cmp(&p.MinPassDown) < 0 {
		return folio.Errorf(folio.EINVALID, "rate %s is below the program's minimum pass-down rate %s", ledger.Format(rate), ledger.Format(&p.MinPassDown))
	}
	if upstream != nil && rate.Cmp(upstream) > 0 {
		return folio.Errorf(folio.EINVALID, "rate %s is above the referrer's rate %s", ledger.Format(rate), ledger.Format(upstream))
	}
	return nil
}

// SetRate sets a user's differential rate X: a root affiliate's X_1 or a
// custom referee rate, validated against the program the user resolves to
// (P ≤ X) and its referrer's rate (X ≤ X_referrer). An increase affects only
// the user; a decrease clamps every descendant (and their codes' default
// rates) to max(P, min(X_child, X'_parent)), recursively. Every change is
// audit-logged; accrued commissions are never recalculated.
//
// The rate set is custom: it no longer follows the code the user joined
// with (see "Codes, rates and notes" in doc.go).
func (s *Service) SetRate(ctx context.Context, id string, rate apd.Decimal, actor string) error {
	return s.setRate(ctx, id, "", rate, actor)
}

// SetRefereeRate is SetRate by the referee's direct referrer (an
// affiliate's own key): forbidden unless referrer is id's current
// referrer — whether id exists or not, so the answer names no stranger.
func (s *Service) SetRefereeRate(ctx context.Context, referrer, id string, rate apd.Decimal, actor string) error {
	return s.setRate(ctx, id, referrer, rate, actor)
}

// setRate is SetRate; referrer, when set, must be id's direct referrer.
func (s *Service) setRate(ctx context.Context, id, referrer string, rate apd.Decimal, actor string) error {
	return s.DB.Tx(ctx, func(tx pgx.Tx) error {
		now := s.now()
		u, err := getUser(ctx, tx, id, true)
		if referrer != "" && (folio.ErrorCode(err) == folio.ENOTFOUND || (err == nil && u.ReferrerID != referrer)) {
			return folio.Errorf(folio.EFORBIDDEN, "user %s is not a direct referee of %s: only its direct referrer (or an admin) sets its rate", id, referrer)
		}
		if err != nil {
			return err
		}
		p, err := s.programOf(ctx, tx, u)
		if err != nil {
			return err
		}
		if p == nil || p.Kind != KindDifferential {
			return folio.Errorf(folio.EINVALID, "user %s does not resolve to a differential program", id)
		}
		var upstream *apd.Decimal
		if u.ReferrerID != "" {
			ref, err := getUser(ctx, tx, u.ReferrerID, false)
			if err != nil {
				return err
			}
			if ref.Rate == nil {
				return folio.Errorf(folio.EINVALID, "the referrer %s has no rate; set it first", ref.ID)
			}
			upstream = ref.Rate
		}
		if err := checkDifferentialRate(p, &rate, upstream); err != nil {
			return err
		}
		if err := execUserChange(ctx, tx, `UPDATE users SET rate = $2::numeric, rate_follows_code = false WHERE id = $1`, id, ledger.Format(&rate)); err != nil {
			return err
		}
		if err := audit(ctx, tx, now, actor, "user.rate", "user:"+id, map[string]*string{"rate": decText(u.Rate)}, map[string]*string{"rate": decText(&rate)}); err != nil {
			return err
		}
		if u.Rate != nil && rate.Cmp(u.Rate) >= 0 {
			return nil
		}
		return clampBelow(ctx, tx, now, actor, id, rate, p.MinPassDown)
	})
}

// clampBelow applies a rate decrease of parent to its codes and, level by
// level, to every descendant.
func clampBelow(ctx context.Context, tx pgx.Tx, now time.Time, actor, parent string, parentRate, floor apd.Decimal) error {
	queue := []idRate{{parent, parentRate}}
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		clamp := func(x *apd.Decimal) (apd.Decimal, bool) {
			v := *x
			if v.Cmp(&n.rate) > 0 {
				v = n.rate
			}
			if v.Cmp(&floor) < 0 {
				v = floor
			}
			return v, v.Cmp(x) != 0
		}
		for _, target := range []struct{ query, update, action, object string }{
			{`SELECT code, rate::text FROM referral_codes WHERE owner_id = $1 AND rate IS NOT NULL`,
				`UPDATE referral_codes SET rate = $2::numeric WHERE code = $1`, "code.rate.clamp", "code:"},
			{`SELECT id, rate::text FROM users WHERE referrer_id = $1 AND rate IS NOT NULL`,
				`UPDATE users SET rate = $2::numeric WHERE id = $1`, "user.rate.clamp", "user:"},
		} {
			rows, err := loadIDRates(ctx, tx, target.query, n.id)
			if err != nil {
				return err
			}
			for _, r := range rows {
				v, changed := clamp(&r.rate)
				if !changed {
					continue
				}
				if err := execUserChange(ctx, tx, target.update, r.id, ledger.Format(&v)); err != nil {
					return err
				}
				if err := audit(ctx, tx, now, actor, target.action, target.object+r.id, map[string]string{"rate": ledger.Format(&r.rate)}, map[string]string{"rate": ledger.Format(&v)}); err != nil {
					return err
				}
				if target.object == "user:" {
					queue = append(queue, idRate{r.id, v})
				}
			}
		}
	}
	return nil
}

// idRate is a user or code with its differential rate.
type idRate struct {
	id   string
	rate apd.Decimal
}

// loadIDRates runs a query selecting (id, rate::text) rows for owner.
func loadIDRates(ctx context.Context, tx pgx.Tx, query, owner string) ([]idRate, error) {
	rows, err := tx.Query(ctx, query, owner)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []idRate
	for rows.Next() {
		var id, r string
		if err := rows.Scan(&id, &r); err != nil {
			return nil, err
		}
		d, err := ledger.ParseStored(r)
		if err != nil {
			return nil, err
		}
		out = append(out, idRate{id, d})
	}
	return out, rows.Err()
}

// SetKickbackRate sets an affiliate's own direct-referrer rate R in kickback
// programs (nil clears the override).
func (s *Service) SetKickbackRate(ctx context.Context, id string, rate *apd.Decimal, actor string) error {
	if rate != nil && (rate.Sign() < 0 || rate.Cmp(one) > 0) {
		return folio.Errorf(folio.EINVALID, "rate must be between 0 and 1")
	}
	return s.DB.Tx(ctx, func(tx pgx.Tx) error {
		now := s.now()
		u, err := getUser(ctx, tx, id, true)
		if err != nil {
			return err
		}
		if err := execUserChange(ctx, tx, `UPDATE users SET kickback_rate = $2::numeric WHERE id = $1`, id, decText(rate)); err != nil {
			return err
		}
		return audit(ctx, tx, now, actor, "user.kickback_rate", "user:"+id, map[string]*string{"rate": decText(u.KickbackRate)}, map[string]*string{"rate": decText(rate)})
	})
}

// SetRevenueShare replaces a user's revenue-share table (table programs).
func (s *Service) SetRevenueShare(ctx context.Context, id string, shares []TableShare, actor string) error {
	if err := CheckTable(id, shares); err != nil {
		return err
	}
	return s.DB.Tx(ctx, func(tx pgx.Tx) error {
		now := s.now()
		if _, err := getUser(ctx, tx, id, true); err != nil {
			return err
		}
		ids := make([]string, len(shares))
		for i, sh := range shares {
			ids[i] = sh.Beneficiary
		}
		found, err := loadUsers(ctx, tx, ids)
		if err != nil {
			return err
		}
		for _, b := range ids {
			if found[b] == nil {
				return notFound("beneficiary", b)
			}
		}
		before, err := loadRevenueShares(ctx, tx, []string{id})
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM revenue_shares WHERE user_id = $1`, id); err != nil {
			return err
		}
		amounts := make([]string, len(shares))
		for i, sh := range shares {
			amounts[i] = ledger.Format(&sh.Share)
		}
		if len(shares) > 0 {
			if _, err := tx.Exec(ctx, `INSERT INTO revenue_shares (user_id, beneficiary, share)
				SELECT $1, b, s::numeric FROM unnest($2::text[], $3::text[]) AS u(b, s)`, id, ids, amounts); err != nil {
				return raced(err, "the revenue share of user %s was changed by a concurrent request; send the request again", id)
			}
		}
		return audit(ctx, tx, now, actor, "user.revenue_share", "user:"+id, sharesJSON(before[id]), sharesJSON(shares))
	})
}

func sharesJSON(shares []TableShare) []map[string]string {
	out := []map[string]string{}
	for _, s := range shares {
		out = append(out, map[string]string{"beneficiary": s.Beneficiary, "share": ledger.Format(&s.Share)})
	}
	return out
}

func loadRevenueShares(ctx context.Context, q schema.Querier, ids []string) (map[string][]TableShare, error) {
	out := map[string][]TableShare{}
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := q.Query(ctx, `SELECT user_id, beneficiary, share::text FROM revenue_shares WHERE user_id = ANY($1) ORDER BY user_id, beneficiary`, ids)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var uid, b, sh string
		if err := rows.Scan(&uid, &b, &sh); err != nil {
			return nil, err
		}
		d, err := ledger.ParseStored(sh)
		if err != nil {
			return nil, err
		}
		out[uid] = append(out[uid], TableShare{Beneficiary: b, Share: d})
	}
	return out, rows.Err()
}

// SetTaxID records an affiliate's tax id (payout tax checks).
func (s *Service) SetTaxID(ctx context.Context, id, taxID, actor string) error {
	if len(taxID) > 64 {
		return folio.Errorf(folio.EINVALID, "tax_id is longer than 64 characters")
	}
	if err := checkText("tax_id", taxID, text.SingleLine); err != nil {
		return err
	}
	return s.DB.Tx(ctx, func(tx pgx.Tx) error {
		u, err := getUser(ctx, tx, id, true)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE users SET tax_id = NULLIF($2, '') WHERE id = $1`, id, taxID); err != nil {
			return err
		}
		return audit(ctx, tx, s.now(), actor, "user.tax_id", "user:"+id, map[string]bool{"set": u.TaxID != ""}, map[string]bool{"set": taxID != ""})
	})
}

// programOf is the trade program that applies to u (its assignment, its
// group's program or the default; nil if none), as tx sees the programs.
func (s *Service) programOf(ctx context.Context, tx pgx.Tx, u *User) (*Program, error) {
	progs, err := loadPrograms(ctx, tx, s.Rules)
	if err != nil {
		return nil, err
	}
	return progs.resolve(u), nil
}
