package client

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/quorum-quest/client-go/fsm"
	"github.com/quorum-quest/client-go/transport"
)

// loop is the one goroutine that owns a client's machine. Everything that
// changes the machine arrives here as a message: requests from the public
// methods, results of calls, and the expiry and keep-alive timers.
type loop struct {
	c      *QuorumQuestClient
	m      *fsm.Machine
	hooks  []*serial[Transition]
	expiry *time.Timer // fires at the lease deadline while leading
	// sender runs the calls to the server, one at a time, in the order the
	// loop made them: a release can never overtake the acquisition before
	// it, nor the reverse.
	sender *serial[func()]

	// lifetime is cancelled by Close, cancelling every call in flight.
	lifetime context.Context
	endLife  context.CancelFunc
	// stopped is closed by Close, so that call goroutines whose results
	// nobody will read can still exit.
	stopped chan struct{}
	results chan callResult

	// call is the TryAcquireLock or KeepAlive in flight, nil when none. A
	// result from any other call is stale and dropped.
	call      *call
	keepAlive *keepAlive // nil when keep-alive is not running
	// rng jitters the loop's timers. It is seeded from the client ID: IDs
	// are unique among a lock's candidates, which is all the decorrelation
	// jitter needs, and a test replaying a seed gets the same timings.
	rng *rand.Rand

	watchers map[*watcher]struct{}
	// tenure holds the cancel functions of the contexts handed out for the
	// current leadership (see leadership.go).
	tenure []context.CancelCauseFunc
}

// call is a TryAcquireLock or KeepAlive in flight and the TryAcquireLock
// callers waiting for its outcome.
type call struct {
	cancel  context.CancelFunc
	waiters []chan acquireReply
}

type callResult struct {
	call *call
	res  transport.Result
}

func newLoop(c *QuorumQuestClient) *loop {
	l := &loop{
		c:        c,
		m:        fsm.New(),
		expiry:   time.NewTimer(time.Hour),
		stopped:  make(chan struct{}),
		results:  make(chan callResult),
		sender:   newSerial(func(call func()) { call() }),
		rng:      rand.New(rand.NewPCG(seedFrom(c.cfg.clientID))),
		watchers: map[*watcher]struct{}{},
	}
	l.expiry.Stop()
	l.lifetime, l.endLife = context.WithCancel(context.Background())
	for _, h := range c.cfg.hooks {
		l.hooks = append(l.hooks, startHook(h, c.cfg.logger))
	}
	return l
}

func (l *loop) run() {
	defer close(l.c.loopDone)
	for {
		select {
		case req := <-l.c.requests:
			if done := l.handle(req); done {
				return
			}
		case r := <-l.results:
			l.finishCall(r)
		case <-l.expiry.C:
			l.expire()
		case <-l.keepAlive.tick():
			l.renew()
		case <-l.keepAlive.ended():
			l.stopKeepAlive()
		}
	}
}

// handle serves one request; it reports true once the client is closed.
func (l *loop) handle(req any) bool {
	switch r := req.(type) {
	case acquireRequest:
		l.acquire(r)
	case releaseRequest:
		l.release(r)
	case startKeepAliveRequest:
		r.reply <- l.startKeepAlive(r.ctx)
	case stopKeepAliveRequest:
		l.stopKeepAlive()
		r.reply <- nil
	case watchRequest:
		l.watch(r)
	case unwatchRequest:
		l.unwatch(r.w)
	case leadershipRequest:
		l.leadership(r)
	case closeRequest:
		r.reply <- l.close()
		return true
	}
	return false
}

func (l *loop) acquire(r acquireRequest) {
	if l.call != nil { // acquiring or refreshing: share the outcome
		l.call.waiters = append(l.call.waiters, r.reply)
		return
	}
	l.fire(fsm.Acquire, nil)
	l.startCall(r.ctx, l.c.rpc.TryAcquire, time.Time{}, r.reply)
}

func (l *loop) release(r releaseRequest) {
	if l.m.Can(fsm.Release) {
		l.endCall(nil)
		l.fire(fsm.Release, nil)
	}
	l.sender.push(func() {
		// The caller's context may never end: Close must still be able to
		// cut the release short.
		ctx, cancel := context.WithCancel(r.ctx)
		defer cancel()
		defer context.AfterFunc(l.lifetime, cancel)()
		if err := l.c.rpc.Release(ctx); err != nil {
			r.reply <- fmt.Errorf("quorumquest: %w", err)
			return
		}
		r.reply <- nil
	})
}

