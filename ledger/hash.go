package ledger

import (
	"crypto/sha256"
	"encoding/binary"
	"time"
)

// GenesisHash is the prev_hash of the first entry: 32 zero bytes.
var GenesisHash = make([]byte, sha256.Size)

// ComputeHash returns SHA-256(prev_hash ‖ canonical bytes of e and its
// postings). Every field that states what happened is covered, including
// each posting's running balances, so changing any stored amount or
// balance breaks the chain at that entry.
func ComputeHash(prev []byte, e *Entry) []byte {
	h := sha256.New()
	h.Write(prev)
	h.Write(CanonicalBytes(e))
	return h.Sum(nil)
}

// CanonicalBytes is the hashed encoding of an entry: every field
// length-prefixed, times in UTC at microsecond precision (what the database
// stores), amounts in canonical decimal text.
func CanonicalBytes(e *Entry) []byte {
	var b []byte
	str := func(s string) {
		b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
		b = append(b, s...)
	}
	tm := func(t time.Time) { str(t.UTC().Truncate(time.Microsecond).Format(time.RFC3339Nano)) }
	str("folio-entry-v1")
	str(e.ID)
	b = binary.BigEndian.AppendUint64(b, uint64(e.Seq))
	str(e.Kind)
	str(e.Description)
	str(string(e.Phase))
	tm(e.EffectiveAt)
	tm(e.RecordedAt)
	str(e.IdempotencyKey)
	str(e.ParentID)
	str(e.Reverses)
	str(e.Completes)
	if e.ExpiresAt != nil {
		tm(*e.ExpiresAt)
	} else {
		str("")
	}
	str(e.BatchID)
	str(string(e.Metadata))
	b = binary.BigEndian.AppendUint32(b, uint32(len(e.Postings)))
	for i := range e.Postings {
		p := &e.Postings[i]
		b = binary.BigEndian.AppendUint32(b, uint32(p.Index))
		str(p.Account.String())
		str(string(p.Side))
		str(Format(&p.Amount))
		if p.Pending {
			str("pending")
		} else {
			str("")
		}
		str(Format(&p.BalanceAfter))
		str(Format(&p.DebitsAfter))
		str(Format(&p.CreditsAfter))
	}
	return b
}
