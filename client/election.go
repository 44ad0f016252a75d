package client

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/quorum-quest/client-go/fsm"
	"github.com/quorum-quest/client-go/transport"
)

// election is a client's state machine and everything that changes with
// it. Its mutex makes whoever holds it the machine's only owner: every
// event (a public method, a call's result, the expiry or keep-alive timer)
// is applied under it, one at a time, and nothing under it blocks on the
// network or on user code. Calls to the server run on the goroutine that
// asked for them, outside the mutex, and their results come back as
// events. Readers use the published snapshot and never take the mutex.
//
// A mutex rather than a goroutine that owns the machine: handing each call
// to such a goroutine and back cost four goroutine switches, which made a
// call through the client about 50% slower than the bare stub and kept a
// goroutine alive per idle election (docs/performance.md).
type election struct {
	c *QuorumQuestClient

	mu     sync.Mutex
	m      *fsm.Machine
	closed bool
	hooks  []*hookRunner
	expiry *time.Timer // fires at the lease deadline while leading
	// call is the TryAcquireLock or KeepAlive in flight, nil when none. A
	// result from any other call is stale and dropped.
	call *call
	// lastCall is closed when the most recently started call of any kind
	// has returned. Each call waits for its predecessor, so the server
	// applies a client's calls in the order the client made them, as long
	// as each was answered: a release waits for the answer to the
	// acquisition before it rather than cancelling it. A call that ended
	// without an answer (its caller's context, the request timeout, Close)
	// may still be applied by the server later, after the next call; see
	// docs/safety.md.
	lastCall  chan struct{}
	keepAlive *keepAlive // nil when keep-alive is not running
	// rng jitters the timers. It is seeded from the client ID: IDs are
	// unique among a lock's candidates, which is all the decorrelation
	// jitter needs, and a test replaying a seed gets the same timings.
	rng      *rand.Rand
	watchers map[*watcher]struct{}
	// tenure holds the cancel functions of the contexts handed out for the
	// current leadership (see leadership.go).
	tenure []context.CancelCauseFunc

	// lifetime is cancelled by Close, cancelling every release in flight.
	lifetime context.Context
	endLife  context.CancelFunc
	// renewals counts keep-alive renewals running on timer goroutines,
	// which Close waits for.
	renewals sync.WaitGroup
}

// call is a TryAcquireLock or KeepAlive in flight and the TryAcquireLock
// callers waiting for its outcome besides the one that started it.
type call struct {
	cancel  context.CancelFunc
	waiters []chan acquireReply
	ended   error // why endCall abandoned it, for the caller that started it
	// stopOnClose unregisters the cancellation by Close of a call that
	// detachCall let run on; nil for the others, which Close cancels as
	// the call in flight.
	stopOnClose func() bool
}

type acquireReply struct {
	leading bool
	err     error
}

func newElection(c *QuorumQuestClient) *election {
	e := &election{
		c:        c,
		m:        fsm.New(),
		lastCall: make(chan struct{}),
		rng:      rand.New(rand.NewPCG(seedFrom(c.cfg.clientID))),
		watchers: map[*watcher]struct{}{},
	}
	close(e.lastCall)
	e.expiry = time.AfterFunc(time.Hour, e.expire)
	e.expiry.Stop()
	e.lifetime, e.endLife = context.WithCancel(context.Background())
	for _, h := range c.cfg.hooks {
		e.hooks = append(e.hooks, startHook(h, c.cfg.logger))
	}
	return e
}

