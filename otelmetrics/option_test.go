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
		{"key repeated", otelmetrics.Option(noop.NewMeterProvider(), otelmetrics.WithAttributes(attribute.String("region", "eu"), attribute.String("region", "us"))), otelmetrics.ErrInvalidSetting},
		{"key repeated across settings", otelmetrics.Option(noop.NewMeterProvider(),
			otelmetrics.WithAttributes(attribute.String("region", "eu")), otelmetrics.WithAttributes(attribute.String("region", "us"))), otelmetrics.ErrInvalidSetting},
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

// The same Option given twice to one client is refused (it would count
// everything twice), leaving nothing behind; the Option still serves other
// clients, one each.
func TestOptionTwiceToOneClient(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer provider.Shutdown(bg)
	opt := otelmetrics.Option(provider)
	stub := client.WithServerStub(qqtest.NewUnstartedServer().Stub())
	_, err := client.NewQuorumQuestClient(service, domain, ttl, "", stub, opt, opt)
	if !errors.Is(err, otelmetrics.ErrInvalidSetting) || !errors.Is(err, client.ErrInvalidOption) {
		t.Fatalf("err = %v, want ErrInvalidSetting and client.ErrInvalidOption", err)
	}
	if got := collect(t, reader); len(got) != 0 {
		t.Fatalf("the refused client reports %v", got)
	}
	c, err := client.NewQuorumQuestClient(service, domain, ttl, "", stub, opt, client.WithClientID("replica-a"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if ok, err := c.TryAcquireLock(bg); !ok {
		t.Fatalf("TryAcquireLock = false, %v", err)
	}
	acquisitions := collect(t, reader)[otelmetrics.AcquisitionsName]
	if len(acquisitions) != 1 {
		t.Fatalf("acquisitions %v, want one series", acquisitions)
	}
	for _, v := range acquisitions {
		if v != "1" {
			t.Fatalf("acquisitions %v, want 1", v)
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
