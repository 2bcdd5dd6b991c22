package schema

import (
	"strings"
	"testing"
)

// TestSizedFollowsGrowth: a statement's name changes each time the largest
// noted seq reaches the next power of two, never goes back, and keeps the
// statement's text.
func TestSizedFollowsGrowth(t *testing.T) {
	growth.Store(0)
	t.Cleanup(func() { growth.Store(0) })
	const sql = "SELECT 1"
	names := map[string]bool{}
	for _, c := range []struct {
		note int64
		gen  int
	}{{0, 0}, {1, 1}, {3, 2}, {2, 2}, {4, 3}, {7, 3}, {8, 4}, {1 << 20, 21}, {5, 21}, {-1, 21}} {
		NoteGrowth(c.note)
		if got := SizeGeneration(); got != c.gen {
			t.Fatalf("after NoteGrowth(%d): generation %d, want %d", c.note, got, c.gen)
		}
		name := Sized(sql)
		if !strings.HasSuffix(name, " "+sql) || !strings.HasPrefix(name, "/* size generation ") {
			t.Fatalf("Sized = %q", name)
		}
		names[name] = true
	}
	if len(names) != 6 {
		t.Fatalf("%d distinct names for 6 generations: %v", len(names), names)
	}
}
