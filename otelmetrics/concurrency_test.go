package otelmetrics_test

import (
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/quorum-quest/client-go/client"
	"github.com/quorum-quest/client-go/otelmetrics"
	"github.com/quorum-quest/client-go/qqtest"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
)

// Collections running while a client renews back to back neither lose nor
// double-count a transition: after Close, the counters equal what a
// transition hook saw. Real goroutines, so the race detector watches the
// recorder's handover between the client's lock and the provider.
func TestConcurrentCollection(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer provider.Shutdown(bg)

	var mu sync.Mutex
	seen := map[string]int{}
	renewed := make(chan struct{}, 1)
	hook := func(tr client.Transition) {
		mu.Lock()
		defer mu.Unlock()
		seen[change("c", string(tr.From), string(tr.To), string(tr.Event))]++
		if tr.Event == "granted" {
			select {
			case renewed <- struct{}{}:
			default:
			}
		}
	}
	c, err := client.NewQuorumQuestClient(service, domain, ttl, "",
		client.WithServerStub(qqtest.NewUnstartedServer().Stub()), client.WithClientID("c"),
		client.WithKeepAliveInterval(time.Millisecond), client.WithTransitionHook(hook),
		otelmetrics.Option(provider, otelmetrics.WithAttributes(attribute.String("deployment.environment.name", "test"))))
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := c.TryAcquireLock(bg); !ok {
		t.Fatal(err)
	}
	if err := c.StartKeepAlive(bg); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(time.Minute)
	for i := 0; i < 200; i++ { // collect while renewals run
		collect(t, reader)
		select {
		case <-renewed:
		case <-deadline:
			t.Fatalf("only %d renewals in a minute", i)
		}
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	got := collect(t, reader)[otelmetrics.TransitionsName]
	mu.Lock()
	defer mu.Unlock()
	want := map[string]string{}
	for k, n := range seen {
		want[k] = strconv.Itoa(n)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("transitions counted\n  %v\nthe hook saw\n  %v", got, want)
	}
}
