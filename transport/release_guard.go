package transport

import (
	"context"
	"time"

	"google.golang.org/grpc/status"
)

// lockID names a lock and a client, the scope of the release guard.
type lockID struct{ service, domain, client string }

// releaseGuard counts the release copies for one lockID that may still
// land on a server; done is closed when none may. Guarded by Conn.mu.
type releaseGuard struct {
	copies int
	done   chan struct{}
}

// guardLocked counts one more release copy for id.
func (c *Conn) guardLocked(id lockID) {
	g := c.guards[id]
	if g == nil {
		g = &releaseGuard{done: make(chan struct{})}
		c.guards[id] = g
	}
	g.copies++
}

// unguard ends one release copy's hold: at once when it was answered (the
// server applied it, or never will), otherwise at its deadline, until
// which a request already on the wire may still be applied.
func (c *Conn) unguard(id lockID, answered bool, deadline time.Time) {
	if now := time.Now(); !answered && now.Before(deadline) {
		time.AfterFunc(deadline.Sub(now), func() { c.unguard(id, true, time.Time{}) })
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	g := c.guards[id]
	if g == nil { // Close released every guard
		return
	}
	if g.copies--; g.copies == 0 {
		close(g.done)
		delete(c.guards, id)
	}
}

// awaitReleases holds a TryAcquireLock or KeepAlive back while a release of
// the same lock by the same client may still land: a release copy applied
// after it would delete the lock this call takes or renews, while the
// client believes it holds it. The wait ends with ctx, with the ctx's
// status.
func (c *Conn) awaitReleases(ctx context.Context, id lockID) error {
	c.mu.Lock()
	g := c.guards[id]
	c.mu.Unlock()
	if g == nil {
		return nil
	}
	if c.onHold != nil {
		c.onHold()
	}
	select {
	case <-g.done:
		return nil
	case <-ctx.Done():
		return status.FromContextError(ctx.Err()).Err()
	}
}
