package client

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quorum-quest/client-go/fsm"
	"github.com/quorum-quest/client-go/internal/observe"
	"github.com/quorum-quest/client-go/transport"
)

// election is a client's state machine and everything that changes with
// it. Its mutex makes whoever holds it the machine's only owner: every
// event (a public method, a call's result, the expiry or keep-alive timer)
// is applied under it, one at a time, and nothing under it blocks on the
// network or on user code. Calls to the server run on the goroutine that
// asked for them, outside the mutex, and their results come back as
// events. Readers use the published snapshot and never take the mutex.
type election struct {
	// Fixed at construction, from the client's configuration.
	rpc          *transport.Transport
	keepAliveFor time.Duration // keep-alive interval, before jitter
	closeTimeout time.Duration
	logger       *slog.Logger
	silent       bool               // logger discards everything: note nothing for it
	observers    []observe.Observer // see observe.go

	snap published // loaded by readers without the mutex

	mu        sync.Mutex
	m         *fsm.Machine
	closed    bool
	hooks     []*hookRunner
	expiry    alarm      // fires by the lease deadline while leading
	call      *call      // the call whose result counts; nil when none
	sending   *call      // the call being sent, set until it returns even if abandoned
	turns     turns      // orders the calls of every kind
	keepAlive *keepAlive // nil when keep-alive is not running
	// serverMayHold: a grant may exist that the client never heard of, so
	// Close releases. Cleared only by ErrNotHolder or a release with no
	// acquisition or renewal sent since it was queued (grantsAsked counts them).
	serverMayHold bool
	grantsAsked   uint64
	logs          []logEntry // for the user's logger, written by unlock after mu is released
	// rng jitters the timers, seeded from the client ID (unique among a
	// lock's candidates) so that a replayed test seed replays the timings.
	rng            *rand.Rand
	watchers       map[*watcher]struct{}
	leadershipEnds []context.CancelCauseFunc // see leadership.go

	untilClose    context.Context // cancelled by Close, ending every release in flight
	endUntilClose context.CancelFunc
	renewals      sync.WaitGroup         // renewal timers set and renewals running (keepalive.go)
	callbacks     sync.WaitGroup         // callbacks started or still to start (background.go)
	onCallback    atomic.Pointer[func()] // for tests, see callbackStarted
}

// call is a TryAcquireLock or KeepAlive in flight and the TryAcquireLock
// callers waiting for its outcome besides the one that started it.
type call struct {
	ctx     context.Context
	cancel  context.CancelCauseFunc // ends ctx, with the reason
	renewal *keepAlive              // the keep-alive that sent it; nil for TryAcquireLock
	waiters []chan acquireReply
	ended   error // why endCall abandoned it, for the caller that started it
	// cancelled is set when the call is cancelled before it is sent; wake,
	// made only when the call has to wait for its turn, is then closed.
	cancelled bool
	wake      chan struct{}
}

// logEntry is one diagnostic for the user's logger, noted under e.mu.
type logEntry struct {
	level slog.Level
	msg   string
	err   error
	// transition, when set, is logged (at debug level) instead of err.
	transition *Transition
}

type acquireReply struct {
	leading bool
	err     error
}

// newElection returns a follower's election for the lock rpc calls, with
// the settings of cfg it needs.
func newElection(rpc *transport.Transport, cfg *config) *election {
	e := &election{
		rpc:          rpc,
		keepAliveFor: cfg.keepAliveInterval,
		closeTimeout: cfg.closeTimeout,
		logger:       cfg.logger,
		silent:       cfg.logger.Handler() == slog.DiscardHandler,
		observers:    cfg.observers,
		m:            fsm.New(),
		rng:          rand.New(rand.NewPCG(seedFrom(cfg.clientID))),
		watchers:     map[*watcher]struct{}{},
	}
	e.snap.init(snapshot{state: StateFollower})
	e.expiry = newAlarm(e.expire)
	e.untilClose, e.endUntilClose = context.WithCancel(context.Background())
	for _, h := range cfg.hooks {
		e.hooks = append(e.hooks, newHookRunner(h, cfg.logger))
	}
	return e
}

