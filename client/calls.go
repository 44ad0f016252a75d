package client

import (
	"context"
	"time"
)

// calls is the record of an election's calls to the server. Its methods are
// called with the election's mutex held; awaitTurn and sendInTurn release
// it while they wait.
type calls struct {
	current *call // the call whose result counts
	sending *call // the call being sent, until it returns, even abandoned
	turns   turns
	// serverMayHold: a grant may exist that the client never heard of, so
	// Close releases. Cleared by ErrNotHolder or by a release answered with
	// no call sent since it was queued (grantsAsked).
	serverMayHold bool
	grantsAsked   uint64
}

// call is a TryAcquireLock or KeepAlive, and the TryAcquireLock callers
// that share its outcome.
type call struct {
	cancel    context.CancelFunc
	renewal   *keepAlive // nil for TryAcquireLock
	waiters   []chan acquireReply
	ended     error // why it was abandoned, for its caller
	cancelled bool  // before it was sent; wake is then closed
	wake      chan struct{}
}

type acquireReply struct {
	leading bool
	err     error
}

func (c *calls) begin(renewal *keepAlive) *call {
	cl := &call{renewal: renewal}
	c.current = cl
	c.grantsAsked++
	c.serverMayHold = true // from here the server may grant, whatever we hear
	return cl
}

func (c *calls) share() chan acquireReply {
	if c.current == nil {
		return nil
	}
	reply := make(chan acquireReply, 1)
	c.current.waiters = append(c.current.waiters, reply)
	return reply
}

// awaitTurn waits, with g released, for cl's turn, its cancelling or the
// end of ctx, and reports whether cl holds the turn.
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

// arm gives cl its one context, which the transport uses as it is. A call
// out of turn gets an ended one: it fails at once and never reaches a server.
func (c *calls) arm(cl *call, ctx context.Context, holds bool, deadline time.Time) context.Context {
	if !holds {
		return cancelled
	}
	callCtx, cancel := context.WithDeadline(ctx, deadline)
	cl.cancel = cancel
	c.sending = cl
	if cl.cancelled {
		cancel()
	}
	return callCtx
}

var cancelled = func() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}()

func (c *calls) returned(cl *call, holds bool) {
	if holds {
		c.turns.pass()
		cl.cancel()
		c.sending = nil
	}
}

func (c *calls) counts(cl *call) bool { return c.current == cl }

func (c *calls) finish(r acquireReply) {
	for _, w := range c.current.waiters {
		w <- r
	}
	c.current = nil
}

func (c *calls) cancel(cl *call) {
	if c.sending == cl {
		cl.cancel()
	} else if !cl.cancelled {
		cl.cancelled = true
		if cl.wake != nil {
			close(cl.wake)
		}
	}
}

func (c *calls) cancelRenewal(ka *keepAlive) {
	if cl := c.current; cl != nil && cl.renewal == ka {
		c.cancel(cl)
	}
}

func (c *calls) abandon(err error) {
	if c.current != nil {
		c.cancel(c.current)
		c.detach(err)
	}
}

// detach makes the result of the call in flight stale but lets it run on,
// so that the calls after it still wait for its answer or its deadline.
func (c *calls) detach(err error) {
	if c.current == nil {
		return
	}
	c.current.ended = err
	c.finish(acquireReply{leading: false, err: err})
}

// forRelease ends the call in flight before a release. A TryAcquireLock
// sent is detached, not cancelled: it could still reach the server after
// the release and take the lock for a TTL nobody uses.
func (c *calls) forRelease() {
	if cl := c.current; cl != nil && cl == c.sending && cl.renewal == nil {
		c.detach(nil)
	} else {
		c.abandon(nil)
	}
}

func (c *calls) released(sent uint64) {
	if c.grantsAsked == sent {
		c.serverMayHold = false
	}
}

// sendInTurn sends a release, with g not held, in the turn join returned
// as wait, or out of turn, failing fast, once ctx ends.
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
