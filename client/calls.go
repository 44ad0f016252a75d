package client

import "context"

// calls is the record of an election's calls to the server: the one whose
// result counts, the one being sent (which an abandoned call stays until it
// returns), their turns, and whether the server may hold a grant the client
// never heard of. Its methods are called with the election's mutex held;
// awaitTurn and sendInTurn release it while they wait.
type calls struct {
	current *call
	sending *call
	turns   turns
	// serverMayHold makes Close release. It is cleared only by ErrNotHolder
	// or by a release with no acquisition or renewal sent since it was
	// queued, which grantsAsked tells.
	serverMayHold bool
	grantsAsked   uint64
}

// call is a TryAcquireLock or KeepAlive and the TryAcquireLock callers that
// wait for its outcome besides the one that started it.
type call struct {
	ctx     context.Context
	cancel  context.CancelCauseFunc
	renewal *keepAlive // nil for TryAcquireLock
	waiters []chan acquireReply
	ended   error // why it was abandoned, for its caller
	// cancelled is set when it is cancelled before it is sent; wake, made
	// only for a call that waits for its turn, is then closed.
	cancelled bool
	wake      chan struct{}
}

type acquireReply struct {
	leading bool
	err     error
}

// begin makes a new call the one whose result counts. From here the server
// may grant, whatever the client hears.
func (c *calls) begin(renewal *keepAlive) *call {
	cl := &call{renewal: renewal}
	c.current = cl
	c.grantsAsked++
	c.serverMayHold = true
	return cl
}

// share returns a channel for the outcome of the call in flight, or nil when
// there is none.
func (c *calls) share() chan acquireReply {
	if c.current == nil {
		return nil
	}
	reply := make(chan acquireReply, 1)
	c.current.waiters = append(c.current.waiters, reply)
	return reply
}

// awaitTurn waits, with g released, until cl has the turn, is cancelled or
// ctx ends, and reports whether cl holds the turn.
func (c *calls) awaitTurn(g *guard, cl *call, ctx context.Context) (holds bool) {
	wait := c.turns.join()
	if wait == nil {
		return true
	}
	cl.wake = make(chan struct{})
	g.unlock()
	select {
	case <-wait:
	case <-cl.wake:
	case <-ctx.Done():
	}
	g.lock()
	return c.turns.quit(wait)
}

// arm gives cl the context it is sent with: ctx's, ended by cancel when cl
// is abandoned. A call out of turn gets an ended context, so that it fails
// at once and never reaches the server.
func (c *calls) arm(cl *call, ctx context.Context, holds bool) context.Context {
	if !holds {
		return cancelled
	}
	cl.ctx, cl.cancel = context.WithCancelCause(ctx)
	c.sending = cl
	if cl.cancelled {
		cl.cancel(context.Canceled)
	}
	return cl.ctx
}

var cancelled = func() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}()

// returned is called once cl has returned: it frees cl's context and passes
// the turn on, if cl held it.
func (c *calls) returned(cl *call, holds bool) {
	if holds {
		c.turns.pass()
		cl.cancel(context.Canceled)
		c.sending = nil
	}
}

// counts reports whether cl's result still counts: it was not abandoned.
func (c *calls) counts(cl *call) bool { return c.current == cl }

// finish ends the call whose result counts and answers its waiters.
func (c *calls) finish(r acquireReply) {
	for _, w := range c.current.waiters {
		w <- r
	}
	c.current = nil
}

// cancel cancels cl, whether it is being sent or waits for its turn.
func (c *calls) cancel(cl *call, cause error) {
	if c.sending == cl {
		cl.cancel(cause)
	} else if !cl.cancelled {
		cl.cancelled = true
		if cl.wake != nil {
			close(cl.wake)
		}
	}
}

// cancelRenewal cancels the call in flight if ka sent it.
func (c *calls) cancelRenewal(ka *keepAlive) {
	if cl := c.current; cl != nil && cl.renewal == ka {
		c.cancel(cl, context.Canceled)
	}
}

// abandon cancels the call in flight and answers its waiters with err.
func (c *calls) abandon(err error) {
	if c.current != nil {
		c.cancel(c.current, context.Canceled)
		c.detach(err)
	}
}

// detach answers the waiters of the call in flight with err and makes its
// result stale, but lets it run on to its answer or its deadline; the
// calls whose turn comes after it wait for that.
func (c *calls) detach(err error) {
	if c.current == nil {
		return
	}
	c.current.ended = err
	c.finish(acquireReply{leading: false, err: err})
}

// forRelease ends the call in flight before a release. A TryAcquireLock
// already sent is detached, not cancelled: cancelled, it could still reach
// the server after the release and take the lock for a TTL nobody uses.
func (c *calls) forRelease() {
	if cl := c.current; cl != nil && cl == c.sending && cl.renewal == nil {
		c.detach(nil)
	} else {
		c.abandon(nil)
	}
}

// released is told a release has been answered; sent is grantsAsked when
// it was queued.
func (c *calls) released(sent uint64) {
	if c.grantsAsked == sent {
		c.serverMayHold = false
	}
}

// sendInTurn sends a release, with g not held, once given the turn that
// join returned as wait, or at once, out of turn, when ctx ends first: it
// then fails fast.
func (c *calls) sendInTurn(g *guard, ctx context.Context, wait chan struct{}, send func(context.Context) error) error {
	holds := true
	if wait != nil {
		select {
		case <-wait:
		case <-ctx.Done():
		}
		g.lock()
		holds = c.turns.quit(wait)
		g.unlock()
	}
	err := send(ctx)
	if holds {
		g.lock()
		c.turns.pass()
		g.unlock()
	}
	return err
}
