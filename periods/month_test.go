package periods

import (
	"testing"

	"github.com/folioledger/folio/ledger"
)

func TestParseMonth(t *testing.T) {
	for _, tt := range []struct {
		in, want string
	}{
		{"2026-03", "2026-03"}, {"2026-12", "2026-12"}, {"2000-01", "2000-01"},
		{"2026-13", ""}, {"2026-00", ""}, {"2026-3", ""}, {"26-03", ""}, {"2026/03", ""}, {"2026-03-01", ""},
		{"1999-12", ""}, {"２０２６-03", ""}, {"", ""}, {"2026-0a", ""}, {"+026-03", ""},
	} {
		m, err := ParseMonth(tt.in)
		got := ""
		if err == nil {
			got = m.String()
		}
		if got != tt.want {
			t.Errorf("ParseMonth(%q) = %q, %v, want %q", tt.in, got, err, tt.want)
		}
	}
	m, _ := ParseMonth("2026-12")
	if m.Next().String() != "2027-01" || m.Prev().String() != "2026-11" || m.To().Format("2006-01-02") != "2027-01-01" {
		t.Errorf("2026-12: next %s prev %s to %s", m.Next(), m.Prev(), m.To())
	}
}

// TestBookedIn: an entry beyond a closed period's cut belongs to the first
// later period whose cut holds it, or else the first one not closed.
func TestBookedIn(t *testing.T) {
	mar, _ := ParseMonth("2026-03")
	b := book{}
	b.get(mar).State, b.get(mar).Cut = Closed, ledger.Cut{10, 5}
	b.get(mar.Next()).State, b.get(mar.Next()).Cut = Reopening, ledger.Cut{20, 8}
	for _, tt := range []struct {
		shard int
		seq   int64
		want  string
	}{
		{0, 11, "2026-04"}, {0, 20, "2026-04"}, {0, 21, "2026-05"}, {1, 9, "2026-05"}, {2, 1, "2026-05"},
	} {
		if got := b.bookedIn(mar, &ledger.Entry{Shard: tt.shard, Seq: tt.seq}).String(); got != tt.want {
			t.Errorf("bookedIn(shard %d seq %d) = %s, want %s", tt.shard, tt.seq, got, tt.want)
		}
	}
}
