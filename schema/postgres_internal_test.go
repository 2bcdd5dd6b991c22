package schema

import (
	"strings"
	"testing"
)

// The durable cluster's shared_buffers: a quarter of the memory, clamped
// to 128 MB–8 GB.
func TestSharedBuffers(t *testing.T) {
	for _, c := range []struct {
		available int64
		want      string
	}{
		{0, "256MB"},
		{256 << 20, "128MB"},
		{4 << 30, "1024MB"},
		{24 << 30, "6144MB"},
		{256 << 30, "8192MB"},
	} {
		if got := sharedBuffers(c.available); got != c.want {
			t.Errorf("sharedBuffers(%d) = %q, want %q", c.available, got, c.want)
		}
	}
}

// max_wal_size: an eighth of the free disk, clamped to 1–16 GB.
func TestMaxWALSize(t *testing.T) {
	for _, c := range []struct {
		free int64
		want string
	}{
		{0, "4GB"},
		{2 << 30, "1024MB"},
		{76 << 30, "9728MB"},
		{1 << 40, "16384MB"},
	} {
		if got := maxWALSize(c.free); got != c.want {
			t.Errorf("maxWALSize(%d) = %q, want %q", c.free, got, c.want)
		}
	}
	if freeDisk(t.TempDir()) <= 0 {
		t.Error("freeDisk(a temporary directory) = 0: statfs not read")
	}
}

// The server's environment gets the malloc settings unless it has
// GLIBC_TUNABLES of its own, which it keeps as they are.
func TestServerEnv(t *testing.T) {
	for _, c := range []struct {
		env, want []string
	}{
		{nil, []string{"GLIBC_TUNABLES=" + mallocTunables}},
		{[]string{"PATH=/bin"}, []string{"PATH=/bin", "GLIBC_TUNABLES=" + mallocTunables}},
		{[]string{"GLIBC_TUNABLES=glibc.malloc.arena_max=1", "PATH=/bin"}, []string{"GLIBC_TUNABLES=glibc.malloc.arena_max=1", "PATH=/bin"}},
		{[]string{"MY_GLIBC_TUNABLES=x"}, []string{"MY_GLIBC_TUNABLES=x", "GLIBC_TUNABLES=" + mallocTunables}},
	} {
		got := serverEnv(c.env)
		if strings.Join(got, "|") != strings.Join(c.want, "|") {
			t.Errorf("serverEnv(%q) = %q, want %q", c.env, got, c.want)
		}
	}
}
