package qqtest

import (
	"context"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Method names one of the service's three calls, as reported in
// [Call.Method].
type Method string

// The service's methods.
const (
	MethodTryAcquireLock Method = "TryAcquireLock"
	MethodKeepAlive      Method = "KeepAlive"
	MethodReleaseLock    Method = "ReleaseLock"
)

// Call describes one call for a fault function.
type Call struct {
	// Method is the method called.
	Method Method
	// Service, Domain and ClientID are the request's, as the client sent
	// them.
	Service, Domain, ClientID string
}

// Fault is what happens to one call. The zero Fault lets the call through
// untouched. A call goes through these steps in this order: Delay, then
// DropRequest (or a [Server.Partition]), then a [Server.Pause], then Code,
// then the call is applied to the lock state, then DropResponse.
//
// What the client sees, for each fault:
//
//   - Delay: the answer comes Delay later, and the call takes effect on the
//     server Delay later (a lease granted then runs from then).
//   - Code: the call fails at once with that gRPC status code and changes
//     nothing, as a failure in front of the server (a proxy, a load
//     balancer, a server refusing work) would.
//   - DropRequest: the call hangs until the caller's context ends and then
//     fails with codes.DeadlineExceeded or codes.Canceled; it changed
//     nothing.
//   - DropResponse: the same failure as DropRequest, but the call did take
//     effect: a client told "failed" may hold the lock.
//   - IgnoreCancel: the call takes effect even if its caller gave up on it
//     first, possibly after a later call of the same client.
type Fault struct {
	// Delay holds the request back this long (a timer, so virtual under
	// testing/synctest) before it reaches the server; zero or less, not at
	// all. If the caller's context ends first, the call fails with its
	// status and, unless IgnoreCancel is set, is never applied: the
	// request was still queued on the caller's side.
	Delay time.Duration
	// Code, if not codes.OK, fails the call with status.Error(Code, ...)
	// without applying it. Any code is passed on as it is, including ones
	// gRPC does not define, as a misbehaving server might send them.
	Code codes.Code
	// DropRequest loses the request: the call is never applied and blocks
	// until the caller's context is done.
	DropRequest bool
	// DropResponse applies the call, then loses the answer: the call blocks
	// until the caller's context is done. The lock state changed anyway,
	// which is the case that catches clients assuming a failed call did
	// nothing.
	DropResponse bool
	// IgnoreCancel detaches the request from its caller once sent, as a
	// real network and server do: when the caller's context ends, the call
	// returns its status at once, but the request goes on through Delay,
	// partition, pause and Code and is applied when it gets there. With
	// Delay it models a request already on the wire when its caller gave
	// up, arriving after calls the client made later (a release
	// overtaken by the acquisition before it). A request held by a pause
	// waits for [Server.Resume], whether or not the server was closed
	// meanwhile ([Server.Close] stops only the network). Such a request
	// keeps no goroutine, so a synctest bubble may end while it is still
	// on its way.
	IgnoreCancel bool
}

// SetFaultFunc makes f decide a Fault for every later call; nil clears it.
// f is called exactly once per call, when the call reaches the server's
// method and without the server's lock held, so it may keep state (a call
// counter, say) and may call the server's inspection methods. f must be
// safe for concurrent use if calls are concurrent.
func (s *Server) SetFaultFunc(f func(Call) Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faultFunc = f
}

// SetFault makes every later call of every client suffer f, as
// SetFaultFunc with a function that always returns f. For example
// SetFault(Fault{Delay: d}) slows every call down by d, and
// SetFault(Fault{Code: codes.Unavailable}) fails every call with that code
// without applying it, as an unreachable server would. SetFault(Fault{})
// clears it. It replaces any fault function set before; use
// [Server.SetFaultFunc] to pick calls by method or client.
func (s *Server) SetFault(f Fault) {
	if f == (Fault{}) {
		s.SetFaultFunc(nil)
		return
	}
	s.SetFaultFunc(func(Call) Fault { return f })
}

// DropLock loses the lock (service, domain) now, as a store that lost it
// would: its tenure ends and anyone may acquire it. The holder is not told:
// it goes on believing it leads until its next renewal, which the server
// answers as it answers any non-holder (KeepAlive with a -1s lease, so the
// client steps down at once), or until its lease runs out locally; a client
// that acquires meanwhile leads at the same time. Dropping a free lock does
// nothing.
func (s *Server) DropLock(service, domain string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.nowLocked()
	key := lockKey{service, domain}
	if l := s.currentLocked(key, now); l != nil {
		s.endTenureLocked(l, now)
		delete(s.locks, key)
	}
}

// Partition cuts the network between the server and clientID until
// [Server.Heal]: every call the client starts from now on is lost on the
// way (as with [Fault.DropRequest]) and hangs until the caller's context
// ends, then fails with codes.DeadlineExceeded (or codes.Canceled). It
// hangs rather than failing fast with codes.Unavailable because that is
// what a client sees when the network goes silent under an established
// connection, and the harder case: its renewals time out one by one while
// its lease runs down, it must step down when the lease ends locally, and
// the server hands the lock to another client once it expires there. (A
// refused connection fails fast instead; inject that with a fault function
// returning Fault{Code: codes.Unavailable} for the client.)
//
// Calls that already reached the server are not affected. Other clients
// are not affected.
func (s *Server) Partition(clientID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.partitioned[clientID] = true
}

// Heal ends a [Server.Partition] of clientID: its next calls reach the
// server again. Requests lost meanwhile stay lost, and the lock state is
// whatever time made of it: a lease that expired during the partition is
// gone.
func (s *Server) Heal(clientID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.partitioned, clientID)
}

