package qqtest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/quorum-quest/client-go/pb"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/durationpb"
)

// DefaultTTL is the TTL the server uses when a request's ttl is 0 or less,
// matching the real server's sample configuration.
const DefaultTTL = 15 * time.Second

// Server is an in-memory LeaderElectionService. Its zero value is not usable;
// create one with [NewServer] or [NewUnstartedServer]. All methods are safe
// for concurrent use.
type Server struct {
	defaultTTL time.Duration
	clock      func() time.Time
	grpcOpts   []grpc.ServerOption
	invalid    error // the first bad input, see ErrInvalidArgument

	serving serving // see serve.go

	mu          sync.Mutex
	offset      time.Duration // added to clock(), see SetClockOffset
	locks       map[lockKey]*lock
	history     []Tenure
	calls       CallCounts
	faultFunc   func(Call) Fault
	partitioned map[string]bool
	resume      chan struct{} // non-nil while paused; Resume closes it
	// onResume holds the detached requests a pause holds back, which
	// Resume delivers.
	onResume []func()
}

// ErrInvalidArgument reports bad input to the package: a nil option,
// clock, listener, context or request, a non-positive default TTL, or
// NewServer without a testing.TB. A server built with bad input refuses to
// serve: [NewServer] fails the test (or, given no testing.TB to fail,
// returns the server unstarted), [Server.Start] and [Server.Serve] return
// the error, and every call through [Server.Stub] fails with
// codes.FailedPrecondition and an error that matches this one.
var ErrInvalidArgument = errors.New("qqtest: invalid argument")

// Option configures a [Server] built by [NewServer] or
// [NewUnstartedServer].
type Option func(*Server)

// WithDefaultTTL sets the TTL used when a request's ttl is 0 or less; it
// must be positive. The default is [DefaultTTL] (15 s), like the real
// server, so that a client which truncates a sub-second TTL to 0 gets the
// same surprise as in production.
func WithDefaultTTL(d time.Duration) Option {
	return func(s *Server) {
		if d <= 0 {
			s.invalidate("WithDefaultTTL(%v): not positive", d)
			return
		}
		s.defaultTTL = d
	}
}

// WithClock sets the server's clock, which must not be nil. The default is
// time.Now, which is virtual inside a testing/synctest bubble.
func WithClock(now func() time.Time) Option {
	return func(s *Server) {
		if now == nil {
			s.invalidate("WithClock(nil)")
			return
		}
		s.clock = now
	}
}

// WithGRPCServerOptions adds options to the gRPC server that serves s over
// the network ([NewServer], [Server.Start], [Server.Serve]), such as
// interceptors, stats handlers or keepalive parameters. They do not affect
// [Server.Stub].
func WithGRPCServerOptions(opts ...grpc.ServerOption) Option {
	return func(s *Server) {
		for _, o := range opts {
			if o == nil {
				s.invalidate("WithGRPCServerOptions: nil option")
				return
			}
		}
		s.grpcOpts = append(s.grpcOpts, opts...)
	}
}

// invalidate records the first bad input s was built with.
func (s *Server) invalidate(format string, args ...any) {
	if s.invalid == nil {
		s.invalid = fmt.Errorf("%w: "+format, append([]any{ErrInvalidArgument}, args...)...)
	}
}

// NewServer starts an empty server serving real gRPC on a loopback port
// (see [Server.Addr]) for the rest of the test; tb.Cleanup closes it. A
// setup error fails the test.
//
// Use [NewUnstartedServer] inside a testing/synctest bubble: a network
// server's goroutines do not belong there.
func NewServer(tb testing.TB, opts ...Option) *Server {
	s := NewUnstartedServer(opts...)
	if tb == nil {
		s.invalidate("NewServer(nil, ...)")
		return s // not started: nothing could close it
	}
	tb.Helper()
	if err := s.Start(); err != nil {
		tb.Fatalf("qqtest: start server: %v", err)
	}
	tb.Cleanup(s.Close)
	return s
}

// NewUnstartedServer returns an empty server (no locks, no history, no
// faults) that does not serve the network and starts no goroutine. Call it
// through [Server.Stub], for example inside a testing/synctest bubble where
// its clock is virtual, or serve it with [Server.Start] or [Server.Serve].
func NewUnstartedServer(opts ...Option) *Server {
	s := &Server{
		defaultTTL:  DefaultTTL,
		clock:       time.Now,
		locks:       make(map[lockKey]*lock),
		partitioned: make(map[string]bool),
	}
	for _, opt := range opts {
		if opt == nil {
			s.invalidate("nil Option")
			continue
		}
		opt(s)
	}
	return s
}

type lockKey struct{ service, domain string }

type lock struct {
	holder  string
	expires time.Time
	tenure  int // index of the holder's open Tenure in Server.history
}

// tryAcquireLock grants a free or expired lock to the caller for ttl seconds,
// renews it (expiry = now+ttl) if the caller already holds it, and answers
// false if another client holds it.
func (s *Server) tryAcquireLock(ctx context.Context, req *pb.TryAcquireLockRequest) (*pb.TryAcquireLockResponse, error) {
	c := Call{Method: MethodTryAcquireLock, Service: req.GetService(), Domain: req.GetDomain(), ClientID: req.GetClientId()}
	var leader bool
	err := s.handle(ctx, c, func(now time.Time) {
		ttl := s.ttl(req.GetTtl())
		key := lockKey{c.Service, c.Domain}
		switch l := s.currentLocked(key, now); {
		case l == nil:
			s.history = append(s.history, Tenure{
				Service: c.Service, Domain: c.Domain, ClientID: c.ClientID,
				Start: now, End: now.Add(ttl),
			})
			s.locks[key] = &lock{holder: c.ClientID, expires: now.Add(ttl), tenure: len(s.history) - 1}
			leader = true
		case l.holder == c.ClientID:
			s.renewLocked(l, now.Add(ttl))
			leader = true
		}
	})
	if err != nil {
		return nil, err
	}
	return &pb.TryAcquireLockResponse{IsLeader: leader}, nil
}

