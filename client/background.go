package client

import (
	"context"
	"sync"
)

// background counts what an election runs on goroutines of its own, hooks
// aside, so that Close can wait for it: renewals (each on its timer's
// goroutine), the expiry alarm's function and the callbacks of contexts.
// Its methods are called with the election's mutex held, but for the waits.
type background struct {
	renewals  sync.WaitGroup // see keepAlive
	callbacks sync.WaitGroup
	// untilClose is made by the first release and ended by Close, which
	// cuts short the releases in flight.
	untilClose    context.Context
	endUntilClose context.CancelFunc
}

// afterFunc is context.AfterFunc, counted: Close, once nothing can start a
// callback, waits for those started. stop prevents f if it has not
// started. The election must not be closed.
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

// closing returns the context that Close ends.
func (b *background) closing() context.Context {
	if b.untilClose == nil {
		b.untilClose, b.endUntilClose = context.WithCancel(context.Background())
	}
	return b.untilClose
}

// close ends closing's context and stops the alarm for good. An alarm that
// has fired but not yet called fired is counted, for Close to wait for.
func (b *background) close(a *alarm) {
	if b.endUntilClose != nil {
		b.endUntilClose()
	}
	if a.stop() {
		b.callbacks.Add(1)
		a.awaited = true
	}
}

// alarmStarted is called by an alarm's function once it holds the mutex:
// from then until alarmEnded, after its log records are written, Close
// waits for it. Close counted it already if it found it pending.
func (b *background) alarmStarted(a *alarm) {
	if !a.fired() {
		b.callbacks.Add(1)
	}
}

func (b *background) alarmEnded() { b.callbacks.Done() }