// acquire serves TryAcquireLock.
func (e *election) acquire(ctx context.Context) (bool, error) {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return false, ErrClosed
	}
	if e.call != nil { // acquiring or refreshing: share the outcome
		reply := make(chan acquireReply, 1)
		e.call.waiters = append(e.call.waiters, reply)
		e.mu.Unlock()
		select {
		case r := <-reply:
			return r.leading, r.err
		case <-ctx.Done():
			return e.c.IsLeader(), ctx.Err()
		}
	}
	e.fire(fsm.Acquire, nil)
	r := e.runCall(ctx, e.c.rpc.TryAcquire, time.Time{})
	if r.err != nil && ctx.Err() != nil {
		// The call failed because ctx ended: say so in terms of ctx.
		r.err = fmt.Errorf("%w: %w", ctx.Err(), r.err)
	}
	return r.leading, r.err
}

// runCall sends TryAcquireLock or KeepAlive (do) as the call in flight, on
// the calling goroutine once every earlier call has returned, and feeds its
// result to the machine. It is entered with e.mu held and returns with it
// released.
func (e *election) runCall(ctx context.Context, do func(context.Context, time.Time) transport.Result, before time.Time) acquireReply {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cl := &call{cancel: cancel}
	e.call = cl
	prev, done := e.enqueue()
	e.mu.Unlock()

	select {
	case <-prev:
	case <-ctx.Done():
	}
	res := do(ctx, before)
	close(done)

	e.mu.Lock()
	defer e.mu.Unlock()
	if cl.stopOnClose != nil {
		cl.stopOnClose()
	}
	if cl != e.call {
		// The machine moved on while the call ran (released, expired,
		// closed): the result is stale, and says nothing of leadership now.
		return acquireReply{leading: e.c.IsLeader(), err: cl.ended}
	}
	return e.finishCall(res)
}

// enqueue takes the next place in the order of calls: prev is closed when
// the previous call has returned; the caller closes done when its own has.
func (e *election) enqueue() (prev <-chan struct{}, done chan struct{}) {
	prev, done = e.lastCall, make(chan struct{})
	e.lastCall = done
	return prev, done
}

// finishCall feeds the call in flight's result to the machine and answers
// the callers waiting for it, and returns their answer.
func (e *election) finishCall(res transport.Result) acquireReply {
	cl := e.call
	e.call = nil
	if res.Event == fsm.Granted {
		e.setDeadline(res.Deadline)
	}
	e.fire(res.Event, res.Err)
	err := res.Err
	if errors.Is(err, transport.ErrNotHolder) {
		err = nil // "another client holds the lock" is an answer, not an error
	} else if err != nil {
		err = fmt.Errorf("quorumquest: %w", err)
	}
	reply := acquireReply{leading: e.c.IsLeader(), err: err}
	for _, w := range cl.waiters {
		w <- reply
	}
	if ka := e.keepAlive; ka != nil {
		switch res.Event {
		case fsm.Granted:
			ka.succeeded()
		case fsm.Failed:
			e.c.cfg.logger.Warn("quorumquest: renewal failed; retrying", "err", res.Err)
			ka.failed()
		}
	}
	return reply
}

// endCall abandons the call in flight, answering its waiters with err.
func (e *election) endCall(err error) {
	if e.call == nil {
		return
	}
	e.call.cancel()
	e.dropCall(err)
}

// detachCall answers the call in flight's waiters with err and makes its
// result stale, but lets the call run on to its answer or its own
// deadline, and the calls queued behind it wait for that. Close still
// cancels it.
func (e *election) detachCall(err error) {
	if e.call == nil {
		return
	}
	e.call.stopOnClose = context.AfterFunc(e.lifetime, e.call.cancel)
	e.dropCall(err)
}

// dropCall answers the call in flight's waiters with err and forgets it.
func (e *election) dropCall(err error) {
	e.call.ended = err
	for _, w := range e.call.waiters {
		w <- acquireReply{leading: false, err: err}
	}
	e.call = nil
}

