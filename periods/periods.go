package periods

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/folioledger/folio"
	"github.com/folioledger/folio/audit"
	"github.com/folioledger/folio/ledger"
	"github.com/folioledger/folio/reconcile"
	"github.com/folioledger/folio/schema"
	"github.com/folioledger/folio/seal"
)

// State is a period's state, derived from its last event.
type State string

// Period states.
const (
	Open      State = "open"      // never closed
	Closing   State = "closing"   // a close was requested; a second person confirms
	Closed    State = "closed"    // closed: its reconciliation is stored
	Reopening State = "reopening" // a reopen was requested; still closed
	Reopened  State = "reopened"  // reopened by two people; open again
)

// Event actions.
const (
	ActCloseRequested  = "close_requested"
	ActClosed          = "closed"
	ActReopenRequested = "reopen_requested"
	ActReopened        = "reopened"
)

// MaxReason bounds a reopen's reason (characters).
const MaxReason = 1000

// maxAdjustments bounds the adjustments listed for one period.
const maxAdjustments = 1000

// Event is one state change of a period.
type Event struct {
	ID     string
	N      int64
	Action string
	At     time.Time
	Actor  string // the key id, or "bootstrap"
	Person string // the person it counts as for four-eyes
	Label  string // the key's person label
	Reason string
}

// Period is an accounting period with its events. Cut and LateCut are
// those of its last close (nil if it was never closed): the journal cut its
// reconciliation was computed at, and the cut of the previous closed
// period that the reconciliation started after.
type Period struct {
	Month   Month
	State   State
	Events  []Event
	Cut     ledger.Cut
	LateCut ledger.Cut

	snapshot string // the last closed event's id
}

// closed reports whether the period counts as closed: closed, or closed
// with a reopen requested.
func (p *Period) closed() bool { return p.State == Closed || p.State == Reopening }

func (p *Period) last() *Event {
	if len(p.Events) == 0 {
		return nil
	}
	return &p.Events[len(p.Events)-1]
}

// Actor is who acts: a key and the person it counts as (package keys: a
// key minted by a key is its minter's person).
type Actor struct {
	ID     string
	Person string // "": the key is a person of its own
	Label  string
}

func (a Actor) person() string {
	if a.Person == "" {
		return a.ID
	}
	return a.Person
}

// Service closes and reopens periods on a database.
type Service struct {
	DB  *schema.DB
	Now func() time.Time // nil: time.Now
	// Seals seals the journal at a close and signs the period checkpoint
	// (nil: the balance tree is stored with no seal and no checkpoint).
	Seals *seal.Service
}

// New returns a service on db reading the clock now (nil: time.Now).
func New(db *schema.DB, now func() time.Time) *Service { return &Service{DB: db, Now: now} }

func (s *Service) now() time.Time {
	if s.Now == nil {
		return time.Now().UTC().Truncate(time.Microsecond)
	}
	return s.Now().UTC().Truncate(time.Microsecond)
}

// book is every period that has events, read in one snapshot.
type book map[Month]*Period

