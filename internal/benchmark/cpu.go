package benchmark

import (
	"syscall"
	"testing"
	"time"
)

// CPUMetric is the unit of the process CPU time per operation the call
// benchmarks report besides wall time: on a machine shared with other
// work, wall time also counts the waits for a CPU, CPU time far less.
const CPUMetric = "cpu-ns/op"

// CPUTime is this process's user and system CPU time so far.
func CPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU reports the CPU time since start per operation.
func reportCPU(b *testing.B, start time.Duration) {
	b.ReportMetric(float64(CPUTime()-start)/float64(b.N), CPUMetric)
}
