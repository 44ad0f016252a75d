package benchmark

import (
	"context"
	"fmt"
	"time"

	"github.com/quorum-quest/client-go/client"
	"github.com/quorum-quest/client-go/otelmetrics"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// MetricsAB is what metrics add to TryAcquireLock, measured A/B: two
// clients on one connection, one with otelmetrics (collected after every
// block, as a reader would every minute or so), renew their own locks in
// alternating blocks of calls, so that any drift of a shared machine hits
// both alike. The figures are per call, summed over the blocks.
type MetricsAB struct {
	Calls           int
	WallOff, WallOn time.Duration
	CPUOff, CPUOn   time.Duration
}

// MeasureMetricsAB runs blocks pairs of blocks of perBlock calls each.
func MeasureMetricsAB(l *Loopback, blocks, perBlock int) (MetricsAB, error) {
	ctx := context.Background()
	reader := sdkmetric.NewManualReader()
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer provider.Shutdown(ctx)
	off, err := client.NewQuorumQuestClient("bench", domain(), TTL, "", client.WithConn(l.Conn))
	if err != nil {
		return MetricsAB{}, err
	}
	defer off.Close()
	on, err := client.NewQuorumQuestClient("bench", domain(), TTL, "", client.WithConn(l.Conn), otelmetrics.Option(provider))
	if err != nil {
		return MetricsAB{}, err
	}
	defer on.Close()
	var rm metricdata.ResourceMetrics
	r := MetricsAB{Calls: blocks * perBlock}
	run := func(c *client.QuorumQuestClient, wall, cpu *time.Duration, collect bool) error {
		w, u := time.Now(), CPUTime()
		for range perBlock {
			if ok, err := c.TryAcquireLock(ctx); !ok {
				return fmt.Errorf("TryAcquireLock: %v", err)
			}
		}
		if collect {
			if err := reader.Collect(ctx, &rm); err != nil {
				return err
			}
		}
		*wall += time.Since(w)
		*cpu += CPUTime() - u
		return nil
	}
	for i := range blocks {
		// Alternate which goes first, so that neither always follows the other.
		if i%2 == 0 {
			if err := run(off, &r.WallOff, &r.CPUOff, false); err != nil {
				return r, err
			}
		}
		if err := run(on, &r.WallOn, &r.CPUOn, true); err != nil {
			return r, err
		}
		if i%2 == 1 {
			if err := run(off, &r.WallOff, &r.CPUOff, false); err != nil {
				return r, err
			}
		}
	}
	return r, nil
}