// Pause stalls the whole server, like one stuck in a long garbage
// collection or a store failover: every call blocks before touching the
// lock state until [Server.Resume], and is applied then, with the server
// clock's reading at that time. A call whose context ends first fails with
// codes.DeadlineExceeded (or codes.Canceled) and is not applied. Locks
// still expire by the server clock meanwhile, so a holder whose renewals
// are stalled longer than its TTL loses the lock at Resume. Inspection
// methods (Holder, History, ...) are not paused. Pausing a paused server
// does nothing.
func (s *Server) Pause() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.resume == nil {
		s.resume = make(chan struct{})
	}
}

// Resume lets paused calls proceed. Detached requests a pause held back
// ([Fault.IgnoreCancel]) are applied before Resume returns. Resuming a
// running server does nothing.
func (s *Server) Resume() {
	s.mu.Lock()
	held := s.onResume
	s.onResume = nil
	if s.resume != nil {
		close(s.resume)
		s.resume = nil
	}
	s.mu.Unlock()
	for _, deliver := range held {
		deliver()
	}
}

// errLost marks a request or an answer that was lost: the caller waits
// until its context ends.
var errLost = status.Error(codes.Unknown, "qqtest: lost")

// handle is the one path every service method takes, through a Stub or real
// gRPC alike: it counts the call, decides its fault, and delivers it.
func (s *Server) handle(ctx context.Context, c Call, apply func(now time.Time)) error {
	if s.invalid != nil {
		return statusOf(codes.FailedPrecondition, s.invalid)
	}
	s.mu.Lock()
	s.calls.count(c.Method)
	decide := s.faultFunc
	s.mu.Unlock()

	// Outside the lock: the fault function may call back into the server.
	var f Fault
	if decide != nil {
		f = decide(c)
	}

	var err error
	if f.IgnoreCancel {
		// The request goes on without its caller, on timers and Resume
		// rather than a goroutine of its own: a synctest bubble may end
		// with it still on its way.
		result := make(chan error, 1)
		s.deliverDetached(c, f, apply, func(err error) { result <- err })
		select {
		case err = <-result:
		case <-ctx.Done():
			return contextStatus(ctx)
		}
	} else {
		err = s.deliver(ctx, c, f, apply)
	}
	if err == errLost {
		<-ctx.Done()
		return contextStatus(ctx)
	}
	return err
}

// deliver takes one call through its fault to the lock state while ctx
// lasts. It returns errLost for a lost request or answer, without waiting.
func (s *Server) deliver(ctx context.Context, c Call, f Fault, apply func(now time.Time)) error {
	if f.Delay > 0 {
		t := time.NewTimer(f.Delay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return contextStatus(ctx)
		}
	}

	// A partition is judged when the request would arrive, after any delay.
	s.mu.Lock()
	cut := s.partitioned[c.ClientID]
	paused := s.resume
	s.mu.Unlock()
	if f.DropRequest || cut {
		return errLost
	}
	if paused != nil {
		select {
		case <-paused:
		case <-ctx.Done():
			return contextStatus(ctx)
		}
	}

	if f.Code != codes.OK {
		return status.Errorf(f.Code, "qqtest: injected fault on %s", c.Method)
	}

	s.mu.Lock()
	apply(s.nowLocked())
	s.mu.Unlock()

	if f.DropResponse {
		return errLost
	}
	return nil
}

// deliverDetached takes one call through its fault to the lock state
// without a caller to wait for: after Delay on a timer, then past the
// partition, then held in onResume by a pause, then through Code, apply
// and DropResponse. done gets the outcome, errLost for a lost request or
// answer.
func (s *Server) deliverDetached(c Call, f Fault, apply func(now time.Time), done func(error)) {
	arrive := func() {
		s.mu.Lock()
		switch {
		case f.DropRequest || s.partitioned[c.ClientID]:
			s.mu.Unlock()
			done(errLost)
			return
		case s.resume != nil:
			s.onResume = append(s.onResume, func() { s.serveArrived(c, f, apply, done) })
			s.mu.Unlock()
			return
		}
		s.mu.Unlock()
		s.serveArrived(c, f, apply, done)
	}
	if f.Delay > 0 {
		time.AfterFunc(f.Delay, arrive)
		return
	}
	arrive()
}

// serveArrived is the end of a detached call's way: Code, apply,
// DropResponse.
func (s *Server) serveArrived(c Call, f Fault, apply func(now time.Time), done func(error)) {
	if f.Code != codes.OK {
		done(status.Errorf(f.Code, "qqtest: injected fault on %s", c.Method))
		return
	}
	s.mu.Lock()
	apply(s.nowLocked())
	s.mu.Unlock()
	if f.DropResponse {
		done(errLost)
		return
	}
	done(nil)
}

// contextStatus is the error a gRPC stub returns when ctx ends before the
// answer: DeadlineExceeded or Canceled.
func contextStatus(ctx context.Context) error {
	return status.FromContextError(ctx.Err()).Err()
}

func (c *CallCounts) count(method Method) {
	switch method {
	case MethodTryAcquireLock:
		c.TryAcquireLock++
	case MethodKeepAlive:
		c.KeepAlive++
	case MethodReleaseLock:
		c.ReleaseLock++
	}
}
