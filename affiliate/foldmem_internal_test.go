package affiliate

import (
	"fmt"
	"testing"
)

// TestFoldMemoryTake: the folder takes only segments that continue the
// watermark without a gap, within the head and the batch; a gap says where
// the held segments resume; what the watermark passed or cut into is
// forgotten; past the limit the oldest go first.
func TestFoldMemoryTake(t *testing.T) {
	seg := func(from, to int64, trades int) foldSegment {
		return foldSegment{shard: 0, from: from, to: to, trades: trades, rows: make([]foldRow, trades)}
	}
	spans := func(segs []foldSegment) string {
		s := ""
		for _, sg := range segs {
			s += fmt.Sprintf("(%d,%d]", sg.from, sg.to)
		}
		return s
	}
	m := newFoldMemory(100)
	m.push([]foldSegment{seg(10, 14, 2), seg(14, 20, 3), seg(24, 30, 3)})
	for _, c := range []struct {
		name        string
		mark, head  int64
		batch       int
		want        string
		next, nrows int64
	}{
		{"gap before the first", 6, 40, 100, "", 10, 8},
		{"contiguous up to the gap", 10, 40, 100, "(10,14](14,20]", 0, 8},
		{"head bounds", 10, 19, 100, "(10,14]", 0, 8},
		{"batch bounds, the first always", 10, 40, 1, "(10,14]", 0, 8},
		{"retried: taken again", 10, 40, 4, "(10,14]", 0, 8},
		{"gap after the folded ones", 20, 40, 100, "", 24, 3},
		{"cut into by another folder", 26, 40, 100, "", 0, 0},
	} {
		got, next := m.take(0, c.mark, c.head, c.batch)
		if spans(got) != c.want || next != c.next || int64(m.rows) != c.nrows {
			t.Errorf("%s: took %s, next %d, %d rows held; want %s, %d, %d", c.name, spans(got), next, m.rows, c.want, c.next, c.nrows)
		}
	}
	m.push([]foldSegment{seg(30, 40, 60), seg(40, 50, 30)})
	m.push([]foldSegment{seg(50, 60, 20)}) // 110 > 100: the oldest goes
	if got, next := m.take(0, 30, 100, 1000); spans(got) != "" || next != 40 || m.rows != 50 {
		t.Errorf("past the limit: took %s, next %d, %d rows held; want the oldest dropped", spans(got), next, m.rows)
	}
	m.push([]foldSegment{seg(60, 70, 101)}) // alone over the limit: not kept
	if got, _ := m.take(0, 40, 100, 1000); spans(got) != "(40,50](50,60]" || m.rows != 50 {
		t.Errorf("a segment over the limit: took %s with %d rows held", spans(got), m.rows)
	}
	var nilMem *foldMemory
	nilMem.push([]foldSegment{seg(0, 1, 1)})
	if got, next := nilMem.take(0, 0, 10, 10); got != nil || next != 0 {
		t.Error("a nil memory holds nothing")
	}
}
