package otelmetrics_test

import (
	"syscall"
	"testing"
	"time"

	"github.com/quorum-quest/client-go/client"
	"github.com/quorum-quest/client-go/otelmetrics"
	"github.com/quorum-quest/client-go/qqtest"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
)

// BenchmarkRenewalInMemory renews a held lock with TryAcquireLock against
// the in-memory stub, where no network hides the client's own work: the
// differences between the sub-benchmarks are what a hook and the metrics
// cost per renewal (two transitions), on the caller and the hook
// goroutine together.
func BenchmarkRenewalInMemory(b *testing.B) {
	sdk := func(b *testing.B) client.Option {
		provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
		b.Cleanup(func() { provider.Shutdown(bg) })
		return otelmetrics.Option(provider)
	}
	for _, bc := range []struct {
		name string
		opts func(*testing.B) []client.Option
	}{
		{"plain", func(*testing.B) []client.Option { return nil }},
		{"empty-hook", func(*testing.B) []client.Option {
			return []client.Option{client.WithTransitionHook(func(client.Transition) {})}
		}},
		{"metrics", func(b *testing.B) []client.Option { return []client.Option{sdk(b)} }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			opts := append(bc.opts(b), client.WithServerStub(qqtest.NewUnstartedServer().Stub()))
			c, err := client.NewQuorumQuestClient(service, domain, ttl, "", opts...)
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			b.ReportAllocs()
			before := cpuTime()
			for b.Loop() {
				if ok, err := c.TryAcquireLock(bg); !ok {
					b.Fatal(err)
				}
			}
			c.Close() // the hook goroutine's work counts too
			b.ReportMetric(float64(cpuTime()-before)/float64(b.N), "cpu-ns/op")
		})
	}
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
