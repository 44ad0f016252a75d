package testutil

import (
	"errors"
	"fmt"
	"net"
	"sync"
)

// ProxyMode is what a [Proxy] does to the connections through it.
type ProxyMode int

// The modes of a [Proxy]. Each is a kind of outage seen at the connection
// layer, under any call: the in-memory server's faults play inside calls,
// behind a connection that never misbehaves.
const (
	// ProxyPass forwards bytes both ways, as a plain TCP relay. Switching
	// back to it heals the proxy for new connections and releases stalled
	// ones; silent connections stay silent.
	ProxyPass ProxyMode = iota
	// ProxyReset closes every connection with a TCP reset and resets each
	// new one as soon as it is accepted: a host that is up and refuses,
	// or a server process that is gone.
	ProxyReset
	// ProxySilent turns every connection, existing and new, into a black
	// hole: bytes from the client are read and dropped, nothing is ever
	// answered, and the connection is never closed, not even after the
	// proxy heals. This is what a vanished server host looks like to a
	// client (a rescheduled pod, a dropped NAT or conntrack entry, a
	// powered-off VM): the connection stays READY to gRPC.
	ProxySilent
	// ProxyStall holds bytes in both directions, on existing and new
	// connections, until the mode changes; ProxyPass then delivers them.
	// A congested or paused network path.
	ProxyStall
)

// String names the mode.
func (m ProxyMode) String() string {
	switch m {
	case ProxyPass:
		return "pass"
	case ProxyReset:
		return "reset"
	case ProxySilent:
		return "silent"
	case ProxyStall:
		return "stall"
	}
	return fmt.Sprintf("ProxyMode(%d)", int(m))
}

// ErrProxyClosed is returned by a closed [Proxy]'s methods.
var ErrProxyClosed = errors.New("testutil: proxy closed")

// Proxy is a TCP relay on a loopback port in front of a backend address,
// whose mode can be switched at any time to play connection-level faults
// over real sockets. One proxy per client gives each its own network path.
// All methods are safe for concurrent use.
type Proxy struct {
	lis  net.Listener
	wg   sync.WaitGroup // the accept loop and every relay goroutine
	done chan struct{}  // closed by Close

	mu      sync.Mutex
	backend string
	mode    ProxyMode
	changed chan struct{} // closed and replaced on every mode change
	pipes   map[*pipe]struct{}
	closed  bool

	frames frameLog
}

// pipe is one client connection and, unless silent, its backend connection.
type pipe struct {
	client, backend net.Conn
	silent          bool // guarded by Proxy.mu; never reverts
	once            sync.Once
}

// NewProxy listens on a loopback port and relays to backend (host:port).
func NewProxy(backend string) (*Proxy, error) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := newRelay(backend)
	p.lis = lis
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// newRelay is a Proxy without a listener of its own: a [Fleet]'s balancer
// hands it the connections it picked for its backend.
func newRelay(backend string) *Proxy {
	return &Proxy{
		backend: backend, done: make(chan struct{}),
		changed: make(chan struct{}), pipes: map[*pipe]struct{}{},
	}
}

// Addr is the address clients dial.
func (p *Proxy) Addr() string { return p.lis.Addr().String() }

// Mode returns the current mode.
func (p *Proxy) Mode() ProxyMode {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.mode
}

// SetBackend makes new connections go to addr; existing ones keep theirs.
func (p *Proxy) SetBackend(addr string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.backend = addr
}

// Frames returns what the proxy saw of the HTTP/2 frames it relayed: the
// pings clients sent and the GOAWAYs servers sent. A test of keepalive
// behaviour reads it; the bytes themselves are relayed untouched.
func (p *Proxy) Frames() Frames { return p.frames.snapshot() }

// Conns reports how many client connections the proxy holds open,
// silent ones included.
func (p *Proxy) Conns() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.pipes)
}

// SetMode switches the proxy to m, applying it to existing connections at
// once (see the modes) and to every later one.
func (p *Proxy) SetMode(m ProxyMode) error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return ErrProxyClosed
	}
	p.mode = m
	close(p.changed)
	p.changed = make(chan struct{})
	var reset []*pipe
	for pp := range p.pipes {
		switch m {
		case ProxyReset:
			reset = append(reset, pp)
		case ProxySilent:
			p.silenceLocked(pp)
		}
	}
	p.mu.Unlock()
	for _, pp := range reset {
		pp.close(true)
	}
	return nil
}