// acquire serves TryAcquireLock.
func (e *election) acquire(ctx context.Context) (bool, error) {
	e.mu.Lock()
	if e.closed {
		e.unlock()
		return false, ErrClosed
	}
	if e.call != nil { // acquiring or refreshing: share the outcome
		reply := make(chan acquireReply, 1)
		e.call.waiters = append(e.call.waiters, reply)
		e.unlock()
		select {
		case r := <-reply:
			return r.leading, r.err
		case <-ctx.Done():
			return e.isLeader(), ctx.Err()
		}
	}
	e.fireLocked(fsm.Acquire, nil)
	r := e.callLocked(ctx, nil, e.rpc.TryAcquire, time.Time{})
	e.unlock()
	if r.err != nil && ctx.Err() != nil {
		// The call failed because ctx ended: say so in terms of ctx.
		r.err = fmt.Errorf("%w: %w", ctx.Err(), r.err)
	}
	return r.leading, r.err
}

// callLocked sends TryAcquireLock or KeepAlive (send) as the call in
// flight, on the calling goroutine once every earlier call has returned,
// and feeds its result to the machine. ctx is the caller's (for a renewal,
// the keep-alive's). It releases e.mu while it waits and while the call
// runs, and returns with it held again.
func (e *election) callLocked(ctx context.Context, renewal *keepAlive, send func(context.Context, time.Time) transport.Result, leaseEnd time.Time) acquireReply {
	cl := &call{renewal: renewal}
	e.call = cl
	e.grantsAsked++
	e.serverMayHold = true // from here the server may grant, whatever we hear
	// What was noted so far is logged with the outcome, once the call is
	// over: a logger that blocks then delays no call queued behind this
	// one, and one that calls TryAcquireLock waits for no outcome but its
	// own.
	logs := e.logs
	e.logs = nil
	defer func() { e.logs = append(logs, e.logs...) }()
	holds := e.awaitTurnLocked(cl, ctx)
	if cl != e.call { // abandoned while it waited: never sent
		if holds {
			e.turns.pass()
		}
		return acquireReply{leading: e.isLeader(), err: cl.ended}
	}
	callCtx := e.sendContextLocked(cl, ctx, holds)
	e.unlock()
	res := send(callCtx, leaseEnd)
	e.mu.Lock()
	if holds {
		e.turns.pass()
		e.disarmCallLocked(cl)
	}
	if cl != e.call {
		// The machine moved on while the call ran (released, expired,
		// closed): the result is stale, and says nothing of leadership now.
		return acquireReply{leading: e.isLeader(), err: cl.ended}
	}
	return e.finishCallLocked(res)
}

// sendContextLocked gives the context the call is sent with. A call out of
// turn was cancelled, or ctx ended, while an earlier call is still out: it
// fails at once on an ended context, so it never reaches the server (nor
// counts as the connection's silence); the caller learns why from ctx.
func (e *election) sendContextLocked(cl *call, ctx context.Context, holds bool) context.Context {
	if !holds {
		return cancelled
	}
	// armCallLocked ends the call at once if it was cancelled or ctx has
	// ended, and send then fails fast with the reason.
	e.armCallLocked(cl, ctx)
	return cl.ctx
}

// awaitTurnLocked waits, with e.mu released, until cl has the turn, is
// cancelled, or ctx ends; it reports whether cl holds the turn.
func (e *election) awaitTurnLocked(cl *call, ctx context.Context) (holds bool) {
	wait := e.turns.join()
	if wait == nil {
		return true
	}
	cl.wake = make(chan struct{})
	e.unlock()
	select {
	case <-wait:
	case <-cl.wake:
	case <-ctx.Done():
	}
	e.mu.Lock()
	return e.turns.quit(wait)
}

// cancelled is a context that has ended, for calls that must fail at once.
var cancelled = func() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}()

// sendInTurn sends a release (do) once given the turn that take returned as
// wait, or at once, out of turn, when ctx ends first: it then fails fast.
func (e *election) sendInTurn(ctx context.Context, wait chan struct{}, do func(context.Context) error) error {
	holds := true
	if wait != nil {
		select {
		case <-wait:
		case <-ctx.Done():
		}
		e.mu.Lock()
		holds = e.turns.quit(wait)
		e.unlock()
	}
	err := do(ctx)
	if holds {
		e.mu.Lock()
		e.turns.pass()
		e.unlock()
	}
	return err
}