// startCall queues TryAcquireLock or KeepAlive (do) behind earlier calls
// and registers it as the call in flight; its result comes back through
// l.results.
func (l *loop) startCall(ctx context.Context, do func(context.Context, time.Time) transport.Result, before time.Time, waiters ...chan acquireReply) {
	ctx, cancel := context.WithCancel(ctx)
	cl := &call{cancel: cancel, waiters: waiters}
	l.call = cl
	// Close cancels the call through endCall.
	l.sender.push(func() {
		res := do(ctx, before)
		select {
		case l.results <- callResult{call: cl, res: res}:
		case <-l.stopped:
		}
	})
}

// finishCall feeds a call's result to the machine and answers its waiters.
func (l *loop) finishCall(r callResult) {
	if r.call != l.call {
		return // the machine moved on since the call started
	}
	l.call = nil
	r.call.cancel()
	if r.res.Event == fsm.Granted {
		l.setDeadline(r.res.Deadline)
	}
	l.fire(r.res.Event, r.res.Err)
	leading, err := l.c.IsLeader(), r.res.Err
	if errors.Is(err, transport.ErrNotHolder) {
		err = nil // "another client holds the lock" is an answer, not an error
	} else if err != nil {
		err = fmt.Errorf("quorumquest: %w", err)
	}
	for _, w := range r.call.waiters {
		w <- acquireReply{leading: leading, err: err}
	}
	if ka := l.keepAlive; ka != nil {
		switch r.res.Event {
		case fsm.Granted:
			ka.succeeded()
		case fsm.Failed:
			l.c.cfg.logger.Warn("quorumquest: renewal failed; retrying", "err", r.res.Err)
			ka.failed()
		}
	}
}

// endCall abandons the call in flight, answering its waiters with err.
func (l *loop) endCall(err error) {
	if l.call == nil {
		return
	}
	l.call.cancel()
	for _, w := range l.call.waiters {
		w <- acquireReply{leading: false, err: err}
	}
	l.call = nil
}

func (l *loop) setDeadline(d time.Time) {
	l.c.snap.Store(&snapshot{state: l.m.State(), deadline: d})
	l.expiry.Reset(time.Until(d))
}

func (l *loop) expire() {
	s := l.c.snap.Load()
	if !s.state.Leading() || time.Now().Before(s.deadline) {
		return
	}
	l.endCall(nil)
	l.fire(fsm.Expire, ErrLeaseExpired)
}

// fire applies an event, publishes the new snapshot and tells the hooks.
// Leaving leadership stops the expiry timer and keep-alive.
func (l *loop) fire(e fsm.Event, cause error) {
	ch, err := l.m.Fire(e, cause)
	if err != nil {
		// Every caller checks the state first; reaching this is a bug, and
		// refusing the event keeps the machine consistent.
		l.c.cfg.logger.Error("quorumquest: refused event", "err", err)
		return
	}
	deadline := l.c.snap.Load().deadline
	if !ch.To.Leading() {
		deadline = time.Time{}
		l.expiry.Stop()
		l.stopKeepAlive()
	}
	l.c.snap.Store(&snapshot{state: ch.To, deadline: deadline})
	t := Transition{From: ch.From, To: ch.To, Event: string(ch.Event), At: time.Now(), Err: ch.Cause}
	if l.c.cfg.logger.Enabled(context.Background(), slog.LevelDebug) { // spare the boxing of the arguments
		l.c.cfg.logger.Debug("quorumquest: transition", "from", t.From, "to", t.To, "event", t.Event, "err", t.Err)
	}
	if ch.From.Leading() && !ch.To.Leading() {
		l.endTenure(t)
	}
	for _, h := range l.hooks {
		h.push(t)
	}
	for w := range l.watchers {
		w.send(t)
	}
}

func (l *loop) close() error {
	wasHolding := l.m.State() == fsm.Acquiring || l.m.State().Leading()
	l.endCall(ErrClosed)
	l.fire(fsm.Close, nil)
	l.endLife()
	close(l.stopped)
	var err error
	if wasHolding {
		// Queued behind the calls just cancelled, and timed from now.
		ctx, cancel := context.WithTimeout(context.Background(), l.c.cfg.closeTimeout)
		l.sender.push(func() {
			if rerr := l.c.rpc.Release(ctx); rerr != nil {
				err = fmt.Errorf("quorumquest: releasing on close: %w", rerr)
			}
		})
		defer cancel()
	}
	l.sender.wait()
	for w := range l.watchers {
		l.unwatch(w)
	}
	for _, h := range l.hooks {
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
