package testutil

import (
	"context"
	"errors"
	"net"
	"sync"
)

// ErrCableCut is what dialling through a cut Cable returns.
var ErrCableCut = errors.New("testutil: network cable cut")

// Cable is one client's network to a real server over TCP. Cut closes its
// connections and refuses new ones, as when a machine drops off the
// network: the client cannot even release its lock. Give it to a client
// with grpc.WithContextDialer(cable.Dial).
type Cable struct {
	mu    sync.Mutex
	conns []net.Conn
	down  bool
}

// Dial connects to addr over TCP unless the cable is cut.
func (c *Cable) Dial(ctx context.Context, addr string) (net.Conn, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.down {
		return nil, ErrCableCut
	}
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	if err == nil {
		c.conns = append(c.conns, conn)
	}
	return conn, err
}

// Cut closes every connection made through the cable and refuses new ones.
func (c *Cable) Cut() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.down = true
	for _, conn := range c.conns {
		conn.Close()
	}
	c.conns = nil
}

// IsCut reports whether Cut was called.
func (c *Cable) IsCut() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.down
}