// finishCallLocked feeds the call in flight's result to the machine and answers
// the callers waiting for it, and returns their answer.
func (e *election) finishCallLocked(res transport.Result) acquireReply {
	cl := e.call
	e.call = nil
	// The result may have waited for the mutex: a grant whose lease ran
	// out meanwhile is a failed call, not a leadership (transport.ErrLateGrant).
	now := time.Now()
	res = res.AsOf(now)
	if errors.Is(res.Err, transport.ErrNotHolder) {
		// A definite "not yours" to the latest call sent: nothing earlier
		// can still be granted, since the server saw this call after it.
		e.serverMayHold = false
	}
	if res.Event == fsm.Granted {
		e.setDeadlineLocked(res.Deadline)
	}
	e.fireLocked(res.Event, res.Err)
	err := res.Err
	if errors.Is(err, transport.ErrNotHolder) {
		err = nil // "another client holds the lock" is an answer, not an error
	} else if err != nil {
		err = fmt.Errorf("quorumquest: %w", err)
	}
	// Leading as of the instant the grant was judged timely, or not.
	reply := acquireReply{leading: e.isLeaderAt(now), err: err}
	for _, w := range cl.waiters {
		w <- reply
	}
	if ka := e.keepAlive; ka != nil {
		switch res.Event {
		case fsm.Granted:
			ka.succeeded()
		case fsm.Failed:
			e.logs = append(e.logs, logEntry{level: slog.LevelWarn, msg: "quorumquest: renewal failed; retrying", err: res.Err})
			ka.failed()
		}
	}
	return reply
}

// abandonCallLocked abandons the call in flight, answering its waiters with err.
func (e *election) abandonCallLocked(err error) {
	if e.call == nil {
		return
	}
	e.cancelCallLocked(e.call, context.Canceled)
	e.detachCallLocked(err)
}

// detachCallLocked answers the call in flight's waiters with err and makes its
// result stale, but lets the call run on to its answer or its own
// deadline; the calls whose turn comes after it wait for that.
func (e *election) detachCallLocked(err error) {
	if e.call == nil {
		return
	}
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
		e.unlock()
		return ErrClosed
	}
	if e.m.Can(fsm.Release) {
		if e.call != nil && e.call == e.sending && e.call.renewal == nil {
			// Not cancelled: a cancelled TryAcquireLock may still reach
			// the server after the release and take the lock for a TTL
			// nobody uses. Waiting for its answer (Close still ends it)
			// orders the release after it. A call not yet sent, or a
			// KeepAlive (which renews nothing once the lock is
			// released), is cancelled.
			e.detachCallLocked(nil)
		} else {
			e.abandonCallLocked(nil)
		}
		e.fireLocked(fsm.Release, nil)
	} else {
		e.reportGaveUpLocked()
	}
	wait := e.turns.join()
	sent := e.grantsAsked
	// The caller's context may never end: Close must still be able to cut
	// the release short.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer e.afterFuncLocked(e.untilClose, cancel)()
	e.unlock()

	if err := e.sendInTurn(ctx, wait, e.rpc.Release); err != nil {
		return fmt.Errorf("quorumquest: %w", err)
	}
	e.mu.Lock()
	if e.grantsAsked == sent {
		// The server saw the release after every call sent before it, and
		// none was sent since: it holds nothing for us.
		e.serverMayHold = false
	}
	e.unlock()
	return nil
}

// isLeader serves IsLeader: the machine leads and the deadline has not
// passed. The deadline is checked here as well as by the expiry timer, so
// a reader never sees a lease that has run out, even before the timer has
// moved the machine to lost.
func (e *election) isLeader() bool { return e.isLeaderAt(time.Now()) }

// isLeaderAt is isLeader as of now.
func (e *election) isLeaderAt(now time.Time) bool {
	s := e.snap.Load()
	return s.state.Leading() && now.Before(s.deadline)
}

// remainingLease serves GetRemainingLease.
func (e *election) remainingLease() time.Duration {
	s := e.snap.Load()
	if !s.state.Leading() {
		return 0
	}
	return max(time.Until(s.deadline), 0)
}

// state serves State.
func (e *election) state() State { return e.snap.Load().state }

func (e *election) setDeadlineLocked(d time.Time) {
	e.snap.Store(snapshot{state: e.m.State(), deadline: d})
	e.expiry.setBy(d)
}

// expire runs on the expiry timer's goroutine.
func (e *election) expire() {
	e.callbackStarted()
	e.mu.Lock()
	defer e.alarmDone(e.expiry.fired()) // after unlock's logging, which is the callback's too
	defer e.unlock()
	s := e.snap.Load()
	if !s.state.Leading() {
		return // set for a lease that has ended since
	}
	if time.Now().Before(s.deadline) {
		e.expiry.setBy(s.deadline) // set for a deadline renewed since
		return
	}
	e.abandonCallLocked(nil)
	e.fireLocked(fsm.Expire, ErrLeaseExpired)
}

