package otelmetrics_test

import (
	"syscall"
	"testing"
	"time"

	"github.com/quorum-quest/client-go/client"
	"github.com/quorum-quest/client-go/otelmetrics"
	"github.com/quorum-quest/client-go/qqtest"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// BenchmarkRenewalInMemory renews a held lock with TryAcquireLock against
// the in-memory stub, where no network hides the client's own work: the
// differences between the sub-benchmarks are what a transition hook and
// the metrics cost per renewal (two transitions), CPU on every goroutine
// of the process included (cpu-ns/op). With metrics the provider is
// collected every 1000 renewals, so that its share (the histogram's
// values, the flushes) is counted too.
func BenchmarkRenewalInMemory(b *testing.B) {
	var reader *sdkmetric.ManualReader // collected every 1000 renewals when set
	sdk := func(b *testing.B) client.Option {
		reader = sdkmetric.NewManualReader()
		provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
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
			reader = nil
			opts := append(bc.opts(b), client.WithServerStub(qqtest.NewUnstartedServer().Stub()))
			c, err := client.NewQuorumQuestClient(service, domain, ttl, "", opts...)
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			b.ReportAllocs()
			var rm metricdata.ResourceMetrics
			before := cpuTime()
			for i := 0; b.Loop(); i++ {
				if ok, err := c.TryAcquireLock(bg); !ok {
					b.Fatal(err)
				}
				if reader != nil && i%1000 == 999 {
					if err := reader.Collect(bg, &rm); err != nil {
						b.Fatal(err)
					}
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
