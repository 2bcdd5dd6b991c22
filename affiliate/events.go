package affiliate

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/cockroachdb/apd/v3"
	"github.com/folioledger/folio"
	"github.com/folioledger/folio/accounts"
	"github.com/folioledger/folio/ledger"
	"github.com/jackc/pgx/v5"
)

// Event is a lifecycle event of a user.
type Event struct {
	ID       string
	Type     string
	Amount   *apd.Decimal // deposits
	Currency string
	At       time.Time
}

// EventResult says what an event did.
type EventResult struct {
	Created bool // false: the event id was already recorded (replay)
	// Event and UserID are the event as stored (on a replay, as first
	// recorded).
	Event  Event
	UserID string
	// EntryIDs are the bounty entries the event wrote (on a replay, the
	// ones its first recording wrote), in journal order.
	EntryIDs []string
}

// ReservedEventPrefix starts the ids of the signup events that CreateUser
// raises; clients cannot use it.
const ReservedEventPrefix = "signup:"

// RecordEvent records a lifecycle event (kyc_verified, deposit,
// first_deposit, first_trade), idempotent by event id, sets the user's
// milestone dates and pays the bounties it triggers.
func (s *Service) RecordEvent(ctx context.Context, userID string, ev Event) (*EventResult, error) {
	switch ev.Type {
	case EventKYCVerified, EventDeposit, EventFirstDeposit, EventFirstTrade:
	case EventSignup:
		return nil, folio.Errorf(folio.EINVALID, "the signup event is raised by registering the user")
	default:
		return nil, folio.Errorf(folio.EINVALID, "event type %q is not one of kyc_verified, deposit, first_deposit, first_trade", ev.Type)
	}
	if !ledger.ValidIdempotencyKey(ev.ID) {
		return nil, folio.Errorf(folio.EINVALID, "event id must be 1 to 200 printable characters without spaces")
	}
	if strings.HasPrefix(ev.ID, ReservedEventPrefix) {
		return nil, folio.Errorf(folio.EINVALID, "event ids starting with %q are reserved for the signup event that registering a user raises", ReservedEventPrefix)
	}
	deposit := ev.Type == EventDeposit || ev.Type == EventFirstDeposit
	if deposit != (ev.Amount != nil) || (ev.Amount != nil) != (ev.Currency != "") {
		return nil, folio.Errorf(folio.EINVALID, "deposit events carry amount and currency; other events carry neither")
	}
	if ev.Amount != nil && ev.Amount.Sign() <= 0 {
		return nil, folio.Errorf(folio.EAMOUNT, "amount must be greater than zero")
	}
	res := &EventResult{}
	err := s.Ledger.JournalTx(ctx, func(tx pgx.Tx) error {
		*res = EventResult{}
		now := s.now()
		at := ev.At.UTC().Truncate(time.Microsecond)
		if ev.At.IsZero() {
			at = now
		}
		u, err := getUser(ctx, tx, userID, true)
		if err != nil {
			return err
		}
		var oldUser, oldType, oldCur string
		var oldAmount *string
		var oldAt time.Time
		err = tx.QueryRow(ctx, `SELECT user_id, type, amount::text, coalesce(currency, ''), at FROM user_events WHERE id = $1`, ev.ID).
			Scan(&oldUser, &oldType, &oldAmount, &oldCur, &oldAt)
		if err == nil {
			same := oldUser == userID && oldType == ev.Type && equalDec(oldAmount, ev.Amount) && oldCur == ev.Currency &&
				(ev.At.IsZero() || oldAt.Equal(at))
			if !same {
				return folio.Errorf(folio.EIDEMPOTENCY, "event id %s was recorded with different content", ev.ID)
			}
			res.Event = Event{ID: ev.ID, Type: oldType, Currency: oldCur, At: oldAt.UTC()}
			if res.Event.Amount, err = ledger.ParseStoredOptional(oldAmount); err != nil {
				return err
			}
			res.UserID = oldUser
			res.EntryIDs, err = s.bountyEntries(ctx, tx, ev.ID)
			return err
		}
		if !isNoRows(err) {
			return err
		}
		if ev.Currency != "" {
			chart, err := accounts.LoadChart(ctx, tx)
			if err != nil {
				return err
			}
			cur, ok := chart.Currency(ev.Currency)
			if !ok {
				return folio.Errorf(folio.ECURRENCY, "currency %s does not exist", ev.Currency)
			}
			if _, err := ledger.ParseAmount(ledger.Format(ev.Amount), cur.Precision); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, `INSERT INTO user_events (id, user_id, type, amount, currency, at, recorded_at) VALUES ($1, $2, $3, $4::numeric, NULLIF($5, ''), $6, $7)`,
			ev.ID, userID, ev.Type, decText(ev.Amount), ev.Currency, at, now); err != nil {
			return raced(err, "event %s was recorded by a concurrent request; send the request again", ev.ID)
		}
		col := map[string]string{EventKYCVerified: "kyc_verified_at", EventFirstDeposit: "first_deposit_at", EventDeposit: "first_deposit_at", EventFirstTrade: "first_trade_at"}[ev.Type]
		if _, err := tx.Exec(ctx, fmt.Sprintf(`UPDATE users SET %s = $2 WHERE id = $1 AND (%s IS NULL OR %s > $2)`, col, col, col), userID, at); err != nil {
			return err
		}
		res.Created = true
		ev.At = at
		res.Event, res.UserID = ev, userID
		res.EntryIDs, err = s.awardBounties(ctx, tx, now, u, ev)
		return err
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// bountyEntries returns the bounty entries an event wrote, found by their
// idempotency keys ("bounty:<program>:<event id>").
func (s *Service) bountyEntries(ctx context.Context, tx pgx.Tx, eventID string) ([]string, error) {
	progs, err := loadPrograms(ctx, tx, s.Rules)
	if err != nil {
		return nil, err
	}
	keys := make([]string, 0, len(progs.bounties))
	for _, p := range progs.bounties {
		keys = append(keys, "bounty:"+p.ID+":"+eventID)
	}
	ids := []string{}
	if len(keys) == 0 {
		return ids, nil
	}
	got, err := ledger.EntryIDsByKey(ctx, tx, keys)
	if err != nil {
		return nil, err
	}
	return append(ids, got...), nil
}

func equalDec(s *string, d *apd.Decimal) bool {
	if s == nil || d == nil {
		return s == nil && d == nil
	}
	x, err := ledger.ParseStored(*s)
	return err == nil && x.Cmp(d) == 0
}

// awardBounties pays the rewards for an event of every bounty program that
// applies to u (programSet.bountiesFor: no groups, or u's group): one
// bounty entry per program (Dr 420:RC / Cr 208:RC:beneficiary per reward)
// with accrual rows, skipping one-off rewards already paid.
func (s *Service) awardBounties(ctx context.Context, tx pgx.Tx, now time.Time, u *User, ev Event) ([]string, error) {
	progs, err := loadPrograms(ctx, tx, s.Rules)
	if err != nil {
		return nil, err
	}
	bounties, err := s.bountyVersions(ctx, tx, progs, progs.bountiesFor(u), ev.At)
	if err != nil || len(bounties) == 0 {
		return nil, err
	}
	chart, err := accounts.LoadChart(ctx, tx)
	if err != nil {
		return nil, err
	}
	depth := 0
	for _, p := range bounties {
		depth = max(depth, len(p.Events[ev.Type]))
	}
	if depth == 0 {
		return nil, nil
	}
	up, err := ancestors(ctx, tx, u.ID, depth)
	if err != nil {
		return nil, err
	}
	chain := &Chain{Trader: Member{ID: u.ID}}
	for _, a := range up {
		chain.Ancestors = append(chain.Ancestors, Member{ID: a})
	}
	cache := rateCache{}
	var entryIDs []string
	for _, p := range bounties {
		if len(p.Events[ev.Type]) == 0 {
			continue
		}
		cur, ok := chart.Currency(p.Currency)
		if !ok || !cur.Enabled {
			return nil, folio.Errorf(folio.ECURRENCY, "bounty program %s pays in %s, which does not exist or is disabled", p.ID, p.Currency)
		}
		amount := ev.Amount
		if amount != nil && ev.Currency != p.Currency {
			rate, err := fxRate(ctx, tx, cache, ev.Currency, p.Currency, ev.At)
			if err != nil {
				return nil, err
			}
			if amount, err = convert(amount, rate); err != nil {
				return nil, err
			}
		}
		shares, err := BountyShares(p, ev.Type, chain, amount, cur.Precision)
		if err != nil {
			return nil, err
		}
		if OneOff(ev.Type) && len(shares) > 0 {
			names := make([]string, len(shares))
			for i, sh := range shares {
				names[i] = sh.Beneficiary
			}
			rows, err := tx.Query(ctx, `SELECT beneficiary FROM bounty_awards WHERE user_id = $1 AND event_type = $2 AND program_id = $3 AND beneficiary = ANY($4)`,
				u.ID, ev.Type, p.ID, names)
			if err != nil {
				return nil, err
			}
			paid, err := pgx.CollectRows(rows, pgx.RowTo[string])
			if err != nil {
				return nil, err
			}
			var kept []Share
			for _, sh := range shares {
				if !slices.Contains(paid, sh.Beneficiary) {
					kept = append(kept, sh)
				}
			}
			shares = kept
		}
		if len(shares) == 0 {
			continue
		}
		entryID := s.DB.NewID()
		ne := ledger.NewEntry{ID: entryID, IdempotencyKey: "bounty:" + p.ID + ":" + ev.ID, Kind: EntryBounty,
			Description: fmt.Sprintf("%s bounty for %s (%s)", ev.Type, u.ID, p.ID), EffectiveAt: ev.At, Route: u.ID}
		var total apd.Decimal
		for _, sh := range shares {
			if _, err := exact.Add(&total, &total, &sh.Amount); err != nil {
				return nil, err
			}
			ne.Postings = append(ne.Postings, ledger.NewPosting{Account: "208:" + p.Currency + ":" + sh.Beneficiary, Side: accounts.Credit, Amount: ledger.Format(&sh.Amount)})
		}
		ne.Postings = append([]ledger.NewPosting{{Account: "420:" + p.Currency, Side: accounts.Debit, Amount: ledger.Format(&total)}}, ne.Postings...)
		results, err := s.Ledger.ApplyTx(ctx, tx, []ledger.Op{{New: &ne}}, ledger.Options{Atomic: true, Owner: Owner})
		if err != nil {
			if len(results) > 0 && results[0].Err != nil {
				return nil, results[0].Err
			}
			return nil, err
		}
		if OneOff(ev.Type) {
			for _, sh := range shares {
				if _, err := tx.Exec(ctx, `INSERT INTO bounty_awards (user_id, event_type, beneficiary, program_id, event_id, entry_id) VALUES ($1, $2, $3, $4, $5, $6)`,
					u.ID, ev.Type, sh.Beneficiary, p.ID, ev.ID, entryID); err != nil {
					return nil, raced(err, "the %s bounty of user %s was awarded by a concurrent request; send the request again", ev.Type, u.ID)
				}
			}
		}
		var rows []accrualRow
		for _, sh := range shares {
			rows = append(rows, accrualRow{source: "bounty", eventID: ev.ID, entryID: entryID, beneficiary: sh.Beneficiary, trader: u.ID,
				level: sh.Level, program: p.ID, kind: KindBounty, amount: sh.Amount, currency: p.Currency, code: u.ReferralCode,
				at: ev.At, shard: results[0].Entry.Shard, seq: results[0].Entry.Seq})
		}
		if err := s.insertAccruals(ctx, tx, tx, now, cache, rows, nil); err != nil {
			return nil, err
		}
		entryIDs = append(entryIDs, entryID)
	}
	return entryIDs, nil
}
