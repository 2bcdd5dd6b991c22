// Package sysmem reads how much memory the machine and the process have,
// for the defaults sized by it (PostgreSQL's shared_buffers, the Go
// collector's memory limit).
package sysmem

import (
	"os"
	"strconv"
	"strings"
)

// Total is MemTotal of /proc/meminfo in bytes (0 when it cannot be read).
func Total() int64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		// MemTotal:       24608020 kB
		if f := strings.Fields(line); len(f) == 3 && f[0] == "MemTotal:" && f[2] == "kB" {
			if kb, err := strconv.ParseInt(f[1], 10, 64); err == nil {
				return kb << 10
			}
		}
	}
	return 0
}

// Available is the memory this process may use in bytes: its cgroup v2
// limit when it has one below the machine's, else the machine's total (0
// when neither can be read).
func Available() int64 {
	total := Total()
	if b, err := os.ReadFile("/sys/fs/cgroup/memory.max"); err == nil {
		if n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err == nil && n > 0 && (total == 0 || n < total) {
			return n
		}
	}
	return total
}
