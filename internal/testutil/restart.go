package testutil

import (
	"errors"
	"sync"

	"google.golang.org/grpc"
)

// ErrServing is returned by [TCPServer.Start] while the server is already
// serving.
var ErrServing = errors.New("testutil: server already serving")

// TCPServer serves a [Server] over real gRPC on a fixed TCP address and
// can be stopped and started again on that same address: a server process
// restarted in front of the same store. The lock state lives in the
// Server, as it lives in the real server's backend, so it survives the
// restart (use [Server.Restart] as well for a store that loses it).
type TCPServer struct {
	s    *Server
	addr string
	opts []grpc.ServerOption

	mu   sync.Mutex
	stop func() // nil while stopped
}

// StartTCPServer serves s on addr ("127.0.0.1:0" picks a port, which
// every restart then reuses) with the given grpc.ServerOptions.
func StartTCPServer(s *Server, addr string, opts ...grpc.ServerOption) (*TCPServer, error) {
	bound, stop, err := ServeTCP(s, addr, opts...)
	if err != nil {
		return nil, err
	}
	return &TCPServer{s: s, addr: bound, opts: opts, stop: stop}, nil
}

// Addr is the address the server listens on, across restarts.
func (t *TCPServer) Addr() string { return t.addr }

// Serving reports whether the server is up.
func (t *TCPServer) Serving() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.stop != nil
}

// Stop shuts the gRPC server down as ServeTCP's stop does (gracefully,
// GOAWAY first, forced after a few seconds); connections are refused until
// Start. Stopping a stopped server does nothing.
func (t *TCPServer) Stop() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stop != nil {
		t.stop()
		t.stop = nil
	}
}

// Start serves again on the same address, with a new grpc.Server.
func (t *TCPServer) Start() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stop != nil {
		return ErrServing
	}
	_, stop, err := ServeTCP(t.s, t.addr, t.opts...)
	if err != nil {
		return err
	}
	t.stop = stop
	return nil
}

// Restart is Stop then Start.
func (t *TCPServer) Restart() error {
	t.Stop()
	return t.Start()
}
