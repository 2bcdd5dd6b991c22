package schema

import (
	"strconv"
	"strings"
	"testing"
)

// The durable cluster's shared_buffers: an eighth of the memory, clamped.
func TestSharedBuffers(t *testing.T) {
	v := sharedBuffers()
	mb, err := strconv.Atoi(strings.TrimSuffix(v, "MB"))
	if err != nil || !strings.HasSuffix(v, "MB") || mb < 128 || mb > 2048 {
		t.Fatalf("sharedBuffers() = %q, want 128MB to 2048MB", v)
	}
}
