package affiliate

// Preparing a batch of trades ahead of its write (see "The write path of
// trades" in doc.go, and "Overlap" in package ingest). PrepareTrades reads everything a batch needs
// — booked trade ids, programs, users, fee schedules, volume tiers,
// eligibility volumes, FX rates — in one transaction, possibly a read-only
// snapshot taken while the shard's previous group is still being written;
// BookPreparedTx writes it in the journal writer's transaction. What the
// trade path reads is configuration, which a trade does not change, and
// three things that a booked trade does change: whether a trade id is
// booked, an affiliate's referred volume (volume tiers) and a user's own
// volume (eligibility). A booked group's Touched names those; Stale tells
// whether a group booked after the snapshot changed any of them for this
// batch, and the caller then prepares it again inside its own transaction.

// Prepared is a batch of trades prepared by PrepareTrades, to be booked
// once by BookPreparedTx.
type Prepared struct {
	b    *tradeBatch
	todo []*tradeWork // the trades to write
	used bool
}

// Touched is what a booked group changed that preparing a later batch
// reads (Booked.Touched).
type Touched struct {
	ids          map[string]bool // trade ids booked
	traders      map[string]bool // their own volume grew
	referrers    map[string]bool // their referred volume grew
	usersVersion int64           // the users the group was booked under
}

// Touched is what b's group changed that a batch prepared before it
// committed may have read (Prepared.Stale).
func (b *Booked) Touched() *Touched { return b.touched }

// touchedBy is the Touched of the trades posted by batch b.
func touchedBy(b *tradeBatch, posted []*tradeWork) *Touched {
	t := &Touched{ids: map[string]bool{}, traders: map[string]bool{}, referrers: map[string]bool{}, usersVersion: b.usersVersion}
	for _, w := range posted {
		t.ids[w.in.ID] = true
		t.traders[w.in.UserID] = true
		if ref := b.referrerOf(w); ref != "" {
			t.referrers[ref] = true
		}
	}
	return t
}

// referrerOf is the referrer of w's trader as batch b read it ("" without
// one): whose referred volume w's volume goes to.
func (b *tradeBatch) referrerOf(w *tradeWork) string {
	if u := b.users[w.in.UserID]; u != nil {
		return u.ReferrerID
	}
	return ""
}

// Stale reports whether a group booked after p's snapshot (since: their
// Touched, nil for a group whose changes are unknown) changed what p read:
// booked one of p's trades, grew the referred volume of an affiliate whose
// volume tier p read or the own volume of a user whose eligibility p
// checked, or was booked under other users (a re-parented trader moves
// referred volume).
func (p *Prepared) Stale(since []*Touched) bool {
	for _, t := range since {
		if t == nil || p.touchedBy(t) {
			return true
		}
	}
	return false
}

func (p *Prepared) touchedBy(t *Touched) bool {
	if len(t.ids) == 0 {
		return false // nothing booked
	}
	for _, w := range p.todo {
		if t.ids[w.in.ID] {
			return true
		}
	}
	look := p.b.look
	if look == nil {
		return false // nothing to book, nothing read
	}
	if len(look.tiers)+len(look.volumes) > 0 && t.usersVersion != p.b.usersVersion {
		return true
	}
	for k := range look.tiers {
		if t.referrers[k.affiliate] {
			return true
		}
	}
	for k := range look.volumes {
		if t.traders[k[0]] {
			return true
		}
	}
	return false
}
