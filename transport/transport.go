package transport

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/quorum-quest/client-go/fsm"
	"github.com/quorum-quest/client-go/pb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Lock names the lock and the client asking for it.
type Lock struct {
	Service  string
	Domain   string
	ClientID string
}

// Config is everything a Transport needs; New validates it.
type Config struct {
	Lock Lock
	// TTL is the lease asked for. It travels rounded up to whole seconds;
	// deadlines are computed from the exact value.
	TTL time.Duration
	// Timeout bounds every call.
	Timeout time.Duration
	// Policy turns granted leases into local deadlines.
	Policy LeasePolicy
}

// Transport makes the calls for one lock and one client. It is safe for
// concurrent use and holds no state between calls.
type Transport struct {
	stub pb.LeaderElectionServiceClient
	cfg  Config
	// callTimeout bounds TryAcquire and KeepAlive: the configured timeout,
	// or the usable lease when shorter (LeasePolicy.CallTimeout).
	callTimeout time.Duration
	// The requests never change for a lock and a client, so they are built
	// once. gRPC only reads a request while marshalling it, which is safe
	// from several goroutines at once (proto messages are safe for
	// concurrent reads).
	tryReq  *pb.TryAcquireLockRequest
	keepReq *pb.KeepAliveRequest
	relReq  *pb.ReleaseLockRequest
}

// Result is the outcome of a TryAcquireLock or KeepAlive call, as an event
// for the machine.
type Result struct {
	// Event is fsm.Granted, fsm.Denied or fsm.Failed.
	Event fsm.Event
	// Sent is when the request left, the moment the lease is measured from.
	Sent time.Time
	// Deadline is the local end of the granted lease (Granted only).
	Deadline time.Time
	// Err is why the call was denied or failed, nil for Granted. A denial
	// because another client holds the lock (TryAcquireLock) or the lease
	// is gone (KeepAlive) matches ErrNotHolder.
	Err error
}

// New returns a Transport that calls stub.
func New(stub pb.LeaderElectionServiceClient, cfg Config) (*Transport, error) {
	wire, err := WireTTL(cfg.TTL)
	if err != nil {
		return nil, err
	}
	if err := cfg.Policy.Validate(cfg.TTL); err != nil {
		return nil, err
	}
	if cfg.Timeout <= 0 {
		return nil, fmt.Errorf("transport: call timeout %v must be positive", cfg.Timeout)
	}
	l := cfg.Lock
	return &Transport{
		stub: stub, cfg: cfg, callTimeout: cfg.Policy.CallTimeout(cfg.TTL, cfg.Timeout),
		tryReq:  &pb.TryAcquireLockRequest{Service: l.Service, Domain: l.Domain, ClientId: l.ClientID, Ttl: wire},
		keepReq: &pb.KeepAliveRequest{Service: l.Service, Domain: l.Domain, ClientId: l.ClientID, Ttl: wire},
		relReq:  &pb.ReleaseLockRequest{Service: l.Service, Domain: l.Domain, ClientId: l.ClientID},
	}, nil
}

// Deadline returns the deadline of a TryAcquire or KeepAlive sent at now:
// the configured timeout from now, or the usable lease from now when
// shorter (a grant answered after it is worthless), or before when not
// zero and sooner (a renewal that answers after the lease ended is
// worthless). A caller whose context ends by then spares the call a
// context of its own.
func (t *Transport) Deadline(now, before time.Time) time.Time {
	deadline := now.Add(t.callTimeout)
	if !before.IsZero() && before.Before(deadline) {
		deadline = before
	}
	return deadline
}

// callContext bounds a call sent at now by Deadline(now, before). A context
// that already ends by then is used as it is, without another layer.
func (t *Transport) callContext(ctx context.Context, now, before time.Time) (context.Context, context.CancelFunc) {
	deadline := t.Deadline(now, before)
	if d, ok := ctx.Deadline(); ok && !d.After(deadline) {
		return ctx, func() {}
	}
	return context.WithDeadline(ctx, deadline)
}

