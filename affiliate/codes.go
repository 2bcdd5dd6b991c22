package affiliate

import (
	"context"
	"time"

	"github.com/cockroachdb/apd/v3"
	"github.com/folioledger/folio"
	"github.com/folioledger/folio/internal/text"
	"github.com/folioledger/folio/ledger"
	"github.com/folioledger/folio/schema"
	"github.com/jackc/pgx/v5"
)

// CodeChange edits a referral code; nil fields stay as they are.
type CodeChange struct {
	Rate     *apd.Decimal // differential: the default rate of its referees
	Kickback *apd.Decimal // kickback: the share returned to its referees
	Note     *string
	Disabled *bool // true: refuse new signups; false: accept them again
}

// maxNote bounds code notes and referral notes, in bytes.
const maxNote = 200

func checkNote(note string) error {
	if len(note) > maxNote {
		return &folio.Error{Code: folio.EINVALID, Fields: []string{"note"}, Message: "note is longer than 200 characters"}
	}
	return checkText("note", note, text.Multiline)
}

// UpdateCode edits owner's code with the validation of CreateCode (the
// rate against the owner's program and rate, the kickback against the
// owner's rate). A code that is not owner's is not found. Raising or
// lowering the default rate moves every referee that follows the code
// (User.RateFollowsCode) to the new rate, and a decrease clamps their
// subtrees as SetRate does; referees with a custom rate keep it (a
// decrease below it reaches them only through their referrer's clamp).
// Disabling refuses new signups with the code; its referees keep it.
// Audit-logged ("code.update", and "user.rate.follow" per moved referee).
func (s *Service) UpdateCode(ctx context.Context, owner, code string, in CodeChange, actor string) (*Code, error) {
	code = NormalizeCode(code)
	if in.Rate == nil && in.Kickback == nil && in.Note == nil && in.Disabled == nil {
		return nil, folio.Errorf(folio.EINVALID, "give at least one of rate, kickback, note and disabled")
	}
	if in.Note != nil {
		if err := checkNote(*in.Note); err != nil {
			return nil, err
		}
	}
	var out *Code
	err := s.DB.Tx(ctx, func(tx pgx.Tx) error {
		now := s.now()
		c, err := getCode(ctx, tx, code)
		if err != nil {
			return err
		}
		if c.Owner != owner {
			return notFound("code", code)
		}
		u, err := getUser(ctx, tx, owner, true)
		if err != nil {
			return err
		}
		p, err := s.programOf(ctx, tx, u)
		if err != nil {
			return err
		}
		if err := checkCodeRates(p, u, in.Rate, in.Kickback); err != nil {
			return err
		}
		before := codeAudit(c)
		next := *c
		if in.Rate != nil {
			next.Rate = in.Rate
		}
		if in.Kickback != nil {
			next.Kickback = in.Kickback
		}
		if in.Note != nil {
			next.Note = *in.Note
		}
		if in.Disabled != nil {
			switch {
			case *in.Disabled && c.DisabledAt == nil:
				next.DisabledAt = &now
			case !*in.Disabled:
				next.DisabledAt = nil
			}
		}
		if _, err := tx.Exec(ctx, `UPDATE referral_codes SET rate = $2::numeric, kickback = $3::numeric, note = $4, disabled_at = $5 WHERE code = $1`,
			code, decText(next.Rate), decText(next.Kickback), next.Note, next.DisabledAt); err != nil {
			return err
		}
		if err := audit(ctx, tx, now, actor, "code.update", "code:"+code, before, codeAudit(&next)); err != nil {
			return err
		}
		if in.Rate != nil && (c.Rate == nil || in.Rate.Cmp(c.Rate) != 0) {
			floor := apd.Decimal{}
			if p != nil {
				floor = p.MinPassDown
			}
			if err := followCode(ctx, tx, now, actor, owner, code, *in.Rate, floor); err != nil {
				return err
			}
		}
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM users WHERE referral_code = $1`, code).Scan(&next.Referrals); err != nil {
			return err
		}
		out = &next
		return nil
	})
	return out, err
}

// codeAudit is a code's editable fields as the audit log records them.
func codeAudit(c *Code) map[string]any {
	return map[string]any{"rate": decText(c.Rate), "kickback": decText(c.Kickback), "note": c.Note, "disabled": c.DisabledAt != nil}
}

// getCode reads a code, locked for update.
func getCode(ctx context.Context, tx pgx.Tx, code string) (*Code, error) {
	c := &Code{}
	var rate, kick *string
	err := tx.QueryRow(ctx, `SELECT code, owner_id, rate::text, kickback::text, note, created_at, disabled_at FROM referral_codes WHERE code = $1 FOR UPDATE`, code).
		Scan(&c.Code, &c.Owner, &rate, &kick, &c.Note, &c.CreatedAt, &c.DisabledAt)
	if isNoRows(err) {
		return nil, notFound("code", code)
	}
	if err != nil {
		return nil, err
	}
	if c.Rate, err = ledger.ParseStoredOptional(rate); err != nil {
		return nil, err
	}
	if c.Kickback, err = ledger.ParseStoredOptional(kick); err != nil {
		return nil, err
	}
	c.CreatedAt = c.CreatedAt.UTC()
	return c, nil
}

// followCode moves the referees that follow code (joined with it, still
// referred by its owner, no custom rate) to its new default rate; a
// decrease clamps each one's subtree as SetRate does.
func followCode(ctx context.Context, tx pgx.Tx, now time.Time, actor, owner, code string, rate, floor apd.Decimal) error {
	rows, err := tx.Query(ctx, `SELECT id, rate::text FROM users WHERE referral_code = $1 AND referrer_id = $2 AND rate_follows_code AND rate IS NOT NULL ORDER BY id`, code, owner)
	if err != nil {
		return err
	}
	var followers []idRate
	for rows.Next() {
		var id, r string
		if err := rows.Scan(&id, &r); err != nil {
			rows.Close()
			return err
		}
		d, err := ledger.ParseStored(r)
		if err != nil {
			rows.Close()
			return err
		}
		followers = append(followers, idRate{id, d})
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	var ids []string
	for _, f := range followers {
		if f.rate.Cmp(&rate) != 0 {
			ids = append(ids, f.id)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	if err := execUserChange(ctx, tx, `UPDATE users SET rate = $2::numeric WHERE id = ANY($1)`, ids, ledger.Format(&rate)); err != nil {
		return err
	}
	for _, f := range followers {
		if f.rate.Cmp(&rate) == 0 {
			continue
		}
		if err := audit(ctx, tx, now, actor, "user.rate.follow", "user:"+f.id, map[string]string{"rate": ledger.Format(&f.rate)},
			map[string]string{"rate": ledger.Format(&rate), "code": code}); err != nil {
			return err
		}
		if rate.Cmp(&f.rate) < 0 {
			if err := clampBelow(ctx, tx, now, actor, f.id, rate, floor); err != nil {
				return err
			}
		}
	}
	return nil
}

// SetReferralNote records affiliate's private note on referee, a user of
// its referral tree down to DefaultMaxLevels (any other id is not found,
// whether it exists or not); "" clears it. Notes are appended, never
// updated: the newest is the note. The audit log records that a note was
// set or cleared, not its text (auditors read the log; the note is the
// affiliate's and the admins').
func (s *Service) SetReferralNote(ctx context.Context, affiliateID, referee, note, actor string) error {
	if err := checkNote(note); err != nil {
		return err
	}
	return s.DB.Tx(ctx, func(tx pgx.Tx) error {
		now := s.now()
		if _, err := getUser(ctx, tx, affiliateID, false); err != nil {
			return err
		}
		up, err := ancestors(ctx, tx, referee, DefaultMaxLevels)
		if err != nil {
			return err
		}
		found := false
		for _, a := range up {
			found = found || a == affiliateID
		}
		if !found {
			return notFound("referee", referee)
		}
		before, err := referralNotes(ctx, tx, affiliateID, []string{referee})
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO referral_notes (affiliate_id, referee_id, at, note, actor) VALUES ($1, $2, $3, $4, $5)`,
			affiliateID, referee, now, note, actor); err != nil {
			return raced(err, "the note on %s was changed by a concurrent request; send the request again", referee)
		}
		return audit(ctx, tx, now, actor, "referral.note", "referral:"+affiliateID+"/"+referee,
			map[string]bool{"set": before[referee] != ""}, map[string]bool{"set": note != ""})
	})
}

// ReferralNotes returns affiliate's notes on the given referees (none: no
// entry).
func (s *Service) ReferralNotes(ctx context.Context, affiliateID string, referees []string) (map[string]string, error) {
	return referralNotes(ctx, s.DB.Pool, affiliateID, referees)
}

func referralNotes(ctx context.Context, q schema.Querier, affiliateID string, referees []string) (map[string]string, error) {
	out := map[string]string{}
	if len(referees) == 0 {
		return out, nil
	}
	rows, err := q.Query(ctx, `SELECT DISTINCT ON (referee_id) referee_id, note FROM referral_notes
		WHERE affiliate_id = $1 AND referee_id = ANY($2) ORDER BY referee_id, at DESC`, affiliateID, referees)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var id, note string
		if err := rows.Scan(&id, &note); err != nil {
			return nil, err
		}
		if note != "" {
			out[id] = note
		}
	}
	return out, rows.Err()
}
