package events

import (
	"encoding/base64"
	"net/netip"
	"testing"
)

func TestCursorRoundTrip(t *testing.T) {
	for _, c := range []Cursor{
		{},
		{audit: 7},
		{shards: map[int]pos{0: {12, subDone}, 3: {5, 2}}, audit: 1},
	} {
		s := c.String()
		got, err := ParseCursor(s)
		if err != nil || got.String() != s {
			t.Errorf("ParseCursor(%q) = %v, %v; want it back", s, got, err)
		}
	}
}

func TestParseCursorRefusesGarbage(t *testing.T) {
	enc := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	for _, s := range []string{
		"garbage!", "%%%", enc("v2,a=1"), enc("v1"), enc("v1,a=-1"), enc("v1,a=01"), enc("v1,a=1,s64=1"),
		enc("v1,a=1,s0=1,s0=2"), enc("v1,a=1,s1=1,s0=2"), enc("v1,a=1,s0=1.2147483647"), enc("v1,a=1,x0=1"),
		enc("v1,a=99999999999999999999"), enc("v1,a=0"), enc("v1,a=1,s0=+1"), string(make([]byte, 5000)),
	} {
		if _, err := ParseCursor(s); err == nil {
			t.Errorf("ParseCursor(%q) = nil error, want invalid", s)
		}
	}
}

func TestParseTypes(t *testing.T) {
	for _, ok := range []string{"", "entry", "entry.posted", "accrual.created", "payout", "payout.approved", "config.program.put", "config,payout"} {
		if _, err := ParseTypes(ok); err != nil {
			t.Errorf("ParseTypes(%q) = %v, want ok", ok, err)
		}
	}
	for _, bad := range []string{"unknown", "entry.reversed", "accrual.x", "Payout", "payout.", "config..x", ",", "entry,", "a b"} {
		if _, err := ParseTypes(bad); err == nil {
			t.Errorf("ParseTypes(%q) = nil, want invalid", bad)
		}
	}
	if !matchType([]string{"payout"}, "payout.approved") || matchType([]string{"payout.draft"}, "payout.approved") || !matchType(nil, "x.y") {
		t.Error("matchType does not select by family and exact type")
	}
}

// TestRefusedAddress: the classes a webhook may not reach without the
// opt-in, and public addresses it may.
func TestRefusedAddress(t *testing.T) {
	for addr, refused := range map[string]bool{
		"127.0.0.1": true, "127.255.0.9": true, "::1": true, "::ffff:127.0.0.1": true,
		"10.1.2.3": true, "172.16.0.1": true, "172.31.255.255": true, "192.168.0.10": true, "fd12:3456::1": true,
		"169.254.169.254": true, "fe80::1": true, "0.0.0.0": true, "::": true, "0.9.9.9": true,
		"224.0.0.251": true, "239.1.2.3": true, "ff02::1": true, "255.255.255.255": true,
		"93.184.216.34": false, "8.8.8.8": false, "172.32.0.1": false, "2606:4700::1111": false, "::ffff:8.8.4.4": false,
	} {
		why := RefusedAddress(netip.MustParseAddr(addr))
		if (why != "") != refused {
			t.Errorf("RefusedAddress(%s) = %q, want refused %v", addr, why, refused)
		}
	}
}
