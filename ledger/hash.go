package ledger

import (
	"crypto/sha256"
	"encoding/binary"
	"time"
)

// GenesisHash is the prev_hash of the first entry: 32 zero bytes.
var GenesisHash = make([]byte, sha256.Size)

// Versions of the canonical encoding. Version 2 adds the entry's content
// hash (the hash of the request that created it, which replays of its
// idempotency key are compared with), so that every stored column of an
// entry is either hashed or checked by Verify against a hashed one.
// Entries are written in version 2; Verify accepts version 1 only for the
// entries before the first version-2 entry (journals written before it).
// Version 3 adds the entry's shard, so that its whole position (shard,
// seq) is hashed.
const (
	hashV1 = "folio-entry-v1"
	hashV2 = "folio-entry-v2"
	hashV3 = "folio-entry-v3"
)

// ComputeHash returns SHA-256(prev_hash ‖ canonical bytes of e and its
// postings). Every field that states what happened is covered, including
// each posting's running balances and the entry's content hash, so
// changing any stored amount, balance or content hash breaks the chain at
// that entry.
func ComputeHash(prev []byte, e *Entry) []byte {
	return computeHash(prev, e, hashV3)
}

func computeHash(prev []byte, e *Entry, version string) []byte {
	h := sha256.New()
	h.Write(prev)
	h.Write(canonicalBytes(e, version))
	return h.Sum(nil)
}

// CanonicalBytes is the hashed encoding of an entry: every field
// length-prefixed, times in UTC at microsecond precision (what the database
// stores), amounts in canonical decimal text.
func CanonicalBytes(e *Entry) []byte { return canonicalBytes(e, hashV3) }

func canonicalBytes(e *Entry, version string) []byte {
	var b []byte
	str := func(s string) {
		b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
		b = append(b, s...)
	}
	tm := func(t time.Time) { str(t.UTC().Truncate(time.Microsecond).Format(time.RFC3339Nano)) }
	str(version)
	str(e.ID)
	if version == hashV3 {
		b = binary.BigEndian.AppendUint64(b, uint64(e.Shard))
	}
	b = binary.BigEndian.AppendUint64(b, uint64(e.Seq))
	str(e.Kind)
	str(e.Description)
	str(string(e.Phase))
	tm(e.EffectiveAt)
	tm(e.RecordedAt)
	str(e.IdempotencyKey)
	if version != hashV1 {
		str(string(e.contentHash))
	}
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

// ContentHash returns the hash of the request that created e, which its
// chain hash covers.
func (e *Entry) ContentHash() []byte { return e.contentHash }

// SetContentHash sets e's content hash: a reader that rebuilds an entry
// outside the database (an audit bundle, package bundle) sets it before
// recomputing the entry's hash with ComputeHash.
func (e *Entry) SetContentHash(h []byte) { e.contentHash = h }