// release serves ReleaseLock.
func (e *election) release(ctx context.Context) error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return ErrClosed
	}
	if e.m.Can(fsm.Release) {
		// Not cancelled: a cancelled TryAcquireLock may still reach the
		// server after the release and take the lock for a TTL nobody
		// uses. Waiting for its answer orders the release after it.
		e.detachCall(nil)
		e.fire(fsm.Release, nil)
	}
	prev, done := e.enqueue()
	e.mu.Unlock()
	defer close(done)

	// The caller's context may never end: Close must still be able to cut
	// the release short.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(e.lifetime, cancel)()
	select {
	case <-prev:
	case <-ctx.Done():
	}
	if err := e.c.rpc.Release(ctx); err != nil {
		return fmt.Errorf("quorumquest: %w", err)
	}
	return nil
}

func (e *election) setDeadline(d time.Time) {
	e.c.snap.Store(&snapshot{state: e.m.State(), deadline: d})
	e.expiry.Reset(time.Until(d))
}

// expire runs on the expiry timer's goroutine.
func (e *election) expire() {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.c.snap.Load()
	if !s.state.Leading() || time.Now().Before(s.deadline) {
		return // a timer set for an older deadline
	}
	e.endCall(nil)
	e.fire(fsm.Expire, ErrLeaseExpired)
}

// fire applies an event, publishes the new snapshot and tells the hooks
// and watchers. Leaving leadership stops the expiry timer and keep-alive.
// e.mu must be held.
func (e *election) fire(ev fsm.Event, cause error) {
	ch, err := e.m.Fire(ev, cause)
	if err != nil {
		// Every caller checks the state first; reaching this is a bug, and
		// refusing the event keeps the machine consistent.
		e.c.cfg.logger.Error("quorumquest: refused event", "err", err)
		return
	}
	deadline := e.c.snap.Load().deadline
	if !ch.To.Leading() {
		deadline = time.Time{}
		e.expiry.Stop()
		e.stopKeepAlive()
	}
	e.c.snap.Store(&snapshot{state: ch.To, deadline: deadline})
	t := Transition{From: ch.From, To: ch.To, Event: string(ch.Event), At: time.Now(), Err: ch.Cause}
	if e.c.cfg.logger.Enabled(context.Background(), slog.LevelDebug) { // spare the boxing of the arguments
		e.c.cfg.logger.Debug("quorumquest: transition", "from", t.From, "to", t.To, "event", t.Event, "err", t.Err)
	}
	if ch.From.Leading() && !ch.To.Leading() {
		e.endTenure(t)
	}
	for _, h := range e.hooks {
		h.push(t)
	}
	for w := range e.watchers {
		w.send(t)
	}
}

// close serves Close: leadership ends, calls in flight are cancelled, the
// lock is released if it may be held, and nothing of the client is left
// running when it returns.
func (e *election) close() error {
	e.mu.Lock()
	wasHolding := e.m.State() == fsm.Acquiring || e.m.State().Leading()
	e.endCall(ErrClosed)
	e.fire(fsm.Close, nil)
	e.closed = true
	e.endLife()
	var prev <-chan struct{}
	var done chan struct{}
	if wasHolding {
		prev, done = e.enqueue()
	}
	e.mu.Unlock()

	var err error
	if wasHolding {
		// Behind the calls just cancelled, and timed from now.
		ctx, cancel := context.WithTimeout(context.Background(), e.c.cfg.closeTimeout)
		select {
		case <-prev:
		case <-ctx.Done():
		}
		if rerr := e.c.rpc.Release(ctx); rerr != nil {
			err = fmt.Errorf("quorumquest: releasing on close: %w", rerr)
		}
		cancel()
		close(done)
	}
	e.renewals.Wait()
	e.mu.Lock()
	for w := range e.watchers {
		e.unwatch(w)
	}
	e.mu.Unlock()
	for _, h := range e.hooks {
		h.wait()
	}
	return err
}

// seedFrom derives a generator seed from a client ID.
func seedFrom(id string) (uint64, uint64) {
	h := fnv.New64a()
	h.Write([]byte(id))
	sum := h.Sum64()
	return sum, sum ^ 0x9e3779b97f4a7c15
}
