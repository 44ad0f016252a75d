package transport

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/quorum-quest/client-go/pb"
	"google.golang.org/grpc/status"
)

// callKind is what a hedge of a call may do.
type callKind int

const (
	// renewal: TryAcquireLock and KeepAlive. The losing copy is cancelled
	// (a late one renews or grants only this client's own lock: see
	// docs/safety.md), and the call waits for this client's releases.
	renewal callKind = iota
	// release: ReleaseLock. No copy is cancelled, and every copy holds the
	// release guard until it was answered or passed its deadline.
	release
)

// outcome is what one copy of a call returned.
type outcome[R any] struct {
	resp R
	err  error
}

// race is one call and its copies, the first answer winning.
type race[R any] struct {
	c        *Conn
	kind     callKind
	id       lockID
	call     func(context.Context, pb.LeaderElectionServiceClient) (R, error)
	ctx      context.Context
	deadline time.Time // a release's copies end by it
	results  chan outcome[R]
	won      atomic.Bool
	cancels  []context.CancelFunc
}

// invoke makes a call on one link, and again on the other if it is not
// answered within the hedge delay (or fails at once without an answer).
// The first answer is returned; if none comes, the last failure.
func invoke[R any](c *Conn, ctx context.Context, kind callKind, id lockID, call func(context.Context, pb.LeaderElectionServiceClient) (R, error)) (R, error) {
	var zero R
	if ctx == nil {
		return zero, ErrNilContext
	}
	if ctx.Err() != nil {
		// Sent on an ended context, a call fails without reaching a server
		// (the client counts on it for calls out of turn); a release's
		// copies, which outlive ctx, must not change that.
		return zero, status.FromContextError(ctx.Err()).Err()
	}
	if kind == renewal {
		if err := c.awaitReleases(ctx, id); err != nil {
			return zero, err
		}
	}
	r := &race[R]{c: c, kind: kind, id: id, call: call, ctx: ctx, results: make(chan outcome[R], 3)}
	var done <-chan struct{} // a renewal's copies end with ctx; a release's do not
	if kind == release {
		done = ctx.Done()
		d, ok := ctx.Deadline()
		if !ok {
			d = time.Now().Add(c.silence)
		}
		r.deadline = d
	}
	first, err := c.takeLink(nil, kind, id)
	if err != nil {
		return zero, err
	}
	c.calls.Add(1)
	r.send(first)
	timer := time.NewTimer(c.HedgeDelay())
	defer timer.Stop()
	pending, hedged, rescued := 1, false, false
	var second *link
	var last outcome[R]
	sendCopy := func(l *link) {
		c.hedged.Add(1)
		r.send(l)
		pending++
	}
	hedge := func() {
		hedged = true
		if ctx.Err() != nil {
			return // the copy could only fail at once
		}
		if l, err := c.takeLink(first, kind, id); err == nil {
			sendCopy(l)
			second = l
			timer.Reset(c.HedgeDelay())
		}
	}
	// rescue sends a third copy on a new link when both copies waited
	// the hedge delay on links that answered nothing meanwhile: behind a
	// balancer both links may have reached the one server that went
	// silent, and waiting the call timeout to replace one would outlast a
	// short lease.
	rescue := func() {
		rescued = true
		if ctx.Err() != nil {
			return
		}
		if l, err := c.replaceSilent(first, second, kind, id); err == nil {
			sendCopy(l)
		}
	}
	for {
		select {
		case o := <-r.results:
			pending--
			if answered(o.err) {
				r.win()
				return o.resp, o.err
			}
			last = o
			if !hedged {
				hedge()
			}
			if pending == 0 {
				return last.resp, last.err
			}
		case <-timer.C:
			// The copy last sent decides: unanswered for the delay on a
			// link that answered nothing either, the next copy goes.
			waitingOn, next := first, hedge
			switch {
			case !hedged:
			case !rescued && second != nil:
				waitingOn, next = second, rescue
			default:
				continue
			}
			if due, d := c.hedgeDue(waitingOn); due {
				next()
			} else {
				timer.Reset(d)
			}
		case <-done:
			return zero, status.FromContextError(ctx.Err()).Err()
		}
	}
}

// send starts a copy of the call on l, which takeLink counted it on.
func (r *race[R]) send(l *link) {
	var ctx context.Context
	var cancel context.CancelFunc
	if r.kind == release {
		// Never cancelled, so that the guard knows when it may land.
		ctx, cancel = context.WithDeadline(context.WithoutCancel(r.ctx), r.deadline)
	} else {
		ctx, cancel = context.WithCancel(r.ctx)
	}
	r.cancels = append(r.cancels, cancel)
	go func() {
		defer cancel()
		sent := time.Now()
		resp, err := r.call(ctx, l.stub)
		r.c.settle(l, sent, err, err != nil && r.won.Load())
		if r.kind == release {
			r.c.unguard(r.id, answered(err), r.deadline)
		}
		r.results <- outcome[R]{resp, err}
	}()
}

// win marks the race as won, and cancels a renewal's other copy.
func (r *race[R]) win() {
	r.won.Store(true)
	if r.kind == renewal {
		for _, cancel := range r.cancels {
			cancel()
		}
	}
}
