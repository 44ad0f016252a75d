package otelmetrics_test

import (
	"errors"
	"testing"

	"github.com/quorum-quest/client-go/client"
	"github.com/quorum-quest/client-go/otelmetrics"
	"github.com/quorum-quest/client-go/qqtest"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
)

func newWith(opt client.Option) (*client.QuorumQuestClient, error) {
	return client.NewQuorumQuestClient(service, domain, ttl, "", client.WithServerStub(qqtest.NewUnstartedServer().Stub()), opt)
}

// refusingProvider's meter fails to create counters.
type refusingProvider struct{ noop.MeterProvider }

func (refusingProvider) Meter(string, ...metric.MeterOption) metric.Meter { return refusingMeter{} }

type refusingMeter struct{ noop.Meter }

var errRefused = errors.New("refused")

func (refusingMeter) Int64Counter(string, ...metric.Int64CounterOption) (metric.Int64Counter, error) {
	return nil, errRefused
}

// Bad input fails NewQuorumQuestClient with an error that matches the
// client's ErrInvalidOption and this package's error, never a panic.
func TestBadInput(t *testing.T) {
	var nilSDK *sdkmetric.MeterProvider
	for _, tc := range []struct {
		name string
		opt  client.Option
		want error
	}{
		{"nil provider", otelmetrics.Option(nil), otelmetrics.ErrNilProvider},
		{"nil SDK provider", otelmetrics.Option(nilSDK), otelmetrics.ErrNilProvider},
		{"nil setting", otelmetrics.Option(noop.NewMeterProvider(), nil), otelmetrics.ErrInvalidSetting},
		{"invalid attribute", otelmetrics.Option(noop.NewMeterProvider(), otelmetrics.WithAttributes(attribute.KeyValue{})), otelmetrics.ErrInvalidSetting},
		{"reused key", otelmetrics.Option(noop.NewMeterProvider(), otelmetrics.WithAttributes(otelmetrics.ClientIDKey.String("x"))), otelmetrics.ErrInvalidSetting},
		{"instrument refused", otelmetrics.Option(refusingProvider{}), otelmetrics.ErrInstrument},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := newWith(tc.opt)
			if err == nil {
				c.Close()
				t.Fatal("NewQuorumQuestClient succeeded")
			}
			for _, target := range []error{tc.want, client.ErrInvalidOption, client.ErrInvalidConfig} {
				if !errors.Is(err, target) {
					t.Errorf("error %q does not match %q", err, target)
				}
			}
		})
	}
	if _, err := newWith(otelmetrics.Option(refusingProvider{})); !errors.Is(err, errRefused) {
		t.Errorf("error %v does not carry the provider's", err)
	}
}

// One Option serves many clients, each with its own series, and a no-op
// provider records nothing without failing.
func TestOptionShared(t *testing.T) {
	opt := otelmetrics.Option(noop.NewMeterProvider())
	for range 2 {
		c, err := newWith(opt)
		if err != nil {
			t.Fatal(err)
		}
		if ok, err := c.TryAcquireLock(bg); !ok || err != nil {
			t.Fatalf("TryAcquireLock = %v, %v", ok, err)
		}
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// A client whose construction fails after its metrics were set up leaves
// nothing behind: no gauge series, no callback.
func TestFailedConstructionDetaches(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer provider.Shutdown(bg)
	_, err := client.NewQuorumQuestClient(service, domain, ttl, "", client.WithServerStub(qqtest.NewUnstartedServer().Stub()),
		otelmetrics.Option(provider), otelmetrics.Option(nil))
	if !errors.Is(err, otelmetrics.ErrNilProvider) {
		t.Fatalf("err = %v, want ErrNilProvider", err)
	}
	if got := collect(t, reader); len(got) != 0 {
		t.Fatalf("a client that was never made reports %v", got)
	}
}
