package ledger

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/cockroachdb/apd/v3"
	"github.com/folioledger/folio"
	"github.com/folioledger/folio/accounts"
	"github.com/folioledger/folio/internal/text"
)

// Phase says how an entry's postings count in balances.
type Phase string

// Entry phases. Posted entries move posted balances; Pending entries move
// pending balances only, until a PostPending entry (which moves posted
// balances by the amounts it carries) or a VoidPending entry (no postings)
// completes them and releases their pending amounts.
const (
	Posted      Phase = "posted"
	Pending     Phase = "pending"
	PostPending Phase = "post_pending"
	VoidPending Phase = "void_pending"
)

// Entry kinds the ledger itself writes.
const (
	KindManual   = "manual"
	KindReversal = "reversal"
	KindPost     = "post_pending"
	KindVoid     = "void_pending"
)

// Prefixes of the idempotency keys the ledger gives the entries it writes
// itself: a keyless reversal, post or void of entry X is keyed
// "reversal:X", "post:X" or "void:X", and the expiry of pending entry X
// "expire:X". They are reserved: clients may not use them (see
// ReservedKeyPrefixes).
const (
	KeyPrefixReversal = "reversal:"
	KeyPrefixPost     = "post:"
	KeyPrefixVoid     = "void:"
	KeyPrefixExpire   = "expire:"
)

// unindexedKeyPrefixes start the idempotency keys that the key index
// leaves out (migration 039): the trade engine's "trade:<id>" and
// "commission:<id>", two a trade. Entries under them are written only by
// fresh batches (Options.Fresh), whose caller guarantees the keys unused
// and inserts, in the same transaction, a row of its own that is unique
// per key (the trade's, by trade id); ApplyTx refuses them to any other
// batch. keyIndexedSQL is the index's predicate, which every look-up by key
// repeats so that the index serves it.
var unindexedKeyPrefixes = func() []string {
	out := make([]string, len(engineKeys))
	for i, k := range engineKeys {
		out[i] = k.prefix
	}
	return out
}()

// engineKeys are the trade engine's key prefixes with the descriptions it
// gives the entries under them: "Trade fee <id>" under "trade:<id>" and
// "Commission split of trade <id>" under "commission:<id>". An entry whose
// description is its key's stores none (NULL, migration 044); readers
// derive it (descriptionSQL). ~86 B a trade.
var engineKeys = []struct{ prefix, description string }{
	{"trade:", "Trade fee "},
	{"commission:", "Commission split of trade "},
}

// keyIndexedSQL is the key index's predicate, made from unindexedKeyPrefixes
// (the prefixes hold no LIKE wildcards).
var keyIndexedSQL = func() string {
	conds := make([]string, len(unindexedKeyPrefixes))
	for i, p := range unindexedKeyPrefixes {
		conds[i] = "idempotency_key NOT LIKE '" + p + "%'"
	}
	return strings.Join(conds, " AND ")
}()

// condByKey selects the entries under the keys in $1 (loadEntriesBy).
var condByKey = `idempotency_key = ANY($1) AND ` + keyIndexedSQL

// storedDescription is what the description column holds for an entry:
// nil when the description follows from its key (engineKeys).
func storedDescription(key, description string) *string {
	for _, k := range engineKeys {
		if rest, ok := strings.CutPrefix(key, k.prefix); ok {
			if text, ok := strings.CutPrefix(description, k.description); ok && text == rest {
				return nil
			}
		}
	}
	return &description
}

// descriptionSQL reads the description of the entries row t (a table
// alias, or "" for an unqualified one): the stored text, or the one its key
// gives.
func descriptionSQL(t string) string {
	if t != "" {
		t += "."
	}
	var b strings.Builder
	b.WriteString("coalesce(" + t + "description, CASE")
	for _, k := range engineKeys {
		fmt.Fprintf(&b, " WHEN %sidempotency_key LIKE '%s%%' THEN '%s' || substr(%sidempotency_key, %d)", t, k.prefix, k.description, t, len(k.prefix)+1)
	}
	b.WriteString(" END)")
	return b.String()
}

// unindexedPrefix returns the unindexedKeyPrefixes that key starts with.
func unindexedPrefix(key string) (string, bool) {
	for _, p := range unindexedKeyPrefixes {
		if strings.HasPrefix(key, p) {
			return p, true
		}
	}
	return "", false
}

