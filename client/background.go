package client

import "context"

// callbackStarted is called first by every callback of the election, on
// the callback's goroutine. It calls e.onCallback, which only tests set, to
// hold a callback there and see that Close waits for it.
func (e *election) callbackStarted() {
	if f := e.onCallback.Load(); f != nil {
		(*f)()
	}
}

// afterFuncLocked is context.AfterFunc for the election's callbacks, which
// run on goroutines of their own: e.callbacks counts them so that Close,
// once nothing can start one, waits for those started (else goleak sees a
// leak). stop prevents f if it has not started; e must not be closed.
func (e *election) afterFuncLocked(ctx context.Context, f func()) (stop func() bool) {
	e.callbacks.Add(1)
	unregister := context.AfterFunc(ctx, func() {
		defer e.callbacks.Done()
		e.callbackStarted()
		f()
	})
	return func() bool {
		if unregister() {
			e.callbacks.Done()
			return true
		}
		return false
	}
}

// awaitAlarmsLocked stops the expiry alarm for good; Close waits for a callback
// that has fired but not yet taken e.mu.
func (e *election) awaitAlarmsLocked() {
	for _, a := range []*alarm{&e.expiry} {
		if a.stop() {
			e.callbacks.Add(1)
			a.awaited = true
		}
	}
}

// alarmDone is called by an alarm's callback, with e.mu held, once the
// alarm has reported firing: the callback's end is what Close waits for.
func (e *election) alarmDone(awaited bool) {
	if awaited {
		e.callbacks.Done()
	}
}