// Close stops accepting, closes every connection and waits for the
// proxy's goroutines. It is idempotent.
func (p *Proxy) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	close(p.done)
	pipes := make([]*pipe, 0, len(p.pipes))
	for pp := range p.pipes {
		pipes = append(pipes, pp)
	}
	p.mu.Unlock()
	var err error
	if p.lis != nil {
		err = p.lis.Close()
	}
	for _, pp := range pipes {
		pp.close(false)
	}
	p.wg.Wait()
	return err
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.lis.Accept()
		if err != nil {
			return // closed
		}
		p.handle(c)
	}
}

// handle relays c, a client connection accepted by the proxy's listener
// or handed over by a [Fleet]'s balancer, according to the mode.
func (p *Proxy) handle(c net.Conn) {
	p.mu.Lock()
	mode, backend := p.mode, p.backend
	p.mu.Unlock()
	switch mode {
	case ProxyReset:
		resetConn(c)
		return
	case ProxySilent:
		p.start(&pipe{client: c, silent: true})
		return
	}
	// Pass or stall: connect to the backend now; a stalled pipe holds
	// the bytes, not the connection. A backend that refuses is passed
	// on to the client as a reset.
	b, err := net.Dial("tcp", backend)
	if err != nil {
		resetConn(c)
		return
	}
	p.start(&pipe{client: c, backend: b})
}

// start registers pp and runs its relays.
func (p *Proxy) start(pp *pipe) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		pp.close(false)
		return
	}
	switch {
	case p.mode == ProxyReset:
		// The mode changed while the backend was dialled.
		p.mu.Unlock()
		pp.close(true)
		return
	case p.mode == ProxySilent && !pp.silent:
		p.silenceLocked(pp)
	}
	p.pipes[pp] = struct{}{}
	silent := pp.silent
	p.mu.Unlock()
	p.wg.Add(1)
	go p.relay(pp, pp.client, pp.backend, true)
	if !silent {
		p.wg.Add(1)
		go p.relay(pp, pp.backend, pp.client, false)
	}
}

// silenceLocked turns pp into a black hole: its backend side goes away,
// its client side stays open and unanswered. p.mu must be held.
func (p *Proxy) silenceLocked(pp *pipe) {
	pp.silent = true
	if pp.backend != nil {
		pp.backend.Close() // ends the backend-to-client relay, which leaves the client open
	}
}

// relay copies from src to dst, passing each chunk through the gate.
// fromClient tells the direction: only the client-to-backend relay keeps
// reading a silent pipe (to drop what it reads), and only it may end the
// client connection of a silent pipe, when the client closes it.
func (p *Proxy) relay(pp *pipe, src, dst net.Conn, fromClient bool) {
	defer p.wg.Done()
	scan := newFrameScanner(&p.frames, fromClient)
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && p.gate(pp) {
			scan.feed(buf[:n])
			if _, werr := dst.Write(buf[:n]); werr != nil && !p.isSilent(pp) {
				break
			}
		}
		if err != nil {
			break
		}
	}
	if !fromClient && p.isSilent(pp) {
		return // the backend went away because the pipe went silent
	}
	pp.close(false)
	p.mu.Lock()
	delete(p.pipes, pp)
	p.mu.Unlock()
}

func (p *Proxy) isSilent(pp *pipe) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return pp.silent
}

// gate waits while the proxy stalls and reports whether a chunk read from
// pp may be delivered: false once pp is silent (the chunk is dropped).
func (p *Proxy) gate(pp *pipe) bool {
	for {
		p.mu.Lock()
		silent, mode, changed := pp.silent, p.mode, p.changed
		p.mu.Unlock()
		switch {
		case silent:
			return false
		case mode != ProxyStall:
			return true
		}
		select {
		case <-changed:
		case <-p.done:
			return false
		}
	}
}

// close ends both sides of pp, with a TCP reset when rst is set.
func (pp *pipe) close(rst bool) {
	pp.once.Do(func() {
		if rst {
			resetConn(pp.client)
		} else {
			pp.client.Close()
		}
		if pp.backend != nil {
			pp.backend.Close()
		}
	})
}

// resetConn closes c with a TCP reset instead of an orderly FIN.
func resetConn(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	c.Close()
}
