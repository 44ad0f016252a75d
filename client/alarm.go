package client

import "time"

// alarm is the timer of the lease deadline, which each renewal moves and
// which is seldom reached. It fires no later than the
// earliest deadline set since it last fired, and is moved only for an
// earlier one; whoever it calls looks at the deadline that holds then, acts
// if it has passed and otherwise sets the alarm again for it.
//
// An alarm belongs to its election: every method is called with e.mu held.
type alarm struct {
	timer *time.Timer
	at    time.Time // when timer fires; zero once it has fired or stopped
	// awaited is set by Close for a callback that fired before Close
	// stopped the alarm and has yet to run (background.go).
	awaited bool
}

// newAlarm returns a stopped alarm that calls f, on a goroutine of its own.
func newAlarm(f func()) alarm {
	t := time.AfterFunc(time.Hour, f)
	t.Stop()
	return alarm{timer: t}
}

// setBy makes the alarm fire by deadline d at the latest.
func (a *alarm) setBy(d time.Time) {
	if a.at.IsZero() || d.Before(a.at) {
		a.at = d
		a.timer.Reset(time.Until(d))
	}
}

// fired is called by the alarm's function, before it looks at what is due.
// It reports whether Close waits for the function to end.
func (a *alarm) fired() (awaited bool) {
	a.at = time.Time{}
	awaited, a.awaited = a.awaited, false
	return awaited
}

// stop stops the alarm, for good unless it is set again, and reports
// whether it had fired with its function still to call fired: at is set
// until then, and the function needs e.mu, which the caller holds.
func (a *alarm) stop() (pending bool) {
	pending = !a.timer.Stop() && !a.at.IsZero()
	a.at = time.Time{}
	return pending
}
