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

// Close returns only once no goroutine of the client is left. Besides the
// keep-alive loops and the hooks, which Close ends and waits for, an
// election runs callbacks on goroutines of their own: context.AfterFunc's
// (the end of a keep-alive's, a Watch's, a caller's or the election's own
// context) and its alarms' timers. Each takes e.mu, or is started by
// Close itself, so one that started while Close ran would otherwise still
// be running when Close returned, a leak for a caller checking with
// goleak. e.callbacks counts the callbacks that have started or may
// still start, and Close waits for it once nothing can start one.

// afterFuncLocked is context.AfterFunc for the election's callbacks: Close waits
// for f once it has started. The returned stop prevents f, if it has not
// started, and may be called any number of times; every registration must
// be stopped or have run by the time Close waits. e must not
// be closed, so that no registration comes after Close's wait.
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
