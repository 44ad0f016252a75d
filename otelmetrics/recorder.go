package otelmetrics

import (
	"context"
	"time"

	"github.com/quorum-quest/client-go/client"
	"github.com/quorum-quest/client-go/fsm"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// recorder turns one client's transitions into measurements. Its hook,
// observe, is called by the client with every transition in order and
// never concurrently (client.WithTransitionHook), so its state needs no
// lock.
type recorder struct {
	inst *instruments
	base []attribute.KeyValue // service, domain, client ID, WithAttributes

	// The measurement options are built once per client and attribute
	// combination: an attribute.Set costs allocations and sorting, and a
	// one-element option slice built per call would escape to the heap.
	add       []metric.AddOption
	record    []metric.RecordOption
	byEvent   map[string][]metric.AddOption // losses and failed renewals
	byChange  map[change][]metric.AddOption // transitions
	ctx       context.Context
	leading   bool
	deadline  time.Time // the lease's deadline after the previous transition
	attempted time.Time // start of the current attempt to acquire; zero when none
}

type change struct{ from, to, event string }

func newRecorder(inst *instruments, id client.Identity) *recorder {
	base := append([]attribute.KeyValue{
		ServiceKey.String(id.Service),
		DomainKey.String(id.Domain),
		ClientIDKey.String(id.ClientID),
	}, inst.attrs...)
	set := metric.WithAttributeSet(attribute.NewSet(base...))
	r := &recorder{
		inst:     inst,
		base:     base,
		add:      []metric.AddOption{set},
		record:   []metric.RecordOption{set},
		byEvent:  map[string][]metric.AddOption{},
		byChange: map[change][]metric.AddOption{},
		ctx:      context.Background(),
	}
	// The gauge exists, at 0, from the start.
	r.inst.leader.Record(r.ctx, 0, r.record...)
	return r
}

// with returns the options for the base attributes and kvs.
func (r *recorder) with(kvs ...attribute.KeyValue) []metric.AddOption {
	all := append(append(make([]attribute.KeyValue, 0, len(r.base)+len(kvs)), r.base...), kvs...)
	return []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(all...))}
}

func (r *recorder) eventOpts(event string) []metric.AddOption {
	opts, ok := r.byEvent[event]
	if !ok {
		opts = r.with(EventKey.String(event))
		r.byEvent[event] = opts
	}
	return opts
}

func (r *recorder) changeOpts(t client.Transition, event string) []metric.AddOption {
	k := change{string(t.From), string(t.To), event}
	opts, ok := r.byChange[k]
	if !ok {
		opts = r.with(FromKey.String(k.from), ToKey.String(k.to), EventKey.String(event))
		r.byChange[k] = opts
	}
	return opts
}

// The events the recorder tells apart.
var (
	granted = string(fsm.Granted)
	denied  = string(fsm.Denied)
	failed  = string(fsm.Failed)
	release = string(fsm.Release)
)

func (r *recorder) observe(t client.Transition) {
	event := string(t.Event)
	in := r.inst
	in.transitions.Add(r.ctx, 1, r.changeOpts(t, event)...)

	if leading := t.To.Leading(); leading != r.leading {
		r.leading = leading
		v := int64(0)
		if leading {
			v = 1
		}
		in.leader.Record(r.ctx, v, r.record...)
	}

	switch {
	case t.From == client.StateAcquiring && t.To == client.StateLeader:
		in.acquisitions.Add(r.ctx, 1, r.add...)
		if !r.attempted.IsZero() {
			in.acquisitionDuration.Record(r.ctx, t.At.Sub(r.attempted).Seconds(), r.record...)
		}
		r.attempted = time.Time{}
	case t.From == client.StateRefreshing && event == granted:
		in.leaseRemaining.Record(r.ctx, max(r.deadline.Sub(t.At), 0).Seconds(), r.record...)
	case t.From == client.StateRefreshing && (event == failed || event == denied):
		in.failedRenewals.Add(r.ctx, 1, r.eventOpts(event)...)
	}
	if t.To == client.StateLost {
		in.losses.Add(r.ctx, 1, r.eventOpts(event)...)
	}

	switch {
	case t.To == client.StateAcquiring && r.attempted.IsZero():
		r.attempted = t.At // Follower or Lost -> Acquiring starts trying
	case event == release || t.To == client.StateClosed:
		r.attempted = time.Time{} // given up
	}
	r.deadline = t.Deadline
}
