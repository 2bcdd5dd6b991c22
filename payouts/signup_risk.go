package payouts

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/folioledger/folio"
	"github.com/folioledger/folio/affiliate"
	"github.com/jackc/pgx/v5"
)

// What the fraud rules do with a flagged signup (FraudRules.SignupRisk).
const (
	SignupRefuse = "refuse" // POST /v1/users answers 403 with the reasons and writes nothing
	SignupFlag   = "flag"   // the user is created and its flag recorded (the default)
	SignupHold   = "hold"   // also: payout lines paying the user's activity are held (FlagSignupRisk)
)

// Signup risk flags: the signup shares a signal with a user of its
// referral chain, or is one of many from one IP or device under one
// referrer.
const (
	RiskSameIPReferrer     = "same_ip_as_referrer"
	RiskSameDeviceReferrer = "same_device_as_referrer"
	RiskSameIPUpline       = "same_ip_as_upline"
	RiskSameDeviceUpline   = "same_device_as_upline"
	RiskFarm               = "signup_farm"
)

// FlagSignupRisk holds a payout line that pays activity of a user whose
// signup was flagged while the rules said hold.
const FlagSignupRisk = "signup_risk"

// riskWeights score a signup: the sum of its flags' weights, at most 100.
var riskWeights = map[string]int64{RiskSameDeviceReferrer: 60, RiskSameIPReferrer: 40, RiskSameDeviceUpline: 40,
	RiskSameIPUpline: 30, RiskFarm: 50}

// maxUpline is how far up the referral chain a signup's signals are
// compared: the deepest chain a program pays (affiliate: 15 levels).
const maxUpline = 15

// SignupRisk is the stored assessment of a signup.
type SignupRisk struct {
	UserID     string
	ReferrerID string
	Score      int64
	Flags      []Flag
	Matched    []string // the chain's users whose signals the signup shares
	Action     string   // none, flag or hold
	At         time.Time
}

// Flagged reports whether the signup raised a flag.
func (r *SignupRisk) Flagged() bool { return r != nil && len(r.Flags) > 0 }

const signupHashKey = "signup_hash_key"