// ReservedKeyPrefixes returns the idempotency-key prefixes the ledger owns;
// a client key starting with one could block an entry the ledger writes.
func ReservedKeyPrefixes() []string {
	return []string{KeyPrefixReversal, KeyPrefixPost, KeyPrefixVoid, KeyPrefixExpire}
}

// Posting is one line of an entry.
type Posting struct {
	Index   int
	Account accounts.Key
	Side    accounts.Side
	Amount  apd.Decimal
	// Pending is true for postings of a pending entry.
	Pending bool
	// Running totals of the account (posted) right after this posting:
	// balance on the normal side, debits and credits.
	BalanceAfter apd.Decimal
	DebitsAfter  apd.Decimal
	CreditsAfter apd.Decimal
	// inline is true for a line kept in its entry's row (lines.go).
	inline bool
}

// Entry is one balanced journal entry as stored.
type Entry struct {
	ID string
	// Shard and Seq are the entry's position: the journal shard that wrote
	// it and its gapless number in that shard's chain (see doc.go, "Shards").
	Shard          int
	Seq            int64
	Kind           string
	Description    string
	Phase          Phase
	EffectiveAt    time.Time
	RecordedAt     time.Time
	IdempotencyKey string
	ParentID       string
	Reverses       string
	Completes      string
	ExpiresAt      *time.Time
	BatchID        string
	Metadata       json.RawMessage
	PrevHash       []byte
	Hash           []byte
	Postings       []Posting

	contentHash []byte // of the request that created it, for replays
}

// NewEntry is a request to write an entry. Amounts are decimal strings,
// validated against the currency's precision.
type NewEntry struct {
	// ID, when set, is the new entry's id (a UUID v4 chosen by an internal
	// caller so that a later entry of the same batch can name it as its
	// parent); empty means the ledger generates one.
	ID             string
	IdempotencyKey string
	Kind           string
	Description    string
	EffectiveAt    time.Time // zero: the recorded time
	Pending        bool
	ExpiresAt      *time.Time // pending entries only
	ParentID       string     // a stored entry, or one accepted earlier in the same batch
	BatchID        string
	Metadata       json.RawMessage // a JSON object, or empty
	Postings       []NewPosting
	// Route, when set, chooses the journal shard (ShardOf(Route)) instead
	// of the idempotency key: the trade engine routes a trade's entries by
	// its trader, so that one trader's entries stay in one shard's order.
	// It is not stored.
	Route string
}

// NewPosting is one requested posting.
type NewPosting struct {
	Account string
	Side    accounts.Side
	Amount  string
}

// Limits on entry contents.
const (
	MaxPostings        = 1000
	MaxDescription     = 1000
	MaxMetadataBytes   = 16 << 10
	MaxKeyLength       = 200
	MaxBatchIDLength   = 200
	maxBackdate        = 100 * 365 * 24 * time.Hour
	maxFutureEffective = 24 * time.Hour
)

// ValidUUID reports whether s is a canonical lower-case UUID
// (8-4-4-4-12 hex digits).
func ValidUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < 36; i++ {
		switch i {
		case 8, 13, 18, 23:
			if s[i] != '-' {
				return false
			}
		default:
			if !text.IsHexLower(s[i]) {
				return false
			}
		}
	}
	return true
}

// ValidIdempotencyKey reports whether k is 1–200 printable ASCII characters
// without spaces.
func ValidIdempotencyKey(k string) bool { return text.Chars(k, 1, MaxKeyLength, text.IsPrintable) }

// ValidKind reports whether k is a lower-case letter followed by up to 31
// of a-z, 0-9 and _.
func ValidKind(k string) bool {
	return len(k) > 0 && text.IsLower(k[0]) &&
		text.Chars(k[1:], 0, 31, func(b byte) bool { return text.IsLower(b) || text.IsDigit(b) || b == '_' })
}

// validated is a NewEntry checked against the chart, ready to post.
type validated struct {
	req      NewEntry
	kind     string
	metadata json.RawMessage // canonical
	postings []Posting
	codes    []accounts.Code // per posting
	content  []byte          // canonical request content, for replay checks
}

// Validate checks a new entry against the chart without touching the
// database: key, kind, times, metadata, at least two postings, known
// accounts and enabled currencies, holders exactly for per-holder codes,
// positive amounts within each currency's precision, and debits equal to
// credits in every currency. now is the time the entry would be recorded.
// The error is a *folio.Error with a stable code.
func Validate(chart *accounts.Chart, e NewEntry, now time.Time) error {
	_, err := validate(chart, e, now)
	return err
}