func load(ctx context.Context, q schema.Querier) (book, error) {
	rows, err := q.Query(ctx, `SELECT id::text, period, n, action, at, actor, person, label, reason FROM period_events ORDER BY period, n`)
	if err != nil {
		return nil, fmt.Errorf("read period events: %w", err)
	}
	b := book{}
	for rows.Next() {
		var e Event
		var period string
		if err := rows.Scan(&e.ID, &period, &e.N, &e.Action, &e.At, &e.Actor, &e.Person, &e.Label, &e.Reason); err != nil {
			rows.Close()
			return nil, err
		}
		m, err := ParseMonth(period)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("period event %s: stored period %q: %w", e.ID, period, err)
		}
		e.At = e.At.UTC()
		p := b.get(m)
		p.Events = append(p.Events, e)
		switch e.Action {
		case ActCloseRequested:
			p.State = Closing
		case ActClosed:
			p.State, p.snapshot = Closed, e.ID
		case ActReopenRequested:
			p.State = Reopening
		case ActReopened:
			p.State = Reopened
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows, err = q.Query(ctx, `SELECT event_id::text, period, cut, late_cut FROM period_snapshots`)
	if err != nil {
		return nil, fmt.Errorf("read period snapshots: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, period string
		var cut, late []int64
		if err := rows.Scan(&id, &period, &cut, &late); err != nil {
			return nil, err
		}
		m, err := ParseMonth(period)
		if err != nil {
			return nil, err
		}
		if p := b[m]; p != nil && p.snapshot == id {
			p.Cut, p.LateCut = cut, late
		}
	}
	return b, rows.Err()
}

// get returns the period m, open if it has no events.
func (b book) get(m Month) *Period {
	if p := b[m]; p != nil {
		return p
	}
	p := &Period{Month: m, State: Open}
	b[m] = p
	return p
}

// lastClosed is the latest period that counts as closed.
func (b book) lastClosed() (Month, bool) {
	var out Month
	ok := false
	for m, p := range b {
		if p.closed() && (!ok || out.Before(m)) {
			out, ok = m, true
		}
	}
	return out, ok
}

// lateCut is the cut the period before m was closed at, nil if it is not
// closed: m's reconciliation then holds the entries recorded after it that
// are effective before m (post-close adjustments booked in m).
func (b book) lateCut(m Month) ledger.Cut {
	if p := b[m.Prev()]; p != nil && p.closed() {
		return p.Cut
	}
	return nil
}

// canClose checks the close rules for m at now: the month has ended, and
// periods close in order — m is the month after the latest closed period
// (any ended month when none is closed).
func (b book) canClose(m Month, now time.Time) error {
	if now.Before(m.To()) {
		return &folio.Error{Code: folio.EINVALID, Fields: []string{"period"},
			Message: fmt.Sprintf("period %s has not ended (it ends at %s); only a past month can be closed", m, m.To().Format(time.RFC3339))}
	}
	if last, ok := b.lastClosed(); ok && m != last.Next() {
		return folio.Errorf(folio.ECONFLICT, "periods close in order: the latest closed period is %s, so the next one to close is %s", last, last.Next())
	}
	for o, p := range b {
		if p.State == Closing && o.Before(m) {
			return folio.Errorf(folio.ECONFLICT, "periods close in order: %s is closing; confirm its close first", o)
		}
	}
	return nil
}

// latestClosed checks that m is the latest period that counts as closed:
// only it can be reopened, so that no later closed period's snapshot
// holds entries that reopening m would take back.
func (b book) latestClosed(m Month) error {
	if last, _ := b.lastClosed(); last != m {
		return folio.Errorf(folio.ECONFLICT, "only the latest closed period (%s) can be reopened", last)
	}
	return nil
}

// secondPerson checks that a is another person than the one who requested
// the pending change.
func secondPerson(p *Period, a Actor, what string) error {
	req := p.last()
	if req.Person == a.person() {
		return folio.Errorf(folio.EFORBIDDEN, "four-eyes: the %s of %s was requested by person %s (key %s) and key %s belongs to the same person "+
			"(a key minted by a key counts as its minter's person); another person must confirm it", what, p.Month, req.Person, req.Actor, a.ID)
	}
	return nil
}

// Get returns the period m (open if it has no events).
func (s *Service) Get(ctx context.Context, m Month) (*Period, error) {
	var p *Period
	err := s.DB.ReadTx(ctx, func(tx pgx.Tx) error {
		b, err := load(ctx, tx)
		if err != nil {
			return err
		}
		p = b.get(m)
		return nil
	})
	return p, err
}

// List returns every month from the earliest period with events (or the
// current month) through the current month, and any later one with
// events, in order.
func (s *Service) List(ctx context.Context) ([]*Period, error) {
	var out []*Period
	err := s.DB.ReadTx(ctx, func(tx pgx.Tx) error {
		b, err := load(ctx, tx)
		if err != nil {
			return err
		}
		cur := MonthOf(s.now())
		first := cur
		for m := range b {
			if m.Before(first) {
				first = m
			}
		}
		for m := first; !cur.Before(m); m = m.Next() {
			b.get(m)
		}
		out = out[:0]
		for _, p := range b {
			out = append(out, p)
		}
		sort.Slice(out, func(i, j int) bool { return out[i].Month.Before(out[j].Month) })
		return nil
	})
	return out, err
}

// Close asks to close m, or confirms its close. An open (or reopened)
// period becomes closing (the request); a closing one is closed by
// another person than the requester (ConfirmClose); the requester's own
// person is refused (forbidden). Only an ended month, in order, can be
// closed (invalid_request, conflict).
func (s *Service) Close(ctx context.Context, m Month, a Actor) (*Period, error) {
	confirm := false
	err := s.DB.Tx(ctx, func(tx pgx.Tx) error {
		confirm = false
		b, err := load(ctx, tx)
		if err != nil {
			return err
		}
		p := b.get(m)
		switch p.State {
		case Open, Reopened:
			if err := b.canClose(m, s.now()); err != nil {
				return err
			}
			return s.append(ctx, tx, p, ActCloseRequested, a, "")
		case Closing:
			if err := secondPerson(p, a, "close"); err != nil {
				return err
			}
			confirm = true
			return nil
		}
		return folio.Errorf(folio.ECONFLICT, "period %s is %s", m, p.State)
	})
	if err != nil {
		return nil, err
	}
	if confirm {
		return s.ConfirmClose(ctx, m, a)
	}
	return s.Get(ctx, m)
}

// ConfirmClose closes m, whose close another person requested: it
// computes m's reconciliation by business time (reconcile.RunAfterClose,
// after the previous period's close cut when that period is closed) in one
// snapshot, and stores the report's JSON bytes with the journal cut of that
// snapshot and a "closed" event, audit-logged. If the period or its
// predecessor changed meanwhile, nothing is written (conflict).
func (s *Service) ConfirmClose(ctx context.Context, m Month, a Actor) (*Period, error) {
	var req string
	var late ledger.Cut
	err := s.DB.ReadTx(ctx, func(tx pgx.Tx) error {
		b, err := load(ctx, tx)
		if err != nil {
			return err
		}
		p := b.get(m)
		if p.State != Closing {
			return folio.Errorf(folio.ECONFLICT, "period %s is %s; only a closing period can be confirmed closed", m, p.State)
		}
		if err := secondPerson(p, a, "close"); err != nil {
			return err
		}
		if err := b.canClose(m, s.now()); err != nil {
			return err
		}
		req, late = p.last().ID, b.lateCut(m)
		return nil
	})
	if err != nil {
		return nil, err
	}
	rep, err := reconcile.RunAfterClose(ctx, s.DB, m.From(), m.To(), late)
	if err != nil {
		return nil, err
	}
	body, err := json.Marshal(rep)
	if err != nil {
		return nil, err
	}
	ct, err := s.buildClose(ctx, m, rep.ToSeq)
	if err != nil {
		return nil, err
	}
	err = s.DB.Tx(ctx, func(tx pgx.Tx) error {
		b, err := load(ctx, tx)
		if err != nil {
			return err
		}
		p := b.get(m)
		if p.State != Closing || p.last().ID != req || !slices.Equal(b.lateCut(m), late) {
			return folio.Errorf(folio.ECONFLICT, "period %s changed while its close was being confirmed; look at it and confirm again", m)
		}
		if err := b.canClose(m, s.now()); err != nil {
			return err
		}
		id, err := s.appendID(ctx, tx, p, ActClosed, a, "")
		if err != nil {
			return err
		}
		var lateArg any
		if late != nil {
			lateArg = []int64(late)
		}
		_, err = tx.Exec(ctx, `INSERT INTO period_snapshots (event_id, period, cut, late_cut, reconciliation, created_at) VALUES ($1, $2, $3, $4, $5, $6)`,
			id, m.String(), []int64(rep.ToSeq), lateArg, body, s.now())
		if err != nil {
			return err
		}
		return storeClose(ctx, tx, id, m, ct, s.now())
	})
	if err != nil {
		return nil, err
	}
	return s.Get(ctx, m)
}

// Reopen asks to reopen the closed period m, with a reason (required), or
// confirms a requested reopen (another person than the requester; the
// reason is then optional). Only the latest closed period can be reopened.
// Both steps are audit-logged; the stored reconciliation stays.
func (s *Service) Reopen(ctx context.Context, m Month, a Actor, reason string) (*Period, error) {
	if utf8.RuneCountInString(reason) > MaxReason || !utf8.ValidString(reason) {
		return nil, &folio.Error{Code: folio.EINVALID, Fields: []string{"reason"}, Message: fmt.Sprintf("reason must be valid text of at most %d characters", MaxReason)}
	}
	reason = strings.TrimSpace(reason)
	err := s.DB.Tx(ctx, func(tx pgx.Tx) error {
		b, err := load(ctx, tx)
		if err != nil {
			return err
		}
		p := b.get(m)
		switch p.State {
		case Closed:
			if reason == "" {
				return &folio.Error{Code: folio.EINVALID, Fields: []string{"reason"}, Message: "a reopen needs a reason"}
			}
			if err := b.latestClosed(m); err != nil {
				return err
			}
			return s.append(ctx, tx, p, ActReopenRequested, a, reason)
		case Reopening:
			if err := secondPerson(p, a, "reopen"); err != nil {
				return err
			}
			if err := b.latestClosed(m); err != nil {
				return err
			}
			return s.append(ctx, tx, p, ActReopened, a, reason)
		}
		return folio.Errorf(folio.ECONFLICT, "period %s is %s; only a closed period can be reopened", m, p.State)
	})
	if err != nil {
		return nil, err
	}
	return s.Get(ctx, m)
}

// ConfirmReopen confirms a requested reopen of m (another person).
func (s *Service) ConfirmReopen(ctx context.Context, m Month, a Actor) (*Period, error) {
	p, err := s.Get(ctx, m)
	if err != nil {
		return nil, err
	}
	if p.State != Reopening {
		return nil, folio.Errorf(folio.ECONFLICT, "period %s is %s; only a reopening period can be confirmed reopened", m, p.State)
	}
	return s.Reopen(ctx, m, a, "")
}

// append writes p's next event (appendID).
func (s *Service) append(ctx context.Context, tx pgx.Tx, p *Period, action string, a Actor, reason string) error {
	_, err := s.appendID(ctx, tx, p, action, a, reason)
	return err
}

// appendID writes p's next event and its audit record ("period.<action>",
// object "period:YYYY-MM") in tx, and returns the event's id.
func (s *Service) appendID(ctx context.Context, tx pgx.Tx, p *Period, action string, a Actor, reason string) (string, error) {
	n := int64(1)
	before := Open
	if l := p.last(); l != nil {
		n, before = l.N+1, p.State
	}
	now := s.now()
	var id string
	err := tx.QueryRow(ctx, `INSERT INTO period_events (period, n, action, at, actor, person, label, reason) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id::text`,
		p.Month.String(), n, action, now, a.ID, a.person(), a.Label, reason).Scan(&id)
	if err != nil {
		if _, ok := schema.UniqueViolation(err); ok {
			return "", folio.Errorf(folio.ECONFLICT, "period %s changed meanwhile; look at it and try again", p.Month)
		}
		return "", err
	}
	after := map[string]string{"action": action, "person": a.person(), "person_label": a.Label}
	if reason != "" {
		after["reason"] = reason
	}
	return id, audit.Change(ctx, tx, now, a.ID, "period."+action, "period:"+p.Month.String(), map[string]string{"state": string(before)}, after)
}

// Reconciliation returns m's reconciliation as JSON bytes: for a closed
// period (closed or reopening) the bytes stored when it was closed,
// exactly; otherwise the live report by business time, after the previous
// period's close cut when that period is closed (so it holds the
// post-close adjustments booked in m). stored says which.
func (s *Service) Reconciliation(ctx context.Context, m Month) (body []byte, stored bool, err error) {
	var p *Period
	var late ledger.Cut
	err = s.DB.ReadTx(ctx, func(tx pgx.Tx) error {
		b, err := load(ctx, tx)
		if err != nil {
			return err
		}
		p, late = b.get(m), b.lateCut(m)
		if !p.closed() {
			return nil
		}
		return tx.QueryRow(ctx, `SELECT reconciliation FROM period_snapshots WHERE event_id = $1`, p.snapshot).Scan(&body)
	})
	if err != nil || p.closed() {
		return body, err == nil, err
	}
	rep, err := reconcile.RunAfterClose(ctx, s.DB, m.From(), m.To(), late)
	if err != nil {
		return nil, false, err
	}
	body, err = json.Marshal(rep)
	return body, false, err
}

// Adjustment is an entry effective in a closed period but recorded after
// its close: it keeps its effective time and is booked in BookedIn, the
// first period after it that was open when it was recorded.
type Adjustment struct {
	Entry    *ledger.Entry
	BookedIn Month
}

// Adjustments lists the post-close adjustments of m (at most 1000; more
// is truncated): the entries beyond m's close cut effective in m — or, when
// the period before m is not closed, effective before m's end — with the
// period each is booked in. A period not closed has none.
func (s *Service) Adjustments(ctx context.Context, m Month) (p *Period, out []Adjustment, truncated bool, err error) {
	err = s.DB.ReadTx(ctx, func(tx pgx.Tx) error {
		out, truncated = nil, false
		b, err := load(ctx, tx)
		if err != nil {
			return err
		}
		p = b.get(m)
		if !p.closed() {
			return nil
		}
		var from time.Time
		if prev := b[m.Prev()]; prev != nil && prev.closed() {
			from = m.From()
		}
		es, err := ledger.EntriesAfterCut(ctx, tx, p.Cut, from, m.To(), maxAdjustments+1)
		if err != nil {
			return err
		}
		if len(es) > maxAdjustments {
			es, truncated = es[:maxAdjustments], true
		}
		for _, e := range es {
			out = append(out, Adjustment{Entry: e, BookedIn: b.bookedIn(m, e)})
		}
		return nil
	})
	return p, out, truncated, err
}

// bookedIn is the period after closed period m that entry e (beyond m's
// cut) belongs to: the first closed one whose close cut holds it, else the
// first one not closed.
func (b book) bookedIn(m Month, e *ledger.Entry) Month {
	for p := m.Next(); ; p = p.Next() {
		q := b[p]
		if q == nil || !q.closed() {
			return p
		}
		if e.Shard < len(q.Cut) && e.Seq <= q.Cut[e.Shard] {
			return p
		}
	}
}
