package events

import (
	"net/netip"
	"net/url"
	"strings"

	"github.com/folioledger/folio"
)

// RefusedAddress tells why a webhook delivery may not connect to addr
// unless the operator allows internal receivers (`folio serve
// --webhook-allow-private`): a loopback, private (RFC 1918, IPv6 ULA),
// link-local (169.254.0.0/16 — where cloud metadata services answer —
// and fe80::/10), unspecified, "this network" (0.0.0.0/8), broadcast or
// multicast address. It returns "" for an address a webhook may reach.
// IPv4 addresses mapped into IPv6 are judged as IPv4.
func RefusedAddress(addr netip.Addr) string {
	addr = addr.Unmap()
	switch {
	case !addr.IsValid():
		return "not an IP address"
	case addr.IsLoopback():
		return "a loopback address"
	case addr.IsUnspecified():
		return "an unspecified address"
	case addr.IsLinkLocalUnicast():
		return "a link-local address (cloud metadata services answer there)"
	case addr.IsMulticast():
		return "a multicast address"
	case addr.IsPrivate():
		return "a private address"
	case addr.Is4() && addr.As4()[0] == 0:
		return `an address of "this network" (0.0.0.0/8)`
	case addr == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return "the broadcast address"
	}
	return ""
}

// checkHost refuses, unless w.AllowPrivate, a webhook URL whose host is an
// IP address RefusedAddress refuses, or the name localhost: such a
// subscription could only ever fail. Names are not resolved here — a name
// may resolve elsewhere at delivery time (DNS rebinding) — so the
// delivery transport checks the address it actually dials
// (payouts/webhook.EventSender); this is the early, clear refusal.
func (w *Webhooks) checkHost(raw string) error {
	if w.AllowPrivate {
		return nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil // ValidateURL refuses it
	}
	host := strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))
	why := ""
	if a, err := netip.ParseAddr(host); err == nil {
		why = RefusedAddress(a)
	} else if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		why = "the loopback host"
	}
	if why == "" {
		return nil
	}
	return &folio.Error{Code: folio.EINVALID, Fields: []string{"url"},
		Message: "url host " + truncate(host, 64) + " is " + why + ": webhooks may not reach internal networks unless the server runs with --webhook-allow-private"}
}
