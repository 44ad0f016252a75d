package otelmetrics

import (
	"context"
	"sync"
	"time"

	"github.com/quorum-quest/client-go/fsm"
	"github.com/quorum-quest/client-go/internal/observe"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// recorder is one client's observer. Transition runs under the client's
// lock on every transition, so it only counts, in memory of its own; the
// provider sees the counts when it collects (meters.collect) and when the
// client closes (Close), never on the client's call path. This is what
// keeps metrics nearly free per call: recording each transition into the
// SDK directly cost about 1µs per renewal, and a hook goroutine another
// 1µs (docs/performance.md).
type recorder struct {
	m      *meters
	client any // observe.Identity.Client

	// Built once per client and attribute combination: an attribute.Set
	// costs allocations and sorting, and an option slice built per call
	// would escape to the heap.
	base    []attribute.KeyValue
	add     []metric.AddOption
	record  []metric.RecordOption
	observe []metric.ObserveOption

	mu sync.Mutex // between Transition and the flushes
	// leading is the gauge's value.
	leading bool
	// What was counted since the last flush.
	transitions    []*count // one per (from, to, event) seen, in order of first sight
	acquisitions   int64
	losses         []*count // by event
	failedRenewals []*count // by event
	// Histogram values since the last flush, at most maxPending each.
	acquisitionWaits, leaseRemaining []float64

	// The state Transition keeps between transitions (under mu as well).
	deadline  time.Time // the lease's deadline after the previous transition
	attempted time.Time // start of the current attempt to acquire; zero when none
}

// count is a counter's pending increments for one attribute set.
type count struct {
	from, to fsm.State
	event    fsm.Event
	opts     []metric.AddOption
	n        int64
}

// maxPending bounds the histogram values kept between collections, for a
// provider that is never collected: about 5.5 hours of renewals at the
// default 15s TTL. Beyond it values are dropped, not memory.
const maxPending = 4096

func newRecorder(m *meters, id observe.Identity) *recorder {
	base := append([]attribute.KeyValue{
		ServiceKey.String(id.Service),
		DomainKey.String(id.Domain),
		ClientIDKey.String(id.ClientID),
	}, m.attrs...)
	set := metric.WithAttributeSet(attribute.NewSet(base...))
	return &recorder{
		m:       m,
		client:  id.Client,
		base:    base,
		add:     []metric.AddOption{set},
		record:  []metric.RecordOption{set},
		observe: []metric.ObserveOption{set},
	}
}

// with returns the options for the base attributes and kvs.
func (r *recorder) with(kvs ...attribute.KeyValue) []metric.AddOption {
	all := append(append(make([]attribute.KeyValue, 0, len(r.base)+len(kvs)), r.base...), kvs...)
	return []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(all...))}
}

// bump counts one in the entry of counts for (from, to, event), adding it
// on first sight; from and to are empty for counts by event only. A
// client sees few distinct entries, so a linear search beats a map.
func (r *recorder) bump(counts *[]*count, from, to fsm.State, event fsm.Event) {
	for _, c := range *counts {
		if c.event == event && c.from == from && c.to == to {
			c.n++
			return
		}
	}
	var opts []metric.AddOption
	if from == "" {
		opts = r.with(EventKey.String(string(event)))
	} else {
		opts = r.with(FromKey.String(string(from)), ToKey.String(string(to)), EventKey.String(string(event)))
	}
	*counts = append(*counts, &count{from: from, to: to, event: event, opts: opts, n: 1})
}

func (r *recorder) pend(values *[]float64, v float64) {
	if len(*values) >= maxPending {
		return
	}
	*values = append(*values, v)
}

// Transition counts t. It runs under the client's lock: memory only.
func (r *recorder) Transition(t observe.Transition) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.bump(&r.transitions, t.From, t.To, t.Event)
	r.leading = t.To.Leading()

	switch {
	case t.From == fsm.Acquiring && t.To == fsm.Leader:
		r.acquisitions++
		if !r.attempted.IsZero() {
			r.pend(&r.acquisitionWaits, t.At.Sub(r.attempted).Seconds())
		}
		r.attempted = time.Time{}
	case t.From == fsm.Refreshing && t.Event == fsm.Granted:
		r.pend(&r.leaseRemaining, max(r.deadline.Sub(t.At), 0).Seconds())
	case t.From == fsm.Refreshing && (t.Event == fsm.Failed || t.Event == fsm.Denied):
		r.bump(&r.failedRenewals, "", "", t.Event)
	}
	if t.To == fsm.Lost {
		r.bump(&r.losses, "", "", t.Event)
	}

	switch {
	case t.To == fsm.Acquiring && r.attempted.IsZero():
		r.attempted = t.At // Follower or Lost -> Acquiring starts trying
	case t.Event == fsm.Release || t.To == fsm.Closed:
		r.attempted = time.Time{} // given up
	}
	r.deadline = t.Deadline
}

// GaveUp ends the attempt being timed: the next acquisition is timed from
// the attempt after it. It runs under the client's lock: memory only.
func (r *recorder) GaveUp() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.attempted = time.Time{}
}

// pending is what a flush takes from the recorder.
type pending struct {
	transitions, losses, failedRenewals []count
	acquisitions                        int64
	acquisitionWaits, leaseRemaining    []float64
}

// take moves the pending measurements out, so that the provider is called
// without the recorder's lock (which the client's lock waits for).
func (r *recorder) take() (p pending, leading int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	drain := func(cs []*count) []count {
		var out []count
		for _, c := range cs {
			if c.n > 0 {
				out = append(out, *c)
				c.n = 0
			}
		}
		return out
	}
	p.transitions = drain(r.transitions)
	p.losses = drain(r.losses)
	p.failedRenewals = drain(r.failedRenewals)
	p.acquisitions, r.acquisitions = r.acquisitions, 0
	p.acquisitionWaits, r.acquisitionWaits = r.acquisitionWaits, nil
	p.leaseRemaining, r.leaseRemaining = r.leaseRemaining, nil
	if r.leading {
		leading = 1
	}
	return p, leading
}

// flush hands the pending measurements to the provider and returns the
// gauge's value.
func (r *recorder) flush(ctx context.Context) (leading int64) {
	p, leading := r.take()
	m := r.m
	for _, c := range p.transitions {
		m.transitions.Add(ctx, c.n, c.opts...)
	}
	if p.acquisitions > 0 {
		m.acquisitions.Add(ctx, p.acquisitions, r.add...)
	}
	for _, c := range p.losses {
		m.losses.Add(ctx, c.n, c.opts...)
	}
	for _, c := range p.failedRenewals {
		m.failedRenewals.Add(ctx, c.n, c.opts...)
	}
	for _, v := range p.acquisitionWaits {
		m.acquisitionDuration.Record(ctx, v, r.record...)
	}
	for _, v := range p.leaseRemaining {
		m.leaseRemaining.Record(ctx, v, r.record...)
	}
	return leading
}

// Close flushes the client's last measurements and stops observing its
// gauge: a closed client has no leadership to report.
func (r *recorder) Close() {
	r.flush(context.Background())
	r.m.detach(r)
}