// keepAlive renews the lock if the caller holds it and answers with the TTL
// as lease_length; otherwise it answers -1s. Like the real server it never
// returns a gRPC error of its own (injected faults aside).
func (s *Server) keepAlive(ctx context.Context, req *pb.KeepAliveRequest) (*pb.KeepAliveResponse, error) {
	c := Call{Method: MethodKeepAlive, Service: req.GetService(), Domain: req.GetDomain(), ClientID: req.GetClientId()}
	lease := -time.Second
	err := s.handle(ctx, c, func(now time.Time) {
		ttl := s.ttl(req.GetTtl())
		if l := s.currentLocked(lockKey{c.Service, c.Domain}, now); l != nil && l.holder == c.ClientID {
			s.renewLocked(l, now.Add(ttl))
			lease = ttl
		}
	})
	if err != nil {
		return nil, err
	}
	return &pb.KeepAliveResponse{LeaseLength: durationpb.New(lease)}, nil
}

// releaseLock deletes the lock if the caller holds it and always answers
// with an empty response, as the real server does.
func (s *Server) releaseLock(ctx context.Context, req *pb.ReleaseLockRequest) (*pb.ReleaseLockResponse, error) {
	c := Call{Method: MethodReleaseLock, Service: req.GetService(), Domain: req.GetDomain(), ClientID: req.GetClientId()}
	err := s.handle(ctx, c, func(now time.Time) {
		key := lockKey{c.Service, c.Domain}
		if l := s.currentLocked(key, now); l != nil && l.holder == c.ClientID {
			s.endTenureLocked(l, now)
			delete(s.locks, key)
		}
	})
	if err != nil {
		return nil, err
	}
	return &pb.ReleaseLockResponse{}, nil
}

// Holder reports the current, unexpired holder of the lock (service,
// domain), and held false if nobody holds it.
func (s *Server) Holder(service, domain string) (clientID string, held bool) {
	clientID, _, held = s.Lease(service, domain)
	return clientID, held
}

// Lease reports the current, unexpired holder of the lock (service, domain)
// and when its lease ends by the server clock, read together; held is false
// if nobody holds the lock.
func (s *Server) Lease(service, domain string) (clientID string, expires time.Time, held bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.currentLocked(lockKey{service, domain}, s.nowLocked())
	if l == nil {
		return "", time.Time{}, false
	}
	return l.holder, l.expires, true
}

// CallCounts counts the calls that reached the server's methods, per method.
// Every call is counted, including those an injected fault then delayed,
// failed or dropped, because this is the traffic the client generated.
type CallCounts struct {
	TryAcquireLock int
	KeepAlive      int
	ReleaseLock    int
}

// Total returns the number of calls of all methods.
func (c CallCounts) Total() int { return c.TryAcquireLock + c.KeepAlive + c.ReleaseLock }

// Calls returns the call counts so far.
func (s *Server) Calls() CallCounts {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

// Restart loses every lock now, as a server keeping its locks in memory
// does when it restarts (or one whose store was wiped): every open tenure
// ends, and any client may acquire any lock. Holders are not told: each
// learns it at its next renewal, which the server answers with a -1s lease
// (the client steps down at once), or when its lease runs out locally.
// Until then a holder and a new acquirer may both believe they lead, which
// is why docs/safety.md asks a store that loses its locks to stay
// unavailable for a TTL. Connections, calls in flight, history, call counts
// and faults are not affected.
func (s *Server) Restart() {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.nowLocked()
	for _, l := range s.locks {
		s.endTenureLocked(l, now)
	}
	clear(s.locks)
}

// SetClockOffset makes the server clock read clock()+d from now on, to
// simulate a server whose clock is skewed or jumps. It replaces any earlier
// offset rather than adding to it. Leases already granted keep their absolute
// expiry, so a forward jump expires them early, as a backend clock jump would.
func (s *Server) SetClockOffset(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.offset = d
}

// nowLocked reads the server clock. s.mu must be held.
func (s *Server) nowLocked() time.Time {
	return s.clock().Add(s.offset)
}

// ttl converts a wire TTL in whole seconds, substituting the default for
// ttl <= 0 exactly as the real server does.
func (s *Server) ttl(seconds int32) time.Duration {
	if seconds <= 0 {
		return s.defaultTTL
	}
	return time.Duration(seconds) * time.Second
}

// currentLocked returns the unexpired lock for key, or nil. An expired lock
// is retired on the way, so that its tenure is closed at its expiry before
// anybody else can take the lock. s.mu must be held.
func (s *Server) currentLocked(key lockKey, now time.Time) *lock {
	l := s.locks[key]
	if l == nil {
		return nil
	}
	if !now.Before(l.expires) {
		s.endTenureLocked(l, l.expires)
		delete(s.locks, key)
		return nil
	}
	return l
}

// renewLocked moves the lease's expiry, and with it the end of the open
// tenure. s.mu must be held.
func (s *Server) renewLocked(l *lock, expires time.Time) {
	l.expires = expires
	t := &s.history[l.tenure]
	t.End = expires
	if t.End.Before(t.Start) {
		t.End = t.Start // only after a backwards clock jump larger than the TTL
	}
}