// fireLocked applies an event, publishes the new snapshot and tells the hooks
// and watchers. Leaving leadership stops keep-alive. (The expiry alarm is
// left to fire and find nothing to do: stopping it would cost the next
// lease a reset.)
func (e *election) fireLocked(ev fsm.Event, cause error) {
	ch, err := e.m.Fire(ev, cause)
	if err != nil {
		// Every caller checks the state first; reaching this is a bug, and
		// refusing the event keeps the machine consistent.
		e.logs = append(e.logs, logEntry{level: slog.LevelError, msg: "quorumquest: refused event", err: err})
		return
	}
	deadline := e.snap.Load().deadline
	if !ch.To.Leading() {
		deadline = time.Time{}
		e.stopKeepAliveLocked()
	}
	e.snap.Store(snapshot{state: ch.To, deadline: deadline})
	t := Transition{From: ch.From, To: ch.To, Event: ch.Event, Err: ch.Cause}
	if len(e.hooks) != 0 || len(e.watchers) != 0 || len(e.observers) != 0 {
		// Read only for whoever will see it: a call fires twice, and the
		// clock is a fair part of a call's cost (the log has its own time).
		t.At = time.Now()
	}
	if !e.silent {
		nt := t // t itself must not escape: it would be allocated every time
		e.logs = append(e.logs, logEntry{level: slog.LevelDebug, transition: &nt})
	}
	if ch.From.Leading() && !ch.To.Leading() {
		e.endLeadershipLocked(t)
	}
	for _, h := range e.hooks {
		h.push(t)
	}
	for w := range e.watchers {
		w.send(t)
	}
	e.reportLocked(t, ch.Event, deadline)
}

// close serves Close: leadership ends, calls in flight are cancelled, the
// lock is released if it may be held, and nothing of the client is left
// running when it returns: its keep-alive loop, its hooks' goroutines and
// every callback that has started (background.go) have ended.
func (e *election) close() error {
	e.mu.Lock()
	wasHolding := e.serverMayHold
	e.abandonCallLocked(ErrClosed)
	e.fireLocked(fsm.Close, nil)
	e.closed = true
	e.endUntilClose()
	e.awaitAlarmsLocked()
	if cl := e.sending; cl != nil {
		cl.cancel(ErrClosed) // a call detached by a release; it may outlive Close
	}
	var wait chan struct{}
	if wasHolding {
		wait = e.turns.join()
	}
	e.unlock()

	var err error
	if wasHolding {
		// Behind the calls just cancelled, and timed from now.
		ctx, cancel := context.WithTimeout(context.Background(), e.closeTimeout)
		if rerr := e.sendInTurn(ctx, wait, e.rpc.Release); rerr != nil {
			err = fmt.Errorf("quorumquest: releasing on close: %w", rerr)
		}
		cancel()
	}
	e.renewals.Wait()
	e.mu.Lock()
	for w := range e.watchers {
		e.unwatchLocked(w)
	}
	e.unlock()
	for _, h := range e.hooks {
		h.wait()
	}
	e.callbacks.Wait()
	return err
}

// unlock releases e.mu, then writes what was noted for the logger under
// it: the only way e.mu is released, so nothing noted is left behind.
func (e *election) unlock() {
	logs := e.logs
	e.logs = nil
	e.mu.Unlock()
	e.emit(logs)
}

// emit writes logs to the user's logger, which is user code: never under
// e.mu.
func (e *election) emit(logs []logEntry) {
	logger := e.logger
	ctx := context.Background()
	for _, l := range logs {
		if !logger.Enabled(ctx, l.level) { // spare the boxing of the arguments
			continue
		}
		if t := l.transition; t != nil {
			logger.Log(ctx, l.level, "quorumquest: transition", "from", t.From, "to", t.To, "event", t.Event, "err", t.Err)
			continue
		}
		logger.Log(ctx, l.level, l.msg, "err", l.err)
	}
}

// seedFrom derives a generator seed from a client ID.
func seedFrom(id string) (uint64, uint64) {
	h := fnv.New64a()
	h.Write([]byte(id))
	sum := h.Sum64()
	return sum, sum ^ 0x9e3779b97f4a7c15
}
