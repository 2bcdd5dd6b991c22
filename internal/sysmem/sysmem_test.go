package sysmem

import "testing"

func TestTotalAndAvailable(t *testing.T) {
	total := Total()
	if total < 64<<20 {
		t.Fatalf("Total() = %d bytes: MemTotal of /proc/meminfo not read", total)
	}
	if a := Available(); a <= 0 || a > total {
		t.Errorf("Available() = %d, want (0, %d]", a, total)
	}
}
