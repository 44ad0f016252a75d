package otelmetrics

import (
	"context"
	"testing"
	"time"

	"github.com/quorum-quest/client-go/fsm"
	"github.com/quorum-quest/client-go/internal/observe"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
)

// BenchmarkObserveRenewal is what metrics add to a renewal on the
// client's call path: counting its two transitions (leader -> refreshing
// -> leader) under the client's lock.
func BenchmarkObserveRenewal(b *testing.B) {
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	defer provider.Shutdown(context.Background())
	m, err := newMeters(provider, nil)
	if err != nil {
		b.Fatal(err)
	}
	o, err := m.attach(observe.Identity{Service: "bench", Domain: "d", ClientID: "c"})
	if err != nil {
		b.Fatal(err)
	}
	defer o.Close()
	now := time.Now()
	deadline := now.Add(10 * time.Second)
	send := observe.Transition{From: fsm.Leader, To: fsm.Refreshing, Event: fsm.Acquire, At: now, Deadline: deadline}
	grant := observe.Transition{From: fsm.Refreshing, To: fsm.Leader, Event: fsm.Granted, At: now, Deadline: deadline}
	o.Transition(observe.Transition{From: fsm.Acquiring, To: fsm.Leader, Event: fsm.Granted, At: now, Deadline: deadline})
	b.ReportAllocs()
	for b.Loop() {
		o.Transition(send)
		o.Transition(grant)
	}
	b.StopTimer()
	o.(*recorder).flush(context.Background())
}
