package client

import (
	"fmt"
	"time"

	"github.com/quorum-quest/client-go/transport"
	"google.golang.org/grpc"
)

// DialOptions returns the gRPC dial options the client uses for a
// connection it dials itself, for a lease of length ttl and the given
// options (WithRequestTimeout, WithRetryInterval, WithClockDrift and
// WithSafetyMargin change them): plaintext credentials, no HTTP/2
// keepalive pings, a connect attempt abandoned after a call timeout (the
// request timeout, or the usable lease when shorter) and a reconnect
// backoff of at most the retry interval plus gRPC's 20% jitter, followed,
// as when the client dials, by the options of WithDialOptions, which
// override them. Give them to the connection you share through WithConn,
// with your own options (credentials, interceptors) in WithDialOptions or
// after them.
//
// They bound connecting and reconnecting; they do not replace a connection
// that went silent (READY to gRPC, yet answering nothing), which only a
// connection the client dials, or a transport.Conn, does. See
// docs/connections.md for what a shared connection without them risks.
//
// The errors are those of NewQuorumQuestClient for ttl and opts.
func DialOptions(ttl time.Duration, opts ...Option) ([]grpc.DialOption, error) {
	// The lock and address play no part in dialling; newConfig wants them
	// only to validate a whole client.
	cfg, err := newConfig("dial-options", "dial-options", ttl, "dial-options", opts)
	if err != nil {
		return nil, err
	}
	return cfg.allDialOptions()
}

// allDialOptions is what the client dials with: its own options, then the
// user's, which override them.
func (c *config) allDialOptions() ([]grpc.DialOption, error) {
	opts, err := c.connParams().DialOptions()
	if err != nil {
		return nil, err
	}
	return append(opts, c.dialOptions...), nil
}

// DialConn opens the connection a client would dial for itself, for
// sharing between many clients through WithServerStub: a transport.Conn
// with two links (two gRPC connections, to different servers when address
// lists several or is a dns:/// name with several addresses), calls hedged
// over them, bounded connects and reconnects as with DialOptions, and a
// link replaced when it goes silent (READY, yet no call answered for a
// call timeout). address is as for NewQuorumQuestClient. ttl and
// opts (WithRequestTimeout, WithRetryInterval, WithDialOptions and the
// lease policy matter) should be those of the clients sharing it. The
// caller closes it after the clients.
//
// The errors are those of NewQuorumQuestClient for ttl and opts.
func DialConn(address string, ttl time.Duration, opts ...Option) (*transport.Conn, error) {
	if address == "" {
		return nil, ErrEmptyAddress
	}
	cfg, err := newConfig("dial-conn", "dial-conn", ttl, address, opts)
	if err != nil {
		return nil, err
	}
	return dial(address, cfg)
}

// callTimeout is the longest any acquisition or renewal waits: the request
// timeout, clamped to the usable lease (see WithRequestTimeout).
func (c *config) callTimeout() time.Duration {
	return c.policy.CallTimeout(c.ttl, c.requestTimeout)
}

func (c *config) connParams() transport.ConnParams {
	return transport.ConnParamsFor(c.callTimeout(), c.retryInterval)
}

// dial opens the connection the client owns: two links, calls hedged over
// them, and a link replaced when a call timeout passes without an answer
// on it while READY.
func dial(address string, cfg *config) (*transport.Conn, error) {
	opts, err := cfg.allDialOptions()
	if err != nil { // newConfig validated what they derive from: a broken invariant
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	conn, err := transport.Open(address, cfg.callTimeout(), opts...)
	if err != nil {
		return nil, fmt.Errorf("%w: address %q: %w", ErrInvalidConfig, address, err)
	}
	return conn, nil
}
