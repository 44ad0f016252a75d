package client_test

import (
	"testing"

	"github.com/quorum-quest/client-go/internal/benchmark"
)

// The call benchmarks: each operation through the client beside the bare
// generated stub making the same call to the same loopback server. `make
// bench` runs these and the failover, handover and scale measurements.
func BenchmarkCalls(b *testing.B) {
	l, err := benchmark.NewLoopback()
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	for _, bm := range benchmark.Benchmarks {
		b.Run(bm.Name+"/bare", func(b *testing.B) { bm.Bare(b, l) })
		b.Run(bm.Name+"/deadline", func(b *testing.B) { bm.Deadline(b, l) })
		b.Run(bm.Name+"/timeout", func(b *testing.B) { bm.Timeout(b, l) })
		b.Run(bm.Name+"/client", func(b *testing.B) { bm.Client(b, l) })
		b.Run(bm.Name+"/metrics", func(b *testing.B) { bm.Metrics(b, l) })
	}
}

// The client's own cost per call, against a server that answers at once:
// what the loopback figures above hide in the round trip's noise.
func BenchmarkOverhead(b *testing.B) {
	b.Run("TryAcquireLock", benchmark.OverheadTryAcquireLock)
	b.Run("KeepAlive", benchmark.OverheadKeepAlive)
}
