// Command metrics shows package otelmetrics: two replicas share one
// OpenTelemetry MeterProvider, one leads and hands over to the other, and
// the SDK's stdout exporter prints every data point recorded.
//
//	go run ./examples/metrics [-addr host:port]
//
// With no -addr it runs its own in-process server on loopback.
package main

import (
	"context"
	"flag"
	"io"
	"log"
	"os"
	"time"

	"github.com/quorum-quest/client-go/client"
	"github.com/quorum-quest/client-go/otelmetrics"
	"github.com/quorum-quest/client-go/qqtest"
	"go.opentelemetry.io/otel/exporters/stdout/stdoutmetric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

func main() {
	addr := flag.String("addr", "", "Quorum Quest server host:port (default: an in-process server on loopback)")
	flag.Parse()
	if err := run(*addr, os.Stdout); err != nil {
		log.Fatalf("metrics: %v", err)
	}
}

func run(addr string, out io.Writer) error {
	if addr == "" {
		srv := qqtest.NewUnstartedServer()
		if err := srv.Start(); err != nil {
			return err
		}
		defer srv.Close()
		addr = srv.Addr()
	}
	exporter, err := stdoutmetric.New(stdoutmetric.WithWriter(out), stdoutmetric.WithPrettyPrint())
	if err != nil {
		return err
	}
	// A service would export periodically, with
	// sdkmetric.NewPeriodicReader(exporter); this demo exports once, below.
	reader := sdkmetric.NewManualReader()
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer provider.Shutdown(context.Background())

	ctx := context.Background()
	var replicas []*client.QuorumQuestClient
	for _, id := range []string{"replica-a", "replica-b"} {
		c, err := client.NewQuorumQuestClient("metrics-demo", "example", 3*time.Second, addr,
			client.WithClientID(id), otelmetrics.Option(provider))
		if err != nil {
			return err
		}
		defer c.Close()
		replicas = append(replicas, c)
	}
	a, b := replicas[0], replicas[1]
	if _, err := a.TryAcquireLock(ctx); err != nil { // a leads
		return err
	}
	if _, err := b.TryAcquireLock(ctx); err != nil { // b is denied and waits
		return err
	}
	if err := a.ReleaseLock(ctx); err != nil { // a hands over
		return err
	}
	if _, err := b.TryAcquireLock(ctx); err != nil { // b leads
		return err
	}
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		return err
	}
	return exporter.Export(ctx, &rm)
}
