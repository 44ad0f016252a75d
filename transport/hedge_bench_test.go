package transport

import (
	"context"
	"testing"
	"time"

	"github.com/quorum-quest/client-go/internal/testutil"
)

// BenchmarkHedgeCost reports what hedging costs per renewal (KeepAlive),
// back to back over two real gRPC servers on loopback: copies sent per
// renewal, calls the servers saw beyond one per renewal, and the slowest
// renewal. "steady" has both servers healthy; "one-silent" has the server
// behind one link vanish (silent, READY) after the warm-up, for the whole
// run: its link is replaced after the silence threshold (1 s here), by one
// whose handshake goes unanswered too. Run with -benchtime=2000x (the
// figures in docs/connections.md).
func BenchmarkHedgeCost(b *testing.B) {
	for _, fault := range []bool{false, true} {
		name := "steady"
		if fault {
			name = "one-silent"
		}
		b.Run(name, func(b *testing.B) {
			f := newPair(b)
			c := openPair(b, f.addr(), time.Second)
			for range 64 {
				acquire(b, c, "holder")
			}
			if fault {
				if err := f.proxy.SetMode(testutil.ProxySilent); err != nil {
					b.Fatal(err)
				}
			}
			calls, hedged, seen := c.Calls(), c.Hedged(), f.total()
			var slowest time.Duration
			for b.Loop() {
				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				start := time.Now()
				_, err := c.KeepAlive(ctx, keepReq("holder"))
				slowest = max(slowest, time.Since(start))
				cancel()
				if err != nil {
					b.Fatal(err)
				}
			}
			n := float64(c.Calls() - calls)
			b.ReportMetric(float64(c.Hedged()-hedged)/n, "copies/renewal")
			b.ReportMetric(float64(f.total()-seen)/n-1, "server-extra/renewal")
			b.ReportMetric(float64(slowest.Microseconds())/1000, "slowest-ms")
			b.ReportMetric(float64(c.Replaced()), "replaced")
		})
	}
}
