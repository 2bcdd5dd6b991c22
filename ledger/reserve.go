package ledger

import (
	"fmt"

	"github.com/folioledger/folio"
)

// Reservation is an engine's claim on the entry kinds it writes (the
// affiliate engine's trade_fee, commission, bounty, payout and forfeit).
// Once reserved on a ledger, entries of these kinds are written, and
// reversed, posted or voided, only by batches whose Options.Owner is Owner;
// any other batch (a client's) is refused, item by item:
//
//   - a new entry of a reserved kind: invalid_request naming the kind;
//   - a reverse, post or void operation on an entry of a reserved kind, or
//     on an entry that reverses or completes one (say, the post_pending
//     entry that confirmed a payout): conflict naming the entry, its kind
//     and what the owner offers instead.
//
// The ledger's own kinds (reversal, post_pending, void_pending) are refused
// to every new entry regardless, and an expired pending entry is voided by
// the ledger's sweeper whoever owns it.
type Reservation struct {
	Owner string
	Kinds []string
	// Route, when set, completes the refusal's message: for a new entry
	// (target nil) it follows `kind "K" is written by the O engine: `; for
	// an operation it follows "entry X is a K entry " and names the route
	// that changes target instead. Nil means a generic text.
	Route func(kind string, target *Entry) string
}

// Reserve records r on the ledger; later reservations of a kind replace
// earlier ones. Reserving is meant for wiring time (affiliate.NewService
// does it), but is safe while batches run.
func (l *Ledger) Reserve(r Reservation) {
	l.mu.Lock()
	defer l.mu.Unlock()
	next := make(map[string]*Reservation, len(l.reserved)+len(r.Kinds))
	for k, v := range l.reserved {
		next[k] = v
	}
	for _, k := range r.Kinds {
		next[k] = &r
	}
	l.reserved = next
}

// reservations returns the current reservations; the map is never modified
// once published (Reserve replaces it), so callers read it without a lock.
func (l *Ledger) reservations() map[string]*Reservation {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.reserved
}

// refuseNew refuses a new entry of a kind reserved to another owner.
func refuseNew(reserved map[string]*Reservation, kind, owner string) error {
	r := reserved[kind]
	if r == nil || r.Owner == owner {
		return nil
	}
	how := "no client may write it"
	if r.Route != nil {
		how = r.Route(kind, nil)
	}
	return folio.Errorf(folio.EINVALID, "kind %q is written by the %s engine: %s", kind, r.Owner, how)
}

// refuseOp refuses a reverse, post or void operation of a batch of owner
// on target when target, or the entry it reverses or completes (origin,
// nil when target has none or it was not loaded), belongs to another owner.
func refuseOp(reserved map[string]*Reservation, owner string, target, origin *Entry) error {
	if r := reserved[target.Kind]; r != nil && r.Owner != owner {
		return folio.Errorf(folio.ECONFLICT, "entry %s is a %s entry %s", target.ID, target.Kind, routeOf(r, target))
	}
	if origin == nil {
		return nil
	}
	if r := reserved[origin.Kind]; r != nil && r.Owner != owner {
		verb := "completes"
		if target.Reverses != "" {
			verb = "reverses"
		}
		return folio.Errorf(folio.ECONFLICT, "entry %s %s entry %s, a %s entry %s", target.ID, verb, origin.ID, origin.Kind, routeOf(r, origin))
	}
	return nil
}

func routeOf(r *Reservation, e *Entry) string {
	if r.Route != nil {
		return r.Route(e.Kind, e)
	}
	return fmt.Sprintf("written by the %s engine; only that engine changes it", r.Owner)
}

// originID is the entry e reverses or completes, "" for none.
func originID(e *Entry) string {
	if e.Reverses != "" {
		return e.Reverses
	}
	return e.Completes
}
