package client

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/quorum-quest/client-go/pb"
	"github.com/quorum-quest/client-go/transport"
)

// QuorumQuestClient campaigns for one lock (a service/domain pair) on a
// Quorum Quest server. It is safe for concurrent use. Make one with
// NewQuorumQuestClient: a nil or zero QuorumQuestClient refuses every call
// with ErrInvalidArgument.
//
// It is a thin facade: the election it delegates to owns the state
// machine, the transport and the published snapshot, and the facade keeps
// only what its own methods need (the configuration Campaign and Run read,
// the connection it dialled, and its once-only Close).
type QuorumQuestClient struct {
	cfg  *config
	conn *transport.Conn // dialled by us and closed by Close; nil otherwise
	e    *election
	// closing is closed when Close begins, for waits that must end then.
	closing  chan struct{}
	closed   sync.Once
	closeErr error
}

// NewQuorumQuestClient returns a client for the lock of service in domain,
// asking for leases of length ttl from the server at address (host:port, or
// any gRPC target), or from a fleet of servers: a comma-separated list of
// addresses, or dns:///name:port for every address of name (see
// transport.Open). ttl must be at least one second; the wire carries whole
// seconds, so a fraction is rounded up on the wire while the client trusts
// only the exact ttl. The connection is made lazily: an unreachable server
// shows up as an error from the first call, not here.
//
// Errors match ErrInvalidConfig, and the more specific ErrEmptyService,
// ErrEmptyDomain, ErrEmptyAddress, ErrInvalidTTL or ErrInvalidOption.
func NewQuorumQuestClient(service string, domain string, ttl time.Duration, address string, opts ...Option) (*QuorumQuestClient, error) {
	cfg, err := newConfig(service, domain, ttl, address, opts)
	if err != nil {
		return nil, err
	}
	c := &QuorumQuestClient{cfg: cfg, closing: make(chan struct{})}
	stub := cfg.stub
	switch {
	case stub != nil:
	case cfg.conn != nil:
		stub = pb.NewLeaderElectionServiceClient(cfg.conn)
	default:
		conn, err := dial(address, cfg)
		if err != nil {
			return nil, err
		}
		c.conn = conn
		stub = conn
	}
	rpc, err := transport.New(stub, transport.Config{
		Lock:    transport.Lock{Service: service, Domain: domain, ClientID: cfg.clientID},
		TTL:     ttl,
		Timeout: cfg.requestTimeout,
		Policy:  cfg.policy,
	})
	if err != nil { // newConfig validated the same values; this is a broken invariant
		c.closeConn()
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	if err := cfg.buildObservers(); err != nil { // last: nothing after it fails
		c.closeConn()
		return nil, err
	}
	c.e = newElection(rpc, cfg)
	return c, nil
}

// ClientID returns the identity this client uses with the server ("" for a
// client not made by NewQuorumQuestClient).
func (q *QuorumQuestClient) ClientID() string {
	if q.unmade() {
		return ""
	}
	return q.cfg.clientID
}

// unmade reports whether q is nil or a zero value: its methods then report
// ErrInvalidArgument or answer as a closed client would, and never panic.
func (q *QuorumQuestClient) unmade() bool { return q == nil || q.e == nil }

func unmadeError(method string) error {
	return fmt.Errorf("%w: %s on a QuorumQuestClient not made by NewQuorumQuestClient", ErrInvalidArgument, method)
}

func (q *QuorumQuestClient) badCall(method string, ctx context.Context) error {
	if q.unmade() {
		return unmadeError(method)
	}
	if ctx == nil {
		return fmt.Errorf("%w: %s: nil context", ErrInvalidArgument, method)
	}
	return nil
}

// TryAcquireLock asks the server for the lock once (while leading, it
// renews) and reports whether this client leads when it returns. A call
// already in flight, TryAcquireLock or renewal, is shared, not repeated.
// The error says the call failed (a lease still runs to its deadline), ctx
// ended, or the client is closed (ErrClosed).
func (q *QuorumQuestClient) TryAcquireLock(ctx context.Context) (bool, error) {
	if err := q.badCall("TryAcquireLock", ctx); err != nil {
		return false, err
	}
	return q.e.acquire(ctx)
}

// ReleaseLock gives the lock up. Leadership ends (IsLeader turns false and
// keep-alive stops) before the release is sent, so this client never claims
// a lock the server may already have handed on. The release is sent even
// when the client does not believe it leads, since the server may still
// hold the lock for it (an answer lost in transit); the server ignores
// releases from non-holders. A TryAcquireLock in flight is not cancelled:
// the release waits for its answer (at most the request timeout, or until
// ctx ends), so that the server applies the release after it.
func (q *QuorumQuestClient) ReleaseLock(ctx context.Context) error {
	if err := q.badCall("ReleaseLock", ctx); err != nil {
		return err
	}
	return q.e.release(ctx)
}

// StartKeepAlive renews the lease in the background (WithKeepAliveInterval)
// until StopKeepAlive, Close, the end of ctx or of leadership. Failed
// renewals are retried with backoff while the lease lasts; a refusal ends
// leadership at once. It returns ErrNotLeader without a valid lease,
// ErrKeepAliveRunning, or ErrClosed; each lease needs its own start.
func (q *QuorumQuestClient) StartKeepAlive(ctx context.Context) error {
	if err := q.badCall("StartKeepAlive", ctx); err != nil {
		return err
	}
	return q.e.startKeepAlive(ctx)
}

// StopKeepAlive stops renewing the lease and cancels a renewal in flight.
// It returns at once, even while the server is unreachable; the lease, if
// any, runs out at its deadline unless TryAcquireLock renews it. It does
// nothing when keep-alive is not running or the client is closed.
func (q *QuorumQuestClient) StopKeepAlive() {
	if q.unmade() {
		return
	}
	q.e.stopKeepAlive()
}

// IsLeader reports whether this client holds the lock now: its machine
// leads and the lease's local deadline, checked here too, has not passed.
func (q *QuorumQuestClient) IsLeader() bool { return !q.unmade() && q.e.isLeader() }

// GetRemainingLease returns how long the current lease is trusted for, as
// of this call; it counts down, and is 0 when the client does not lead.
func (q *QuorumQuestClient) GetRemainingLease() time.Duration {
	if q.unmade() {
		return 0
	}
	return q.e.remainingLease()
}

// State returns the current state of the client's machine (StateClosed for
// a client not made by NewQuorumQuestClient, which can do nothing).
func (q *QuorumQuestClient) State() State {
	if q.unmade() {
		return StateClosed
	}
	return q.e.state()
}

// Close ends the client: leadership ends, calls in flight are cancelled,
// the lock is released whenever the server may hold it for this client
// (bounded by WithCloseTimeout), and the connection the client dialled is
// closed. The server may hold it from the moment a TryAcquireLock or
// renewal is sent until the server answers that the lock is not ours or a
// release completes, so Close releases after an acquisition whose answer
// was lost, and after a lease that ran out locally, as well as while
// leading. It returns once no goroutine of the client is left. Its error
// joins the release's and the connection's, either of which errors.Is
// finds. Close is idempotent: later calls return what the first returned.
func (q *QuorumQuestClient) Close() error {
	if q.unmade() {
		return unmadeError("Close")
	}
	q.closed.Do(func() {
		close(q.closing)
		err := q.e.close()
		q.cfg.closeObservers()
		q.closeErr = errors.Join(err, q.closeConn())
	})
	return q.closeErr
}

func (q *QuorumQuestClient) closeConn() error {
	if q.conn == nil {
		return nil
	}
	if err := q.conn.Close(); err != nil {
		return fmt.Errorf("quorumquest: closing connection: %w", err)
	}
	return nil
}
