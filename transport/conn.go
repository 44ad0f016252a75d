package transport

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quorum-quest/client-go/pb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/status"
)

// ErrConnClosed is returned by calls on a Conn after Close.
var ErrConnClosed = errors.New("transport: connection closed")

// Conn is a connection to a Quorum Quest server that replaces itself when
// it goes silent. It implements pb.LeaderElectionServiceClient, so it can
// stand wherever a stub does, and one Conn may serve many clients.
//
// A connection whose peer vanished without a reset stays READY to gRPC:
// calls on it time out one after another, and nothing closes it until the
// kernel gives up, about 15 minutes later. HTTP/2 keepalive pings would
// notice, but not before 10 s and not without risking GOAWAY
// "too_many_pings" from a server with default enforcement
// (docs/connections.md). Conn uses the calls themselves as evidence
// instead: when the connection is READY and no call sent on it has been
// answered for the silence threshold, a call ending in DeadlineExceeded
// retires it. A fresh connection takes its place for every later call; the
// retired one is closed once its calls in flight have ended, so no call is
// cut short by the swap.
type Conn struct {
	target  string
	opts    []grpc.DialOption
	silence time.Duration

	mu       sync.Mutex
	cur      *link
	retired  map[*link]struct{} // retired links with calls still in flight
	closed   bool
	replaced atomic.Int64
}

// link is one gRPC connection and the evidence gathered on it. Its fields
// other than cc and stub are guarded by Conn.mu.
type link struct {
	cc       *grpc.ClientConn
	stub     pb.LeaderElectionServiceClient
	inflight int
	// silentSince is the send time of the oldest call still unanswered
	// since the last answer on this link; zero when there is none.
	silentSince time.Time
}

// Open returns a Conn to target (host:port or any gRPC target). silence is
// how long a READY connection may leave every call unanswered before it is
// replaced; give it the longest a call is allowed to take (see
// LeasePolicy.CallTimeout), so that a healthy but slow server is not taken
// for a dead one. opts are passed to grpc.NewClient for every connection
// it makes, typically ConnParams.DialOptions plus the caller's own. Like
// grpc.NewClient, Open does not wait for the server: an unreachable one
// shows up as failed calls.
func Open(target string, silence time.Duration, opts ...grpc.DialOption) (*Conn, error) {
	if silence <= 0 {
		return nil, fmt.Errorf("%w: silence threshold %v is not positive", ErrConnParams, silence)
	}
	c := &Conn{target: target, opts: opts, silence: silence, retired: map[*link]struct{}{}}
	l, err := c.dial()
	if err != nil {
		return nil, err
	}
	c.cur = l
	return c, nil
}

func (c *Conn) dial() (*link, error) {
	cc, err := grpc.NewClient(c.target, c.opts...)
	if err != nil {
		return nil, err
	}
	return &link{cc: cc, stub: pb.NewLeaderElectionServiceClient(cc)}, nil
}

// Replaced reports how many times the connection was found silent and
// replaced.
func (c *Conn) Replaced() int64 { return c.replaced.Load() }

// State returns the connectivity state of the current connection.
func (c *Conn) State() connectivity.State {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return connectivity.Shutdown
	}
	return c.cur.cc.GetState()
}

// Close closes the current connection and any retired one, cancelling
// calls in flight. Later calls fail with ErrConnClosed. It is idempotent.
func (c *Conn) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	links := []*link{c.cur}
	for l := range c.retired {
		links = append(links, l)
	}
	clear(c.retired)
	c.mu.Unlock()
	var errs []error
	for _, l := range links {
		errs = append(errs, l.cc.Close())
	}
	return errors.Join(errs...)
}

// TryAcquireLock implements pb.LeaderElectionServiceClient.
func (c *Conn) TryAcquireLock(ctx context.Context, in *pb.TryAcquireLockRequest, opts ...grpc.CallOption) (*pb.TryAcquireLockResponse, error) {
	return invoke(c, func(s pb.LeaderElectionServiceClient) (*pb.TryAcquireLockResponse, error) {
		return s.TryAcquireLock(ctx, in, opts...)
	})
}

// KeepAlive implements pb.LeaderElectionServiceClient.
func (c *Conn) KeepAlive(ctx context.Context, in *pb.KeepAliveRequest, opts ...grpc.CallOption) (*pb.KeepAliveResponse, error) {
	return invoke(c, func(s pb.LeaderElectionServiceClient) (*pb.KeepAliveResponse, error) {
		return s.KeepAlive(ctx, in, opts...)
	})
}

// ReleaseLock implements pb.LeaderElectionServiceClient.
func (c *Conn) ReleaseLock(ctx context.Context, in *pb.ReleaseLockRequest, opts ...grpc.CallOption) (*pb.ReleaseLockResponse, error) {
	return invoke(c, func(s pb.LeaderElectionServiceClient) (*pb.ReleaseLockResponse, error) {
		return s.ReleaseLock(ctx, in, opts...)
	})
}

// invoke makes one call on the current link and records what it says
// about the link.
func invoke[R any](c *Conn, call func(pb.LeaderElectionServiceClient) (R, error)) (R, error) {
	l, err := c.take()
	if err != nil {
		var zero R
		return zero, err
	}
	sent := time.Now()
	resp, err := call(l.stub)
	c.settle(l, sent, err)
	return resp, err
}

// take returns the current link, counting the call about to be made on it.
func (c *Conn) take() (*link, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, fmt.Errorf("%w: %w", ErrConnClosed, status.Error(codes.Canceled, "connection closed"))
	}
	c.cur.inflight++
	return c.cur, nil
}

// settle records the outcome of a call sent on l at sent, replaces l when
// it has gone silent, and closes a retired l once its last call ended.
func (c *Conn) settle(l *link, sent time.Time, err error) {
	var closeLinks []*link
	c.mu.Lock()
	l.inflight--
	switch status.Code(err) {
	case codes.DeadlineExceeded:
		if l.silentSince.IsZero() || sent.Before(l.silentSince) {
			l.silentSince = sent
		}
		if l == c.cur && !c.closed && time.Since(l.silentSince) >= c.silence && l.cc.GetState() == connectivity.Ready {
			if next, derr := c.dial(); derr == nil {
				next.cc.Connect() // the handshake starts now, not with the next call
				c.cur = next
				c.retired[l] = struct{}{}
				c.replaced.Add(1)
			} // else: the target did parse before, so this cannot happen; keep l
		}
	case codes.Canceled, codes.Unavailable:
		// The caller gave up, or the call never reached a server: no
		// evidence either way.
	default:
		l.silentSince = time.Time{} // an answer, even an error, came back
	}
	if _, ok := c.retired[l]; ok && l.inflight == 0 {
		delete(c.retired, l)
		closeLinks = append(closeLinks, l)
	}
	c.mu.Unlock()
	for _, l := range closeLinks {
		l.cc.Close() // nothing left on it to report an error to
	}
}
