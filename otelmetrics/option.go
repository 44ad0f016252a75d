package otelmetrics

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/quorum-quest/client-go/client"
	"github.com/quorum-quest/client-go/internal/nilness"
	"github.com/quorum-quest/client-go/internal/observe"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// Errors for bad input to Option. NewQuorumQuestClient returns them
// wrapped, so they match client.ErrInvalidOption (and
// client.ErrInvalidConfig) as well as these.
var (
	// ErrNilProvider: the MeterProvider is nil (or a nil pointer).
	ErrNilProvider = errors.New("otelmetrics: nil MeterProvider")
	// ErrInvalidSetting: a Setting is nil or was given something it cannot
	// use.
	ErrInvalidSetting = errors.New("otelmetrics: invalid setting")
	// ErrInstrument: the provider refused to create an instrument.
	ErrInstrument = errors.New("otelmetrics: creating instrument")
)

// Setting adjusts the metrics Option records.
type Setting func(*settings) error

type settings struct {
	attrs []attribute.KeyValue
}

// WithAttributes adds attributes to every measurement, such as the
// deployment or region. They must be valid, must not reuse this package's
// keys, and must not repeat a key, in one WithAttributes or across several.
func WithAttributes(attrs ...attribute.KeyValue) Setting {
	return func(s *settings) error {
		for _, kv := range attrs {
			if !kv.Valid() {
				return fmt.Errorf("%w: WithAttributes: invalid attribute %q", ErrInvalidSetting, kv.Key)
			}
			switch kv.Key {
			case ServiceKey, DomainKey, ClientIDKey, FromKey, ToKey, EventKey:
				return fmt.Errorf("%w: WithAttributes: %q is set by otelmetrics", ErrInvalidSetting, kv.Key)
			}
			for _, seen := range s.attrs {
				if seen.Key == kv.Key {
					return fmt.Errorf("%w: WithAttributes: %q given twice", ErrInvalidSetting, kv.Key)
				}
			}
			s.attrs = append(s.attrs, kv)
		}
		return nil
	}
}

// Option makes a client record its metrics through provider; see the
// package documentation for what it records. Make one Option per provider
// and give it to every client: the instruments and the collection callback
// are shared, and each client records its own series.
//
// Bad input (a nil provider, a nil or invalid Setting, the same Option
// given twice to one client) makes NewQuorumQuestClient fail with an error
// matching client.ErrInvalidOption and ErrNilProvider, ErrInvalidSetting
// or ErrInstrument.
func Option(provider metric.MeterProvider, opts ...Setting) client.Option {
	m, err := newMeters(provider, opts)
	return observe.ClientOption(func(id observe.Identity) (observe.Observer, error) {
		if err != nil {
			return nil, err
		}
		return m.attach(id)
	}).(client.Option)
}

// meters is what every client given one Option records into: the
// instruments, and the clients whose measurements the collection callback
// gathers.
type meters struct {
	meter               metric.Meter
	attrs               []attribute.KeyValue // from WithAttributes
	leader              metric.Int64ObservableGauge
	transitions         metric.Int64Counter
	acquisitions        metric.Int64Counter
	losses              metric.Int64Counter
	failedRenewals      metric.Int64Counter
	acquisitionDuration metric.Float64Histogram
	leaseRemaining      metric.Float64Histogram

	// regMu orders registering and unregistering the callback, which is
	// registered while any client is attached. It is never taken by the
	// callback, which the SDK runs under a lock that Unregister also takes.
	regMu sync.Mutex
	reg   metric.Registration
	// clients, guarded by regMu, holds the observe.Identity.Client of
	// every live recorder, so that the same Option given twice to one
	// client is refused instead of counting everything twice.
	clients map[any]bool

	mu   sync.Mutex // guards live; the callback takes it
	live map[*recorder]struct{}
}