// hashKey returns the database's signal hashing key, creating it on first
// use. It lives in the settings row signup_hash_key, so every server hashes
// alike.
func hashKey(ctx context.Context, tx pgx.Tx) ([]byte, error) {
	var v string
	err := tx.QueryRow(ctx, `SELECT value FROM settings WHERE key = $1`, signupHashKey).Scan(&v)
	if isNoRows(err) {
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			return nil, err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING`, signupHashKey, hex.EncodeToString(b)); err != nil {
			return nil, err
		}
		err = tx.QueryRow(ctx, `SELECT value FROM settings WHERE key = $1`, signupHashKey).Scan(&v)
	}
	if err != nil {
		return nil, err
	}
	return hex.DecodeString(v)
}

// signalHash is the keyed hash of one signal (nil when absent): kind
// separates an IP from a device id of the same text.
func signalHash(key []byte, kind, value string) []byte {
	if value == "" {
		return nil
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(kind + "\x00" + value))
	return m.Sum(nil)
}

// chainSignals are the hashes a chain member signed up with: its
// signup_risk row's and those of its stored signup_ip and device_id.
type chainSignals struct{ ips, devices [][]byte }

func (s *Service) memberSignals(ctx context.Context, tx pgx.Tx, key []byte, u *affiliate.User) (chainSignals, error) {
	var c chainSignals
	var ip, dev []byte
	err := tx.QueryRow(ctx, `SELECT ip_hash, device_hash FROM signup_risk WHERE user_id = $1`, u.ID).Scan(&ip, &dev)
	if err != nil && !isNoRows(err) {
		return c, err
	}
	sig, _ := affiliate.ValidateSignals(affiliate.SignupSignals{IP: u.SignupIP})
	for _, h := range [][]byte{ip, signalHash(key, "ip", sig.IP)} {
		if h != nil {
			c.ips = append(c.ips, h)
		}
	}
	for _, h := range [][]byte{dev, signalHash(key, "device", u.DeviceID)} {
		if h != nil {
			c.devices = append(c.devices, h)
		}
	}
	return c, nil
}

func containsHash(list [][]byte, h []byte) bool {
	return h != nil && slices.ContainsFunc(list, func(x []byte) bool { return hmac.Equal(x, h) })
}

// CheckSignup is the affiliate.SignupCheck that NewService installs: it
// scores the signup's signals against its referrer and upline and against
// the referrer's recent signups, then applies the fraud rules' signup_risk:
// refuse (forbidden, the reasons in the message; nothing is written),
// flag, or hold. A signup without signals writes no row.
func (s *Service) CheckSignup(ctx context.Context, tx pgx.Tx, now time.Time, u *affiliate.User, sig affiliate.SignupSignals) error {
	if sig.IP == "" && sig.Device == "" && sig.UserAgent == "" {
		return nil
	}
	rules, err := s.fraudRules(ctx, tx)
	if err != nil {
		return err
	}
	key, err := hashKey(ctx, tx)
	if err != nil {
		return err
	}
	ipH, devH, uaH := signalHash(key, "ip", sig.IP), signalHash(key, "device", sig.Device), signalHash(key, "user_agent", sig.UserAgent)
	r := SignupRisk{UserID: u.ID, ReferrerID: u.ReferrerID, At: now, Action: "none"}
	add := func(rule, detail string) {
		if !slices.ContainsFunc(r.Flags, func(f Flag) bool { return f.Rule == rule }) {
			r.Score += riskWeights[rule]
		}
		r.Flags = append(r.Flags, Flag{rule, detail})
	}
	// The referrer (level 1) and its upline.
	id := u.ReferrerID
	for level := 1; id != "" && level <= maxUpline; level++ {
		m, err := affiliate.GetUserTx(ctx, tx, id)
		if err != nil {
			return err
		}
		c, err := s.memberSignals(ctx, tx, key, m)
		if err != nil {
			return err
		}
		ipRule, devRule, who := RiskSameIPUpline, RiskSameDeviceUpline, fmt.Sprintf("upline %s (level %d)", m.ID, level)
		if level == 1 {
			ipRule, devRule, who = RiskSameIPReferrer, RiskSameDeviceReferrer, "referrer "+m.ID
		}
		hit := false
		if containsHash(c.ips, ipH) {
			add(ipRule, "signed up from the IP address of its "+who)
			hit = true
		}
		if containsHash(c.devices, devH) {
			add(devRule, "signed up on the device of its "+who)
			hit = true
		}
		if hit && !slices.Contains(r.Matched, m.ID) {
			r.Matched = append(r.Matched, m.ID)
		}
		id = m.ReferrerID
	}
	// A referral farm: many signups from one IP or device under one
	// referrer within the window (this one included).
	if u.ReferrerID != "" && (ipH != nil || devH != nil) {
		var n int64
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM signup_risk WHERE referrer_id = $1 AND at > $2 AND (ip_hash = $3 OR device_hash = $4)`,
			u.ReferrerID, now.Add(-rules.window), ipH, devH).Scan(&n); err != nil {
			return err
		}
		if n+1 >= rules.FarmReferees {
			add(RiskFarm, fmt.Sprintf("%d signups under referrer %s from one IP address or device within %s", n+1, u.ReferrerID, rules.FarmWindow))
		}
	}
	r.Score = min(r.Score, 100)
	if r.Flagged() {
		r.Action = rules.SignupRisk
		if r.Action == SignupRefuse {
			var why []string
			for _, f := range r.Flags {
				why = append(why, f.Rule+": "+f.Detail)
			}
			return &folio.Error{Code: folio.EFORBIDDEN, Fields: []string{"ip", "device"},
				Message: "signup refused by the fraud rules (signup_risk: refuse): " + strings.Join(why, "; ")}
		}
	}
	flags, _ := json.Marshal(r.Flags)
	if r.Flags == nil {
		flags = []byte("[]")
	}
	if r.Matched == nil {
		r.Matched = []string{}
	}
	_, err = tx.Exec(ctx, `INSERT INTO signup_risk (user_id, referrer_id, ip_hash, device_hash, user_agent_hash, score, flags, matched, action, at)
		VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9, $10)`, r.UserID, r.ReferrerID, ipH, devH, uaH, r.Score, string(flags), r.Matched, r.Action, now)
	return err
}

// SignupRisks returns the stored assessments of users (those without one
// are absent): for the user read model and the referral list.
func SignupRisks(ctx context.Context, q interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}, ids []string) (map[string]*SignupRisk, error) {
	rows, err := q.Query(ctx, `SELECT user_id, referrer_id, score, flags::text, matched, action, at FROM signup_risk WHERE user_id = ANY($1)`, ids)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]*SignupRisk{}
	for rows.Next() {
		r := &SignupRisk{}
		var flags string
		if err := rows.Scan(&r.UserID, &r.ReferrerID, &r.Score, &flags, &r.Matched, &r.Action, &r.At); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(flags), &r.Flags); err != nil {
			return nil, err
		}
		r.At = r.At.UTC()
		out[r.UserID] = r
	}
	return out, rows.Err()
}

// SignupRisk returns a user's stored assessment, nil when it has none.
func (s *Service) SignupRisk(ctx context.Context, id string) (*SignupRisk, error) {
	m, err := SignupRisks(ctx, s.DB.Pool, []string{id})
	return m[id], err
}

// heldSignups returns, for the traders among ids whose signup was flagged
// while the rules said hold, their flags' rules.
func heldSignups(ctx context.Context, tx pgx.Tx, ids []string) (map[string][]string, error) {
	rows, err := tx.Query(ctx, `SELECT user_id, flags::text FROM signup_risk WHERE action = 'hold' AND user_id = ANY($1) ORDER BY user_id`, ids)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string][]string{}
	for rows.Next() {
		var id, flags string
		var fs []Flag
		if err := rows.Scan(&id, &flags); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(flags), &fs); err != nil {
			return nil, err
		}
		for _, f := range fs {
			out[id] = append(out[id], f.Rule)
		}
	}
	return out, rows.Err()
}
