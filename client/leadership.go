package client

import (
	"context"
	"fmt"
)

type leadershipRequest struct {
	ctx   context.Context
	reply chan leadershipReply
}

type leadershipReply struct {
	ctx    context.Context
	cancel context.CancelCauseFunc
}

// leadership returns a context that is cancelled the moment this client's
// leadership ends (lost, released or closed) or when parent ends. If the
// client does not lead, the context is already cancelled. Its cause
// (context.Cause) matches ErrNotLeader and wraps the reason leadership ended.
func (q *QuorumQuestClient) leadership(parent context.Context) (context.Context, context.CancelFunc) {
	reply := make(chan leadershipReply, 1)
	if err := q.submit(parent, leadershipRequest{ctx: parent, reply: reply}); err != nil {
		ctx, cancel := context.WithCancelCause(parent)
		cancel(err)
		return ctx, func() {}
	}
	r := <-reply
	return r.ctx, func() { r.cancel(context.Canceled) }
}

func (l *loop) leadership(r leadershipRequest) {
	ctx, cancel := context.WithCancelCause(r.ctx)
	if l.c.IsLeader() {
		l.tenure = append(l.tenure, cancel)
	} else {
		cancel(ErrNotLeader)
	}
	r.reply <- leadershipReply{ctx: ctx, cancel: cancel}
}

// endTenure cancels every leadership context when leadership ends.
func (l *loop) endTenure(t Transition) {
	cause := fmt.Errorf("%w: %s -> %s on %s", ErrNotLeader, t.From, t.To, t.Event)
	if t.Err != nil {
		cause = fmt.Errorf("%w: %s -> %s on %s: %w", ErrNotLeader, t.From, t.To, t.Event, t.Err)
	}
	for _, cancel := range l.tenure {
		cancel(cause)
	}
	l.tenure = nil
}
