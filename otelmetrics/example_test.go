package otelmetrics_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/quorum-quest/client-go/client"
	"github.com/quorum-quest/client-go/otelmetrics"
	"github.com/quorum-quest/client-go/qqtest"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// A client with metrics, read back through the SDK. A service would give
// the provider a periodic reader and an exporter instead.
func ExampleOption() {
	reader := sdkmetric.NewManualReader()
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer provider.Shutdown(context.Background())

	srv := qqtest.NewUnstartedServer() // a real address in production
	c, err := client.NewQuorumQuestClient("billing", "production", 15*time.Second, "",
		client.WithServerStub(srv.Stub()), client.WithClientID("replica-1"),
		otelmetrics.Option(provider))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	if _, err := c.TryAcquireLock(context.Background()); err != nil {
		log.Fatal(err)
	}

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		log.Fatal(err)
	}
	for _, m := range rm.ScopeMetrics[0].Metrics {
		switch d := m.Data.(type) {
		case metricdata.Gauge[int64]:
			fmt.Println(m.Name, d.DataPoints[0].Value)
		case metricdata.Sum[int64]:
			if m.Name == otelmetrics.AcquisitionsName {
				fmt.Println(m.Name, d.DataPoints[0].Value)
			}
		}
	}
	// Output:
	// quorumquest.election.leader 1
	// quorumquest.election.acquisitions 1
}
