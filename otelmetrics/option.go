package otelmetrics

import (
	"errors"
	"fmt"
	"reflect"

	"github.com/quorum-quest/client-go/client"
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
// deployment or region. They must be valid and must not reuse this
// package's keys.
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
		}
		s.attrs = append(s.attrs, attrs...)
		return nil
	}
}

// Option makes a client record its metrics through provider; see the
// package documentation for what it records. The same Option may be given
// to many clients: the instruments are shared and each client records its
// own series.
//
// Bad input (a nil provider, a nil or invalid Setting) makes
// NewQuorumQuestClient fail with an error matching client.ErrInvalidOption
// and ErrNilProvider or ErrInvalidSetting.
func Option(provider metric.MeterProvider, opts ...Setting) client.Option {
	inst, err := newInstruments(provider, opts)
	return client.WithTransitionHookFor(func(id client.Identity) (func(client.Transition), error) {
		if err != nil {
			return nil, err
		}
		return newRecorder(inst, id).observe, nil
	})
}

// instruments are what every client given one Option records into.
type instruments struct {
	attrs               []attribute.KeyValue // from WithAttributes
	leader              metric.Int64Gauge
	transitions         metric.Int64Counter
	acquisitions        metric.Int64Counter
	losses              metric.Int64Counter
	failedRenewals      metric.Int64Counter
	acquisitionDuration metric.Float64Histogram
	leaseRemaining      metric.Float64Histogram
}

func newInstruments(provider metric.MeterProvider, opts []Setting) (*instruments, error) {
	if isNil(provider) {
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
	m := provider.Meter(ScopeName)
	inst := &instruments{attrs: s.attrs}
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	var err error
	inst.leader, err = m.Int64Gauge(LeaderName, metric.WithUnit("{leader}"),
		metric.WithDescription("1 while the client leads, 0 otherwise."))
	add(err)
	inst.transitions, err = m.Int64Counter(TransitionsName, metric.WithUnit("{transition}"),
		metric.WithDescription("Transitions of the client's election state machine."))
	add(err)
	inst.acquisitions, err = m.Int64Counter(AcquisitionsName, metric.WithUnit("{acquisition}"),
		metric.WithDescription("Times the client became leader."))
	add(err)
	inst.losses, err = m.Int64Counter(LossesName, metric.WithUnit("{loss}"),
		metric.WithDescription("Times leadership ended without the client asking: the server refused a renewal, or the lease ran out."))
	add(err)
	inst.failedRenewals, err = m.Int64Counter(FailedRenewalsName, metric.WithUnit("{renewal}"),
		metric.WithDescription("Renewals of the lease that did not renew it: failed calls (retried) and refusals (leadership lost)."))
	add(err)
	inst.acquisitionDuration, err = m.Float64Histogram(AcquisitionDurationName, metric.WithUnit("s"),
		metric.WithDescription("Time from the first attempt to acquire the lock to holding it."),
		metric.WithExplicitBucketBoundaries(acquisitionBuckets...))
	add(err)
	inst.leaseRemaining, err = m.Float64Histogram(LeaseRemainingName, metric.WithUnit("s"),
		metric.WithDescription("Time left on the lease when a renewal of it succeeded."),
		metric.WithExplicitBucketBoundaries(remainingBuckets...))
	add(err)
	if len(errs) > 0 {
		return nil, fmt.Errorf("%w: %w", ErrInstrument, errors.Join(errs...))
	}
	return inst, nil
}

// isNil catches a nil interface and a nil pointer in a non-nil one, which
// the SDK's MeterProvider would dereference.
func isNil(p metric.MeterProvider) bool {
	if p == nil {
		return true
	}
	v := reflect.ValueOf(p)
	switch v.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Func, reflect.Chan, reflect.Interface:
		return v.IsNil()
	}
	return false
}