func validate(chart *accounts.Chart, e NewEntry, now time.Time) (*validated, error) {
	v := &validated{req: e, kind: e.Kind}
	if v.kind == "" {
		v.kind = KindManual
	}
	switch {
	case !ValidIdempotencyKey(e.IdempotencyKey):
		return nil, folio.Errorf(folio.EINVALID, "idempotency_key must be 1 to %d printable ASCII characters without spaces", MaxKeyLength)
	case !ValidKind(v.kind):
		return nil, folio.Errorf(folio.EINVALID, "kind %q must be 1 to 32 characters of a-z, 0-9 and _, starting with a letter", truncate(v.kind))
	case v.kind == KindReversal || v.kind == KindPost || v.kind == KindVoid:
		return nil, folio.Errorf(folio.EINVALID, "kind %q is written by the ledger itself; use the reverse, post or void operations", v.kind)
	case len(e.Description) > MaxDescription:
		return nil, folio.Errorf(folio.EINVALID, "description is longer than %d bytes", MaxDescription)
	case !validText(e.Description):
		return nil, folio.Errorf(folio.EINVALID, "description must be UTF-8 text without NUL characters")
	case e.ID != "" && !ValidUUID(e.ID):
		return nil, folio.Errorf(folio.EINVALID, "id %q is not a UUID", truncate(e.ID))
	case e.ParentID != "" && !ValidUUID(e.ParentID):
		return nil, folio.Errorf(folio.EINVALID, "parent_id %q is not a UUID", truncate(e.ParentID))
	case len(e.BatchID) > MaxBatchIDLength:
		return nil, folio.Errorf(folio.EINVALID, "batch_id is longer than %d characters", MaxBatchIDLength)
	case !validText(e.BatchID):
		return nil, folio.Errorf(folio.EINVALID, "batch_id must be UTF-8 text without NUL characters")
	case e.ExpiresAt != nil && !e.Pending:
		return nil, folio.Errorf(folio.EINVALID, "expires_at is only allowed on pending entries")
	case e.ExpiresAt != nil && !e.ExpiresAt.After(now):
		return nil, folio.Errorf(folio.EINVALID, "expires_at must be in the future")
	case !e.EffectiveAt.IsZero() && checkEffective(e.EffectiveAt, now) != nil:
		return nil, checkEffective(e.EffectiveAt, now)
	case len(e.Postings) < 2:
		return nil, folio.Errorf(folio.EUNBALANCED, "an entry needs at least two postings, got %d", len(e.Postings))
	case len(e.Postings) > MaxPostings:
		return nil, folio.Errorf(folio.EINVALID, "an entry may have at most %d postings", MaxPostings)
	}
	md, err := CanonicalMetadata(e.Metadata)
	if err != nil {
		return nil, err
	}
	v.metadata = md

	type sums struct{ debit, credit apd.Decimal }
	totals := map[string]*sums{}
	for i, p := range e.Postings {
		key, code, cur, err := chart.ParseAndResolve(p.Account)
		if err != nil {
			return nil, prefixed(fmt.Sprintf("postings[%d]", i), err)
		}
		if !p.Side.Valid() {
			return nil, folio.Errorf(folio.EINVALID, "postings[%d]: side %q is not debit or credit", i, truncate(string(p.Side)))
		}
		amt, err := ParseAmount(p.Amount, cur.Precision)
		if err != nil {
			return nil, prefixed(fmt.Sprintf("postings[%d]", i), err)
		}
		s := totals[cur.ID]
		if s == nil {
			s = &sums{}
			totals[cur.ID] = s
		}
		if p.Side == accounts.Debit {
			err = add(&s.debit, &s.debit, &amt)
		} else {
			err = add(&s.credit, &s.credit, &amt)
		}
		if err != nil {
			return nil, folio.Errorf(folio.EAMOUNT, "postings[%d]: total out of range", i)
		}
		v.postings = append(v.postings, Posting{Index: i, Account: key, Side: p.Side, Amount: amt, Pending: e.Pending})
		v.codes = append(v.codes, code)
	}
	currencies := make([]string, 0, len(totals))
	for c := range totals {
		currencies = append(currencies, c)
	}
	sort.Strings(currencies)
	for _, c := range currencies {
		s := totals[c]
		if s.debit.Cmp(&s.credit) != 0 {
			return nil, folio.Errorf(folio.EUNBALANCED, "currency %s does not balance: debits %s, credits %s", c, Format(&s.debit), Format(&s.credit))
		}
	}
	v.content = requestContent(v.kind, e, v.metadata, v.postings)
	return v, nil
}

