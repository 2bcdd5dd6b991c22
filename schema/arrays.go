package schema

import (
	"encoding/binary"
	"slices"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
)

// The batch statements pass their rows as arrays, one Go slice a column:
// []string, []int64 and []time.Time for text[], int8[] and timestamptz[]
// (or []*string, []*int64 and []*time.Time where nil is NULL).
// pgx's ArrayCodec encodes such a slice through a FlatArray whose Index
// boxes every element into an interface (an allocation each) and then
// encodes it through the element type's plan: in a 64 × 1 bench profile
// array encoding was ~12% of the server's allocations. flatArrayCodec
// encodes those six slice types directly, in the same binary format,
// byte for byte (TestFlatArraysEncodeAsPgx); every other value goes to
// pgx's codec.

// flatArrayCodec is pgx's ArrayCodec with the direct path.
type flatArrayCodec struct {
	*pgtype.ArrayCodec
}

// registerFlatArrays makes m encode text[], int8[] and timestamptz[]
// parameters with flatArrayCodec.
func registerFlatArrays(m *pgtype.Map) {
	for _, t := range []struct {
		name      string
		oid, elem uint32
	}{
		{"_text", pgtype.TextArrayOID, pgtype.TextOID},
		{"_int8", pgtype.Int8ArrayOID, pgtype.Int8OID},
		{"_timestamptz", pgtype.TimestamptzArrayOID, pgtype.TimestamptzOID},
	} {
		elem, ok := m.TypeForOID(t.elem)
		if !ok {
			continue
		}
		m.RegisterType(&pgtype.Type{Name: t.name, OID: t.oid, Codec: flatArrayCodec{&pgtype.ArrayCodec{ElementType: elem}}})
	}
}

// PlanEncode takes the direct path for a slice of the codec's element type
// in binary format.
func (c flatArrayCodec) PlanEncode(m *pgtype.Map, oid uint32, format int16, value any) pgtype.EncodePlan {
	if format == pgtype.BinaryFormatCode {
		switch value.(type) {
		case []string:
			if c.ElementType.OID == pgtype.TextOID {
				return flatStrings{}
			}
		case []int64:
			if c.ElementType.OID == pgtype.Int8OID {
				return flatInt64s{}
			}
		case []time.Time:
			if c.ElementType.OID == pgtype.TimestamptzOID {
				return flatTimes{}
			}
		case []*string:
			if c.ElementType.OID == pgtype.TextOID {
				return nullableStrings{}
			}
		case []*int64:
			if c.ElementType.OID == pgtype.Int8OID {
				return nullableInt64s{}
			}
		case []*time.Time:
			if c.ElementType.OID == pgtype.TimestamptzOID {
				return nullableTimes{}
			}
		}
	}
	return c.ArrayCodec.PlanEncode(m, oid, format, value)
}

// appendArrayHeader appends the binary header of a one-dimensional array
// of n elements of type elem without NULLs, as pgx writes it (a nil slice
// is SQL NULL and has none).
func appendArrayHeader(buf []byte, elem uint32, n int) []byte {
	buf = binary.BigEndian.AppendUint32(buf, 1) // dimensions
	buf = binary.BigEndian.AppendUint32(buf, 0) // no NULL element
	buf = binary.BigEndian.AppendUint32(buf, elem)
	buf = binary.BigEndian.AppendUint32(buf, uint32(n))
	return binary.BigEndian.AppendUint32(buf, 1) // lower bound
}

type flatStrings struct{}

func (flatStrings) Encode(value any, buf []byte) ([]byte, error) {
	return appendTexts(buf, value.([]string), notNull(textOf)), nil
}

// nullableStrings, nullableInt64s and nullableTimes encode []*string,
// []*int64 and []*time.Time, whose nil elements are NULL (pgx went through
// reflection for each element of these: ~5% of the server's allocations
// at 64 × 1).
type nullableStrings struct{}

