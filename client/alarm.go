package client

import "time"

// alarm is the timer of the lease deadline, which every renewal moves and
// which is seldom reached: it is moved only for an earlier deadline, and
// its function sets it again for a later one that holds when it fires.
// Its methods are called with the election's mutex held.
type alarm struct {
	timer *time.Timer
	at    time.Time // zero once fired or stopped
	// awaited: Close stopped the alarm after it fired, and waits for its
	// function, which has yet to run.
	awaited bool
}

func newAlarm(f func()) alarm {
	t := time.AfterFunc(time.Hour, f)
	t.Stop()
	return alarm{timer: t}
}

// setBy makes the alarm fire by d at the latest.
func (a *alarm) setBy(d time.Time) {
	if a.at.IsZero() || d.Before(a.at) {
		a.at = d
		a.timer.Reset(time.Until(d))
	}
}

// fired is called first by the alarm's function; it reports whether Close
// already counted the function.
func (a *alarm) fired() (awaited bool) {
	a.at = time.Time{}
	awaited, a.awaited = a.awaited, false
	return awaited
}

// stop stops the alarm and reports whether its function is pending: fired
// and not yet run, since it needs the mutex the caller holds.
func (a *alarm) stop() (pending bool) {
	pending = !a.timer.Stop() && !a.at.IsZero()
	a.at = time.Time{}
	return pending
}