// checkEffective bounds a requested effective time (CheckTime).
func checkEffective(t, now time.Time) error { return CheckTime("effective_at", t, now) }

// CheckTime bounds a client-given time that becomes an entry's effective
// time: at most 24 hours ahead of now and at most 100 years back. The
// invalid_request names field, the name the client sent the time under
// (effective_at, executed_at, registered_at).
func CheckTime(field string, t, now time.Time) error {
	switch {
	case t.After(now.Add(maxFutureEffective)):
		return &folio.Error{Code: folio.EINVALID, Fields: []string{field}, Message: field + " may be at most 24 hours in the future"}
	case t.Before(now.Add(-maxBackdate)):
		return &folio.Error{Code: folio.EINVALID, Fields: []string{field}, Message: field + " is more than 100 years in the past"}
	}
	return nil
}

// validText reports whether s can be stored in a TEXT column: valid UTF-8
// without NUL, which PostgreSQL refuses (and would fail the whole batch).
func validText(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}

// prefixed adds a location to a domain error's message, keeping its code.
func prefixed(where string, err error) error {
	if fe, ok := err.(*folio.Error); ok {
		return &folio.Error{Code: fe.Code, Message: where + ": " + fe.Message, Fields: fe.Fields}
	}
	return err
}

// CanonicalMetadata checks that raw is empty or a JSON object of at most
// 16 KiB (before and after canonicalization) whose strings contain no
// U+0000 (which JSONB refuses), and returns its canonical form: keys sorted,
// no insignificant space, numbers in plain decimal notation (so that it
// survives a round trip through JSONB unchanged and hashes the same
// afterwards).
func CanonicalMetadata(raw json.RawMessage) (json.RawMessage, error) {
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 || string(trimmed) == "null" {
		return json.RawMessage("{}"), nil
	}
	if len(trimmed) > MaxMetadataBytes {
		return nil, folio.Errorf(folio.EINVALID, "metadata is larger than %d bytes", MaxMetadataBytes)
	}
	if flatCanonical(trimmed) {
		return trimmed, nil
	}
	return decodeCanonical(trimmed)
}

// decodeCanonical is CanonicalMetadata of trimmed metadata by decoding it.
func decodeCanonical(trimmed []byte) (json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil || dec.More() {
		return nil, folio.Errorf(folio.EINVALID, "metadata is not valid JSON")
	}
	if _, ok := v.(map[string]any); !ok {
		return nil, folio.Errorf(folio.EINVALID, "metadata must be a JSON object")
	}
	out, err := canonicalJSON(v)
	if err != nil {
		return nil, folio.Errorf(folio.EINVALID, "metadata: %v", err)
	}
	if len(out) > MaxMetadataBytes {
		return nil, folio.Errorf(folio.EINVALID, "metadata is larger than %d bytes once its numbers are written out", MaxMetadataBytes)
	}
	return out, nil
}

// flatCanonical reports whether raw is already canonical in the simplest
// shape, the one the trade engine writes: an object of string values,
// keys in strictly increasing order, no space, every key and value
// printable ASCII without '"' or '\\' (which writeString writes as is).
// Such metadata is its own canonical form, without decoding it.
func flatCanonical(raw []byte) bool {
	if len(raw) < 2 || raw[0] != '{' || raw[len(raw)-1] != '}' {
		return false
	}
	body := raw[1 : len(raw)-1]
	var prev []byte
	for i := 0; len(body) > 0; i++ {
		if i > 0 {
			if body[0] != ',' {
				return false
			}
			body = body[1:]
		}
		key, rest, ok := plainString(body)
		if !ok || len(rest) == 0 || rest[0] != ':' || i > 0 && bytes.Compare(prev, key) >= 0 {
			return false
		}
		if _, body, ok = plainString(rest[1:]); !ok {
			return false
		}
		prev = key
	}
	return true
}

