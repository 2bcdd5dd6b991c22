package main

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/folioledger/folio/schema"
)

// The CPU a trade costs, next to its WAL: on this 2-core machine the
// server, PostgreSQL and the bench's own clients share the same cores, so
// trades/s moves with whatever else runs (±7% here, far more while other
// work runs), while CPU seconds per trade barely do. The bench reads, at
// the start of the stream and once the database's counters settled after
// it (the statistics folder has then caught up), the CPU time
// (utime+stime, /proc/<pid>/stat) of three parties:
//
//   - the `folio serve` child;
//   - the database: its postmaster (with its reaped children) and every
//     live child — found from a backend's pid, so it works for the private
//     cluster and for a --url cluster on this machine; for a remote
//     database it is not measured (0);
//   - the bench process itself (HTTP clients, JSON, an in-process Kafka).

// cpuReading is the cumulative CPU time of each party, in clock ticks.
type cpuReading struct {
	server, database, bench int64
	dbMeasured              bool
}

// clockTick is USER_HZ, the unit of /proc/<pid>/stat's times: 100 on
// every Linux architecture Go supports (sysconf(_SC_CLK_TCK)).
const clockTick = 100

// readCPU reads the three parties' CPU time. postmaster is 0 when the
// database is not on this machine.
func readCPU(serverPID, postmaster int) cpuReading {
	r := cpuReading{server: procCPU(serverPID, false), bench: procCPU(os.Getpid(), false)}
	if postmaster > 0 {
		r.dbMeasured = true
		r.database = procCPU(postmaster, true)
		for _, c := range procChildren(postmaster) {
			r.database += procCPU(c, false)
		}
	}
	return r
}

// procCPU is a process's utime+stime, with its reaped children's
// (cutime+cstime) when withChildren; 0 if it cannot be read.
func procCPU(pid int, withChildren bool) int64 {
	f := procStatFields(pid)
	if len(f) < 17 {
		return 0
	}
	// Fields after the command's closing parenthesis, from field 3
	// (state): utime is field 14, stime 15, cutime 16, cstime 17.
	n := 2
	if withChildren {
		n = 4
	}
	var t int64
	for i := range n {
		v, _ := strconv.ParseInt(f[13+i], 10, 64)
		t += v
	}
	return t
}

// procStatFields splits /proc/<pid>/stat into its fields (1-based field k
// at index k-1), the command name counting as one field.
func procStatFields(pid int) []string {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return nil
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return nil
	}
	head := strings.Fields(s[:strings.IndexByte(s, '(')])
	return append(append(head, s[strings.IndexByte(s, '(')+1:i]), strings.Fields(s[i+1:])...)
}

// procChildren lists the pids whose parent is pid.
func procChildren(pid int) []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []int
	for _, e := range ents {
		c, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if f := procStatFields(c); len(f) > 3 && f[3] == strconv.Itoa(pid) {
			out = append(out, c)
		}
	}
	return out
}

// localPostmaster finds the postmaster of db's cluster when it runs on
// this machine: the parent of one of its backends. 0 when it is not
// visible here (a remote database, another PID namespace).
func localPostmaster(ctx context.Context, db *schema.DB) int {
	var backend int
	if err := db.Pool.QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&backend); err != nil {
		return 0
	}
	f := procStatFields(backend)
	if len(f) < 4 || !strings.HasPrefix(f[1], "postgres") {
		return 0
	}
	pm, _ := strconv.Atoi(f[3])
	return pm
}

// cpuPerTrade fills the report's CPU figures (µs per trade) from two readings.
func (r *benchReport) cpuPerTrade(a, b cpuReading) {
	if r.Trades == 0 {
		return
	}
	us := func(d int64) float64 { return float64(d) * 1e6 / clockTick / float64(r.Trades) }
	r.CPUServerUSPerTrade = us(b.server - a.server)
	r.CPUBenchUSPerTrade = us(b.bench - a.bench)
	if a.dbMeasured && b.dbMeasured {
		r.CPUDatabaseUSPerTrade = us(b.database - a.database)
	}
}