func newMeters(provider metric.MeterProvider, opts []Setting) (*meters, error) {
	if nilness.IsNil(provider) {
		return nil, ErrNilProvider
	}
	var s settings
	for _, opt := range opts {
		if opt == nil {
			return nil, fmt.Errorf("%w: nil Setting", ErrInvalidSetting)
		}
		if err := opt(&s); err != nil {
			return nil, err
		}
	}
	m := &meters{meter: provider.Meter(ScopeName), attrs: s.attrs, live: map[*recorder]struct{}{}, clients: map[any]bool{}}
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	var err error
	m.leader, err = m.meter.Int64ObservableGauge(LeaderName, metric.WithUnit("{leader}"),
		metric.WithDescription("1 while the client leads, 0 otherwise."))
	add(err)
	m.transitions, err = m.meter.Int64Counter(TransitionsName, metric.WithUnit("{transition}"),
		metric.WithDescription("Transitions of the client's election state machine."))
	add(err)
	m.acquisitions, err = m.meter.Int64Counter(AcquisitionsName, metric.WithUnit("{acquisition}"),
		metric.WithDescription("Times the client became leader."))
	add(err)
	m.losses, err = m.meter.Int64Counter(LossesName, metric.WithUnit("{loss}"),
		metric.WithDescription("Times leadership ended without the client asking: the server refused a renewal, or the lease ran out."))
	add(err)
	m.failedRenewals, err = m.meter.Int64Counter(FailedRenewalsName, metric.WithUnit("{renewal}"),
		metric.WithDescription("Renewals of the lease that did not renew it: failed calls (retried) and refusals (leadership lost)."))
	add(err)
	m.acquisitionDuration, err = m.meter.Float64Histogram(AcquisitionDurationName, metric.WithUnit("s"),
		metric.WithDescription("Time from the first attempt to acquire the lock to holding it."),
		metric.WithExplicitBucketBoundaries(acquisitionBuckets...))
	add(err)
	m.leaseRemaining, err = m.meter.Float64Histogram(LeaseRemainingName, metric.WithUnit("s"),
		metric.WithDescription("Time left on the lease when a renewal of it succeeded."),
		metric.WithExplicitBucketBoundaries(remainingBuckets...))
	add(err)
	if len(errs) > 0 {
		return nil, fmt.Errorf("%w: %w", ErrInstrument, errors.Join(errs...))
	}
	return m, nil
}

// attach starts recording for a new client, registering the callback if
// it is the only one.
func (m *meters) attach(id observe.Identity) (observe.Observer, error) {
	r := newRecorder(m, id)
	m.regMu.Lock()
	defer m.regMu.Unlock()
	if m.clients[id.Client] {
		return nil, fmt.Errorf("%w: the same Option given twice to one client", ErrInvalidSetting)
	}
	if m.reg == nil {
		reg, err := m.meter.RegisterCallback(m.collect, m.leader)
		if err != nil {
			return nil, fmt.Errorf("%w: registering the callback: %w", ErrInstrument, err)
		}
		m.reg = reg
	}
	m.clients[id.Client] = true
	m.mu.Lock()
	m.live[r] = struct{}{}
	m.mu.Unlock()
	return r, nil
}

// detach ends recording for a closed client, whose last measurements were
// flushed, unregistering the callback if no client is left.
func (m *meters) detach(r *recorder) {
	m.regMu.Lock()
	defer m.regMu.Unlock()
	delete(m.clients, r.client)
	m.mu.Lock()
	delete(m.live, r)
	empty := len(m.live) == 0
	m.mu.Unlock()
	if empty && m.reg != nil {
		// An error would leave only an idle callback behind; Close has no
		// one to report it to.
		_ = m.reg.Unregister()
		m.reg = nil
	}
}

// collect is the callback the provider runs at each collection: it
// observes each client's gauge and flushes what each recorded since.
func (m *meters) collect(ctx context.Context, o metric.Observer) error {
	m.mu.Lock()
	recs := make([]*recorder, 0, len(m.live))
	for r := range m.live {
		recs = append(recs, r)
	}
	m.mu.Unlock()
	for _, r := range recs {
		o.ObserveInt64(m.leader, r.flush(ctx), r.observe...)
	}
	return nil
}