// plainString splits b after a leading JSON string of printable ASCII
// without escapes, returning its contents.
func plainString(b []byte) (s, rest []byte, ok bool) {
	if len(b) == 0 || b[0] != '"' {
		return nil, nil, false
	}
	for i := 1; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"':
			return b[1:i], b[i+1:], true
		case c < 0x20 || c > 0x7e || c == '\\':
			return nil, nil, false
		}
	}
	return nil, nil, false
}

func canonicalJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	if err := writeCanonical(&buf, v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func writeCanonical(buf *bytes.Buffer, v any) error {
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		buf.WriteByte('{')
		for i, k := range keys {
			if strings.ContainsRune(k, 0) {
				return fmt.Errorf("keys and strings may not contain \\u0000")
			}
			if i > 0 {
				buf.WriteByte(',')
			}
			writeString(buf, k)
			buf.WriteByte(':')
			if err := writeCanonical(buf, x[k]); err != nil {
				return err
			}
		}
		buf.WriteByte('}')
	case []any:
		buf.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := writeCanonical(buf, e); err != nil {
				return err
			}
		}
		buf.WriteByte(']')
	case json.Number:
		var d apd.Decimal
		if _, _, err := d.SetString(string(x)); err != nil {
			return fmt.Errorf("number %s", x)
		}
		if d.Exponent > 1000 || d.Exponent < -1000 {
			return fmt.Errorf("number %s is out of range", truncate(string(x)))
		}
		if d.IsZero() {
			d.Negative = false
		}
		buf.WriteString(d.Text('f'))
	case string:
		if strings.ContainsRune(x, 0) {
			return fmt.Errorf("keys and strings may not contain \\u0000")
		}
		writeString(buf, x)
	case bool:
		if x {
			buf.WriteString("true")
		} else {
			buf.WriteString("false")
		}
	case nil:
		buf.WriteString("null")
	default:
		return fmt.Errorf("unexpected %T", v)
	}
	return nil
}

func writeString(buf *bytes.Buffer, s string) {
	// Fast path: printable ASCII without '"' or '\\' is written as is by
	// the encoder too.
	plain := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			plain = false
			break
		}
	}
	if plain {
		buf.WriteByte('"')
		buf.WriteString(s)
		buf.WriteByte('"')
		return
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	buf.Write(bytes.TrimRight(b.Bytes(), "\n"))
}

// requestContent is the canonical content of a request, compared on
// replays of its idempotency key.
func requestContent(kind string, e NewEntry, md json.RawMessage, ps []Posting) []byte {
	// Byte for byte what
	//	fmt.Fprintf("kind=%s\ndescription=%q\npending=%t\nparent=%s\nbatch=%s\nmetadata=%s\n", …)
	// followed by expires=, effective= and posting= lines wrote (stored
	// content hashes depend on it), built without fmt.
	b := make([]byte, 0, 128+len(e.Description)+len(md)+64*len(ps))
	b = append(b, "kind="...)
	b = append(b, kind...)
	b = append(b, "\ndescription="...)
	b = strconv.AppendQuote(b, e.Description)
	b = append(b, "\npending="...)
	b = strconv.AppendBool(b, e.Pending)
	b = append(b, "\nparent="...)
	b = append(b, e.ParentID...)
	b = append(b, "\nbatch="...)
	b = append(b, e.BatchID...)
	b = append(b, "\nmetadata="...)
	b = append(b, md...)
	b = append(b, '\n')
	if e.ExpiresAt != nil {
		b = append(b, "expires="...)
		b = e.ExpiresAt.UTC().Truncate(time.Microsecond).AppendFormat(b, time.RFC3339Nano)
		b = append(b, '\n')
	}
	if !e.EffectiveAt.IsZero() {
		b = append(b, "effective="...)
		b = e.EffectiveAt.UTC().Truncate(time.Microsecond).AppendFormat(b, time.RFC3339Nano)
		b = append(b, '\n')
	}
	for i := range ps {
		p := &ps[i]
		b = append(b, "posting="...)
		b = append(b, p.Account.Code...)
		b = append(b, ':')
		b = append(b, p.Account.Currency...)
		if p.Account.Holder != "" {
			b = append(b, ':')
			b = append(b, p.Account.Holder...)
		}
		b = append(b, ' ')
		b = append(b, p.Side...)
		b = append(b, ' ')
		b = append(b, Format(&p.Amount)...)
		b = append(b, '\n')
	}
	return b
}
