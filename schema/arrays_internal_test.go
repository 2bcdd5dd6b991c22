package schema

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
)

// TestFlatArraysEncodeAsPgx: the direct path writes, for every value it
// takes, the bytes pgx's own codec writes, NULLs (nil slices) and empty
// arrays included; what it does not take still encodes.
func TestFlatArraysEncodeAsPgx(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		berlin = time.FixedZone("UTC+1", 3600)
	}
	var strs [][]string
	var ints [][]int64
	var times [][]time.Time
	strs, ints, times = append(strs, nil, []string{}, []string{""}), append(ints, nil, []int64{}), append(times, nil, []time.Time{})
	for n := range 40 {
		var s []string
		var i []int64
		var tm []time.Time
		for k := range n * 7 {
			s = append(s, fmt.Sprintf("%s-ü-%d", string(rune('a'+k%26)), rng.Int64()))
			i = append(i, rng.Int64()-rng.Int64())
			at := time.Unix(rng.Int64N(4e9)-2e9, rng.Int64N(1e9))
			if k%3 == 0 {
				at = at.In(berlin)
			}
			tm = append(tm, at)
		}
		strs, ints, times = append(strs, s), append(ints, i), append(times, tm)
	}
	plain, flat := pgtype.NewMap(), pgtype.NewMap()
	registerFlatArrays(flat)
	check := func(oid uint32, v any) {
		t.Helper()
		want, err := plain.Encode(oid, pgtype.BinaryFormatCode, v, []byte("prefix"))
		if err != nil {
			t.Fatal(err)
		}
		got, err := flat.Encode(oid, pgtype.BinaryFormatCode, v, []byte("prefix"))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) || (got == nil) != (want == nil) {
			t.Fatalf("oid %d, %T of %d: encoded %x, pgx %x", oid, v, lenOf(v), got, want)
		}
	}
	for _, v := range strs {
		check(pgtype.TextArrayOID, v)
		check(pgtype.TextArrayOID, nullable(v, rng))
	}
	for _, v := range ints {
		check(pgtype.Int8ArrayOID, v)
		check(pgtype.Int8ArrayOID, nullable(v, rng))
	}
	for _, v := range times {
		check(pgtype.TimestamptzArrayOID, v)
		check(pgtype.TimestamptzArrayOID, nullable(v, rng))
	}
	// All NULL, and NULL first and last.
	check(pgtype.TextArrayOID, []*string{nil, nil})
	check(pgtype.Int8ArrayOID, []*int64{nil, new(int64(7)), nil})
	// The plans are the direct ones (else the test compares pgx with itself).
	for _, c := range []struct {
		oid uint32
		v   any
	}{{pgtype.TextArrayOID, []string{}}, {pgtype.Int8ArrayOID, []int64{}}, {pgtype.TimestamptzArrayOID, []time.Time{}},
		{pgtype.TextArrayOID, []*string{}}, {pgtype.Int8ArrayOID, []*int64{}}, {pgtype.TimestamptzArrayOID, []*time.Time{}}} {
		switch p := flat.PlanEncode(c.oid, pgtype.BinaryFormatCode, c.v).(type) {
		case flatStrings, flatInt64s, flatTimes, nullableStrings, nullableInt64s, nullableTimes:
		default:
			t.Errorf("oid %d, %T: plan %T, want the direct one", c.oid, c.v, p)
		}
	}
	// Other values and the text format still go through pgx's codec.
	check(pgtype.Int8ArrayOID, []int32{1, -2})
	for _, c := range []struct {
		oid uint32
		v   any
	}{{pgtype.TextArrayOID, []string{"a", "b c"}}, {pgtype.Int8ArrayOID, []int64{1, -2}}} {
		want, _ := plain.Encode(c.oid, pgtype.TextFormatCode, c.v, nil)
		got, err := flat.Encode(c.oid, pgtype.TextFormatCode, c.v, nil)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("text format %T: %q, %v; pgx %q", c.v, got, err, want)
		}
	}
}

func lenOf(v any) int {
	switch v := v.(type) {
	case []string:
		return len(v)
	case []int64:
		return len(v)
	case []time.Time:
		return len(v)
	}
	return -1
}

// nullable returns v as pointers, about a third of them nil (a nil slice
// stays nil).
func nullable[T any](v []T, rng *rand.Rand) []*T {
	if v == nil {
		return nil
	}
	out := make([]*T, len(v))
	for i := range v {
		if rng.IntN(3) > 0 {
			out[i] = &v[i]
		}
	}
	return out
}
