package events

import (
	"encoding/base64"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/folioledger/folio"
	"github.com/folioledger/folio/ledger"
)

// subDone is the sub-position of a seq whose events have all been read.
const subDone = math.MaxInt32

// maxCursorLen bounds an encoded cursor (64 shards and the audit log fit
// with room to spare).
const maxCursorLen = 4096

// pos is a position in one source: the last event read is (seq, sub), and
// the events after it remain. In a journal shard, an entry at seq s has
// the events (s, 0) (entry.posted) and (s, 1…n) (its accruals); sub
// subDone means all of seq's events were read. In the audit log, seq is
// the record's position and sub is always subDone.
type pos struct {
	seq int64
	sub int
}

func (p pos) less(q pos) bool { return p.seq < q.seq || p.seq == q.seq && p.sub < q.sub }

// Cursor is a position in the feed: one position per source (each journal
// shard, the audit log). Its zero value is the feed's beginning. It is
// shown to clients as an opaque string (String, ParseCursor).
type Cursor struct {
	shards map[int]pos
	audit  int64
}

func (c Cursor) shard(n int) pos {
	if p, ok := c.shards[n]; ok {
		return p
	}
	return pos{0, subDone}
}

func (c Cursor) clone() Cursor {
	return Cursor{shards: maps.Clone(c.shards), audit: c.audit}
}

func (c *Cursor) setShard(n int, p pos) {
	if c.shards == nil {
		c.shards = map[int]pos{}
	}
	c.shards[n] = p
}

// String encodes c: base64url (no padding) of "v1,a=AUDIT,s0=SEQ[.SUB],…"
// with shards in order; the beginning of the feed is "".
func (c Cursor) String() string {
	if c.audit == 0 && len(c.shards) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("v1,a=")
	b.WriteString(strconv.FormatInt(c.audit, 10))
	for _, n := range slices.Sorted(maps.Keys(c.shards)) {
		p := c.shards[n]
		fmt.Fprintf(&b, ",s%d=%d", n, p.seq)
		if p.sub != subDone {
			fmt.Fprintf(&b, ".%d", p.sub)
		}
	}
	return base64.RawURLEncoding.EncodeToString([]byte(b.String()))
}

// ParseCursor decodes a cursor made by String ("" is the beginning). A
// cursor that does not decode is invalid_request: cursors are opaque and
// only the feed makes them.
func ParseCursor(s string) (Cursor, error) {
	var c Cursor
	if s == "" {
		return c, nil
	}
	bad := func() (Cursor, error) {
		return Cursor{}, &folio.Error{Code: folio.EINVALID, Fields: []string{"after"},
			Message: "the cursor is not one this feed made; pass back a cursor or event cursor exactly as received, or omit it to start at the beginning"}
	}
	if len(s) > maxCursorLen {
		return bad()
	}
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return bad()
	}
	parts := strings.Split(string(raw), ",")
	if len(parts) < 2 || parts[0] != "v1" || !strings.HasPrefix(parts[1], "a=") {
		return bad()
	}
	if c.audit, err = parseNat(parts[1][2:]); err != nil {
		return bad()
	}
	for _, part := range parts[2:] {
		name, val, ok := strings.Cut(part, "=")
		if !ok || !strings.HasPrefix(name, "s") {
			return bad()
		}
		n, err := parseNat(name[1:])
		if err != nil || n >= ledger.MaxShards {
			return bad()
		}
		if _, dup := c.shards[int(n)]; dup {
			return bad()
		}
		seqText, subText, partial := strings.Cut(val, ".")
		p := pos{sub: subDone}
		if p.seq, err = parseNat(seqText); err != nil {
			return bad()
		}
		if partial {
			sub, err := parseNat(subText)
			if err != nil || sub >= subDone {
				return bad()
			}
			p.sub = int(sub)
		}
		c.setShard(int(n), p)
	}
	if c.String() != s {
		return bad() // not canonical: not one String made
	}
	return c, nil
}

// parseNat parses a non-negative decimal without sign or leading zeros.
func parseNat(s string) (int64, error) {
	if s == "" || len(s) > 1 && s[0] == '0' || strings.ContainsAny(s, "+-") {
		return 0, fmt.Errorf("not a natural number")
	}
	return strconv.ParseInt(s, 10, 64)
}