// TryAcquire asks for the lock, or renews it when this client holds it.
// before, when not zero, is a time the call must end by. The call also
// ends when the lease it would grant runs out locally: an answer after
// that is worthless, and comes back as a failure (see Result.AsOf).
func (t *Transport) TryAcquire(ctx context.Context, before time.Time) Result {
	// One reading of the clock serves as the send time and bounds the
	// call: the lease is measured from it, and an earlier send time only
	// shortens the lease.
	sent := time.Now()
	ctx, cancel := t.callContext(ctx, sent, before)
	defer cancel()
	resp, err := t.stub.TryAcquireLock(ctx, t.tryReq)
	switch {
	case err != nil:
		return failure(ctx, sent, "TryAcquireLock", err)
	case !resp.GetIsLeader():
		return Result{Event: fsm.Denied, Sent: sent, Err: fmt.Errorf("TryAcquireLock: held by another client: %w", ErrNotHolder)}
	}
	r := Result{Event: fsm.Granted, Sent: sent, Deadline: t.cfg.Policy.Deadline(sent, t.cfg.TTL)}
	return r.AsOf(time.Now())
}

// KeepAlive renews the lease; before is the current lease's deadline, by
// which the call must end.
func (t *Transport) KeepAlive(ctx context.Context, before time.Time) Result {
	sent := time.Now()
	ctx, cancel := t.callContext(ctx, sent, before)
	defer cancel()
	resp, err := t.stub.KeepAlive(ctx, t.keepReq)
	if err != nil {
		return failure(ctx, sent, "KeepAlive", err)
	}
	granted := resp.GetLeaseLength().AsDuration()
	if granted <= 0 {
		return Result{Event: fsm.Denied, Sent: sent, Err: fmt.Errorf("KeepAlive: lease length %v: %w", granted, ErrNotHolder)}
	}
	// The server's lease wins when it is shorter than what we asked for;
	// a longer one (our TTL rounded up to whole seconds) is not trusted.
	granted = min(granted, t.cfg.TTL)
	r := Result{Event: fsm.Granted, Sent: sent, Deadline: t.cfg.Policy.Deadline(sent, granted)}
	return r.AsOf(time.Now())
}

// AsOf returns r as it stands at now: a grant whose local deadline is not
// after now is a late grant, a failure with ErrLateGrant, since the lease
// it grants has already run out. The machine then never enters, or stays
// in, leadership on a lease it cannot use; a caller that applies a result
// some time after the call returned checks it again with AsOf.
func (r Result) AsOf(now time.Time) Result {
	if r.Event != fsm.Granted || now.Before(r.Deadline) {
		return r
	}
	return Result{Event: fsm.Failed, Sent: r.Sent,
		Err: fmt.Errorf("answered %v after it was sent, at or after the lease's local deadline: %w", now.Sub(r.Sent), ErrLateGrant)}
}

// Release gives the lock up. The server answers success whether or not this
// client held it, so only transport failures come back as errors.
func (t *Transport) Release(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, t.cfg.Timeout)
	defer cancel()
	_, err := t.stub.ReleaseLock(ctx, t.relReq)
	if err != nil {
		return fmt.Errorf("ReleaseLock: %w", err)
	}
	return nil
}

func failure(ctx context.Context, sent time.Time, method string, err error) Result {
	if status.Code(err) == codes.Canceled && errors.Is(context.Cause(ctx), context.DeadlineExceeded) {
		// A context cancelled at its deadline (with the deadline as its
		// cause) rather than timed out by the context package: gRPC reports
		// the cancellation, but the call timed out.
		err = status.Error(codes.DeadlineExceeded, "context deadline exceeded")
	}
	err = fmt.Errorf("%s: %w", method, err)
	if Permanent(err) {
		return Result{Event: fsm.Denied, Sent: sent, Err: err}
	}
	return Result{Event: fsm.Failed, Sent: sent, Err: err}
}
