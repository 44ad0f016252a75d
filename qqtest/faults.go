package qqtest

import (
	"context"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Call describes one call for a fault function.
type Call struct {
	// Method is MethodTryAcquireLock, MethodKeepAlive or MethodReleaseLock.
	Method string
	// Service, Domain and ClientID are the request's, as the client sent
	// them.
	Service, Domain, ClientID string
}

// Fault is what happens to one call. The zero Fault lets the call through
// untouched. The steps run in this order: Delay, DropRequest (or a
// partition), Pause, Code, apply the call, DropResponse.
type Fault struct {
	// Delay holds the call back this long (a timer, so virtual under
	// synctest) before it reaches the server. If the caller's context ends
	// first, the call fails with its status and is not applied.
	Delay time.Duration
	// Code, if not codes.OK, fails the call with status.Error(Code, ...)
	// without applying it.
	Code codes.Code
	// DropRequest loses the request: the call is never applied and blocks
	// until the caller's context is done.
	DropRequest bool
	// DropResponse applies the call, then loses the answer: the call blocks
	// until the caller's context is done. The lock state changed anyway,
	// which is the case that catches clients assuming a failed call did
	// nothing.
	DropResponse bool
}

// SetFaultFunc makes f decide a Fault for every later call; nil clears it.
// f is called exactly once per call, without the server's lock held, so it
// may keep state (a call counter, say) and may call the server's inspection
// methods. f must be safe for concurrent use if calls are concurrent.
func (s *Server) SetFaultFunc(f func(Call) Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faultFunc = f
}

// SetFault makes every later call suffer f, as SetFaultFunc with a function
// that always returns f: SetFault(Fault{Delay: d}) delays every call by d,
// SetFault(Fault{Code: codes.Unavailable}) fails every call with that code
// without applying it. SetFault(Fault{}) clears it. It replaces any fault
// function set before.
func (s *Server) SetFault(f Fault) {
	if f == (Fault{}) {
		s.SetFaultFunc(nil)
		return
	}
	s.SetFaultFunc(func(Call) Fault { return f })
}

// DropLock loses the lock (service, domain) now, as a store that lost it
// would: its tenure ends, the holder is not told, and its next KeepAlive
// answers -1s while any client may acquire the lock. Dropping a free lock
// does nothing.
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

// Partition cuts clientID off: its calls behave as with DropRequest until
// [Server.Heal]. Calls already past the network are not affected.
func (s *Server) Partition(clientID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.partitioned[clientID] = true
}

// Heal ends a [Server.Partition] of clientID. Requests already dropped stay
// lost.
func (s *Server) Heal(clientID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.partitioned, clientID)
}

// Pause stalls the server: every call blocks before touching lock state
// until [Server.Resume] or until its context is done, like a server stuck in
// a long GC pause or a store failover. Pausing a paused server does nothing.
func (s *Server) Pause() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.resume == nil {
		s.resume = make(chan struct{})
	}
}

// Resume lets paused calls proceed. Resuming a running server does nothing.
func (s *Server) Resume() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.resume != nil {
		close(s.resume)
		s.resume = nil
	}
}

// handle is the one path every service method takes, through a Stub or real
// gRPC alike: it counts the call, runs its fault, and applies it with the
// server clock's reading while holding s.mu.
func (s *Server) handle(ctx context.Context, c Call, apply func(now time.Time)) error {
	s.mu.Lock()
	s.calls.count(c.Method)
	decide := s.faultFunc
	s.mu.Unlock()

	// Outside the lock: the fault function may call back into the server.
	var f Fault
	if decide != nil {
		f = decide(c)
	}

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
		<-ctx.Done()
		return contextStatus(ctx)
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
		<-ctx.Done()
		return contextStatus(ctx)
	}
	return nil
}

// contextStatus is the error a gRPC stub returns when ctx ends before the
// answer: DeadlineExceeded or Canceled.
func contextStatus(ctx context.Context) error {
	return status.FromContextError(ctx.Err()).Err()
}

func (c *CallCounts) count(method string) {
	switch method {
	case MethodTryAcquireLock:
		c.TryAcquireLock++
	case MethodKeepAlive:
		c.KeepAlive++
	case MethodReleaseLock:
		c.ReleaseLock++
	}
}
