package affiliate

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/folioledger/folio/ledger"
)

// Entry kinds the affiliate engine writes. They are the engine's: NewService
// reserves them on its ledger (ledger.Ledger.Reserve), so that clients can
// neither write entries of these kinds nor reverse, post or void the
// engine's entries through the journal; the engine's own writes pass
// ledger.Options.Owner = Owner.
const (
	EntryTradeFee   = "trade_fee"  // a trade's fee: Dr 110, Cr 101
	EntryCommission = "commission" // its split: Dr 101, Cr 208 per beneficiary and 605
	EntryBounty     = "bounty"     // a bounty award: Dr 420, Cr 208
	EntryPayout     = "payout"     // a payout batch: Dr 208, Cr 201 (pending until the exchange confirms)
	EntryForfeit    = "forfeit"    // a forfeited payout line: Dr 208, Cr 606
)

// Prefixes of the idempotency keys the affiliate engine gives its entries:
// a trade's fee "trade:<id>" and commission "commission:<id>", their
// reversals when the trade is busted "reverse-trade:<id>" and
// "reverse-commission:<id>", a bounty "bounty:<program>:<event>", a payout
// batch "payout:<batch>" posted by "payout-confirmed:<batch>" or voided by
// "payout-refused:<batch>", a forfeited payout line "forfeit:<line>". They
// are reserved: clients may not use them (see ReservedKeyPrefixes).
const (
	KeyPrefixTrade             = "trade:"
	KeyPrefixCommission        = "commission:"
	KeyPrefixReverseTrade      = "reverse-trade:"
	KeyPrefixReverseCommission = "reverse-commission:"
	KeyPrefixBounty            = "bounty:"
	KeyPrefixPayout            = "payout:"
	KeyPrefixPayoutConfirmed   = "payout-confirmed:"
	KeyPrefixPayoutRefused     = "payout-refused:"
	KeyPrefixForfeit           = "forfeit:"
)

// ReservedKeyPrefixes returns the idempotency-key prefixes the affiliate
// engine owns; a client key starting with one could block an entry the
// engine writes (a manual entry under "trade:t-1" would make trade t-1 a
// conflict).
func ReservedKeyPrefixes() []string {
	return []string{KeyPrefixTrade, KeyPrefixCommission, KeyPrefixReverseTrade, KeyPrefixReverseCommission, KeyPrefixBounty,
		KeyPrefixPayout, KeyPrefixPayoutConfirmed, KeyPrefixPayoutRefused, KeyPrefixForfeit}
}

// Owner is the name under which the affiliate engine owns its entry kinds.
const Owner = "affiliate"

// EntryKinds returns the entry kinds the affiliate engine writes.
func EntryKinds() []string {
	return []string{EntryTradeFee, EntryCommission, EntryBounty, EntryPayout, EntryForfeit}
}

// ReserveKinds reserves the engine's entry kinds on l (NewService does it
// on the service's ledger): from then on, batches on l without
// Options.Owner = Owner can neither write entries of those kinds nor
// reverse, post or void them. A server whose client routes write through
// another ledger instance than its affiliate service reserves them there
// too.
func ReserveKinds(l *ledger.Ledger) {
	l.Reserve(ledger.Reservation{Owner: Owner, Kinds: EntryKinds(), Route: route})
}

// route tells a client what to do instead of writing an entry of one of
// the engine's kinds (target nil), or of reversing, posting or voiding the
// engine's entry target: the words after "entry X is …" or "kind K is …".
func route(kind string, target *ledger.Entry) string {
	if target == nil {
		switch kind {
		case EntryTradeFee, EntryCommission:
			return "trades are booked with POST /v1/trades"
		case EntryBounty:
			return "bounties are awarded from user events (POST /v1/users/{id}/events)"
		case EntryPayout, EntryForfeit:
			return "payouts and forfeits are written by payout batches (POST /v1/payouts/batches)"
		}
		return "it is written by the affiliate engine only"
	}
	switch kind {
	case EntryTradeFee, EntryCommission:
		id, ok := strings.CutPrefix(target.IdempotencyKey, KeyPrefixTrade)
		if !ok {
			id, ok = strings.CutPrefix(target.IdempotencyKey, KeyPrefixCommission)
		}
		if ok {
			return fmt.Sprintf("of trade %s: reverse it with POST /v1/trades/%s/reverse", id, url.PathEscape(id))
		}
		return "of a trade: reverse the trade with POST /v1/trades/{id}/reverse"
	case EntryBounty:
		return "awarded by the affiliate engine for a user event; bounties cannot be reversed, posted or voided through the journal"
	case EntryPayout:
		return fmt.Sprintf("of payout batch %s: the affiliate engine posts or voids it when the exchange confirms or refuses the transfer (GET /v1/payouts/batches/%s)",
			target.BatchID, target.BatchID)
	case EntryForfeit:
		return fmt.Sprintf("of payout batch %s: forfeits are final (GET /v1/payouts/batches/%s)", target.BatchID, target.BatchID)
	}
	return "written by the affiliate engine; only the engine changes it"
}