func (nullableStrings) Encode(value any, buf []byte) ([]byte, error) {
	return appendTexts(buf, value.([]*string), orNull(textOf)), nil
}

type nullableInt64s struct{}

func (nullableInt64s) Encode(value any, buf []byte) ([]byte, error) {
	return appendWords(buf, value.([]*int64), pgtype.Int8OID, orNull(int64Word)), nil
}

type nullableTimes struct{}

func (nullableTimes) Encode(value any, buf []byte) ([]byte, error) {
	return appendWords(buf, value.([]*time.Time), pgtype.TimestamptzOID, orNull(timeWord)), nil
}

// textOf and int64Word are the element encodings of text and int8
// (timeWord is timestamptz's).
func textOf(s string) string   { return s }
func int64Word(x int64) uint64 { return uint64(x) }

// notNull is the element function of a slice without NULLs: f, always ok.
func notNull[T, W any](f func(T) W) func(T) (W, bool) {
	return func(x T) (W, bool) { return f(x), true }
}

// orNull is the element function of a slice of pointers: f of the value,
// not ok (NULL) for nil.
func orNull[T, W any](f func(T) W) func(*T) (W, bool) {
	return func(p *T) (W, bool) {
		if p == nil {
			var zero W
			return zero, false
		}
		return f(*p), true
	}
}

type flatInt64s struct{}

func (flatInt64s) Encode(value any, buf []byte) ([]byte, error) {
	return appendWords(buf, value.([]int64), pgtype.Int8OID, notNull(int64Word)), nil
}

// microsecondsToY2K is PostgreSQL's timestamp epoch, 2000-01-01 UTC, in
// microseconds since the Unix epoch.
const microsecondsToY2K = 946684800 * 1000000

type flatTimes struct{}

func (flatTimes) Encode(value any, buf []byte) ([]byte, error) {
	return appendWords(buf, value.([]time.Time), pgtype.TimestamptzOID, notNull(timeWord)), nil
}

// timeWord is t as a timestamptz: microseconds since 2000-01-01 UTC.
func timeWord(t time.Time) uint64 {
	return uint64(t.Unix()*1000000 + int64(t.Nanosecond())/1000 - microsecondsToY2K)
}

// appendTexts appends v as a text[] array, each element text(x): not ok
// is NULL; nil for a nil slice (NULL).
func appendTexts[T any](buf []byte, v []T, text func(T) (string, bool)) []byte {
	if v == nil {
		return nil
	}
	size := 20
	for _, x := range v {
		s, _ := text(x)
		size += 4 + len(s)
	}
	start := len(buf)
	buf = appendArrayHeader(slices.Grow(buf, size), pgtype.TextOID, len(v))
	for _, x := range v {
		s, ok := text(x)
		if !ok {
			buf = appendNull(buf, start)
			continue
		}
		buf = binary.BigEndian.AppendUint32(buf, uint32(len(s)))
		buf = append(buf, s...)
	}
	return buf
}

// appendWords appends v as an array of elem, whose elements are 8-byte
// words (int8, timestamptz), each word(x): not ok is NULL; nil for a nil
// slice (NULL).
func appendWords[T any](buf []byte, v []T, elem uint32, word func(T) (uint64, bool)) []byte {
	if v == nil {
		return nil
	}
	start := len(buf)
	buf = appendArrayHeader(slices.Grow(buf, 20+12*len(v)), elem, len(v))
	for _, x := range v {
		w, ok := word(x)
		if !ok {
			buf = appendNull(buf, start)
			continue
		}
		buf = binary.BigEndian.AppendUint32(buf, 8)
		buf = binary.BigEndian.AppendUint64(buf, w)
	}
	return buf
}

// appendNull appends a NULL element to the array whose header starts at
// start, and sets the header's has-NULLs flag.
func appendNull(buf []byte, start int) []byte {
	binary.BigEndian.PutUint32(buf[start+4:], 1)
	return binary.BigEndian.AppendUint32(buf, 0xFFFFFFFF) // length -1
}
