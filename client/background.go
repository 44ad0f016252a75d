package client

import (
	"context"
	"sync"
)

// background counts what an election runs on goroutines of its own, hooks
// aside, for Close to wait for: renewals, the expiry alarm's function and
// callbacks of contexts. Methods are called with the election's mutex.
type background struct {
	renewals      sync.WaitGroup // see keepAlive
	callbacks     sync.WaitGroup
	untilClose    context.Context // made by a release, ended by Close
	endUntilClose context.CancelFunc
}

// afterFunc is context.AfterFunc, counted: Close waits for the callbacks
// started (goleak would see them). The election must not be closed.
func (b *background) afterFunc(ctx context.Context, f func()) (stop func() bool) {
	b.callbacks.Add(1)
	unregister := context.AfterFunc(ctx, func() {
		defer b.callbacks.Done()
		f()
	})
	return func() bool {
		if unregister() {
			b.callbacks.Done()
			return true
		}
		return false
	}
}

func (b *background) closing() context.Context {
	if b.untilClose == nil {
		b.untilClose, b.endUntilClose = context.WithCancel(context.Background())
	}
	return b.untilClose
}

// close ends closing's context and stops the alarm; one that fired and has
// yet to run is counted.
func (b *background) close(a *alarm) {
	if b.endUntilClose != nil {
		b.endUntilClose()
	}
	if a.stop() {
		b.callbacks.Add(1)
		a.awaited = true
	}
}

// alarmStarted counts an alarm's function, once it holds the mutex, until
// alarmEnded, after its logging: its logger is user code.
func (b *background) alarmStarted(a *alarm) {
	if !a.fired() {
		b.callbacks.Add(1)
	}
}

func (b *background) alarmEnded() { b.callbacks.Done() }
