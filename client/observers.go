package client

import (
	"context"
	"fmt"
	"time"

	"github.com/quorum-quest/client-go/internal/observe"
)

// observers learn of an election's transitions: hooks, Watch channels, the
// contexts Run leads under, metrics. An election with none has a nil
// *observers, which does nothing: a plain held election pays for none.
type observers struct {
	hooks          []*hookRunner
	metrics        []observe.Observer
	watchers       map[*watcher]struct{}
	leadershipEnds []context.CancelCauseFunc
}

func newObservers(cfg *config) *observers {
	if len(cfg.hooks) == 0 && len(cfg.observers) == 0 {
		return nil
	}
	o := &observers{metrics: cfg.observers}
	for _, h := range cfg.hooks {
		o.hooks = append(o.hooks, newHookRunner(h, cfg.logger))
	}
	return o
}

// timed: someone reads t.At (the clock is a fair part of a call's cost).
func (o *observers) timed() bool {
	return o != nil && len(o.hooks)+len(o.watchers)+len(o.metrics) != 0
}

func (o *observers) publish(t Transition, deadline time.Time) {
	if o == nil {
		return
	}
	if t.From.Leading() && !t.To.Leading() {
		o.endLeadership(t)
	}
	for _, h := range o.hooks {
		h.push(t)
	}
	for w := range o.watchers {
		w.send(t)
	}
	for _, m := range o.metrics {
		m.Transition(observe.Transition{From: t.From, To: t.To, Event: t.Event, At: t.At, Deadline: deadline})
	}
}

func (o *observers) gaveUp() {
	if o == nil {
		return
	}
	for _, m := range o.metrics {
		m.GaveUp()
	}
}

func (o *observers) leadUntilEnd(cancel context.CancelCauseFunc) {
	o.leadershipEnds = append(o.leadershipEnds, cancel)
}

func (o *observers) endLeadership(t Transition) {
	cause := fmt.Errorf("%w: %s -> %s on %s", ErrNotLeader, t.From, t.To, t.Event)
	if t.Err != nil {
		cause = fmt.Errorf("%w: %s -> %s on %s: %w", ErrNotLeader, t.From, t.To, t.Event, t.Err)
	}
	for _, cancel := range o.leadershipEnds {
		cancel(cause)
	}
	o.leadershipEnds = nil
}

func (o *observers) watch(w *watcher) {
	if o.watchers == nil {
		o.watchers = map[*watcher]struct{}{}
	}
	o.watchers[w] = struct{}{}
}

func (o *observers) unwatch(w *watcher) {
	if _, ok := o.watchers[w]; !ok {
		return
	}
	delete(o.watchers, w)
	w.stop()
	close(w.ch)
}

func (o *observers) unwatchAll() {
	if o == nil {
		return
	}
	for w := range o.watchers {
		o.unwatch(w)
	}
}

// waitHooks is for Close, once nothing can be published.
func (o *observers) waitHooks() {
	if o == nil {
		return
	}
	for _, h := range o.hooks {
		h.wait()
	}
}
