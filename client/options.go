package client

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/quorum-quest/client-go/internal/nilness"
	"github.com/quorum-quest/client-go/internal/observe"
	"github.com/quorum-quest/client-go/pb"
	"github.com/quorum-quest/client-go/transport"
	"google.golang.org/grpc"
)

// Defaults for the options below.
const (
	// DefaultRequestTimeout bounds each call to the server.
	DefaultRequestTimeout = 5 * time.Second
	// DefaultCloseTimeout bounds the release that Close sends.
	DefaultCloseTimeout = 2 * time.Second
)

// Option configures a QuorumQuestClient. Options are validated by
// NewQuorumQuestClient, which reports the first bad one as an error matching
// ErrInvalidOption.
type Option func(*config) error

// config is the client's whole configuration, validated once in
// NewQuorumQuestClient and never changed afterwards.
type config struct {
	service, domain, address string
	ttl                      time.Duration

	clientID          string
	stub              pb.LeaderElectionServiceClient
	conn              *grpc.ClientConn // shared, never closed by the client
	dialOptions       []grpc.DialOption
	retryInterval     time.Duration // 0: a tenth of the TTL
	requestTimeout    time.Duration
	closeTimeout      time.Duration
	keepAliveInterval time.Duration // 0: a third of the TTL
	policy            transport.LeasePolicy
	hooks             []func(Transition)
	observerFactories []observe.Factory // see observe.go
	observers         []observe.Observer
	logger            *slog.Logger
}

// WithClientID sets the identity the server knows this client by, instead of
// a random one. Two clients with the same ID are the same holder to the
// server, so IDs must be unique among the candidates of one lock.
func WithClientID(id string) Option {
	return func(c *config) error {
		if id == "" {
			return fmt.Errorf("%w: WithClientID: empty id", ErrInvalidOption)
		}
		c.clientID = id
		return nil
	}
}

// WithServerStub makes the client call stub instead of dialling address, for
// tests (qqtest's Server.Stub) or a transport managed elsewhere.
// The client does not close a stub. address is then unused and may be
// empty.
func WithServerStub(stub pb.LeaderElectionServiceClient) Option {
	return func(c *config) error {
		if nilness.IsNil(stub) {
			return fmt.Errorf("%w: WithServerStub: nil stub", ErrInvalidOption)
		}
		c.stub = stub
		return nil
	}
}

// WithConn makes the client use conn, a connection shared with other clients
// (many elections, one connection), instead of dialling address. Close
// leaves conn open: its owner closes it. Dial conn with DialOptions, or
// its connects and reconnects wait on gRPC's defaults (20 s, backoff up to
// 120 s). The client cannot replace a connection it does not own, so a
// shared connection that goes silent stalls every election on it: see
// docs/connections.md.
func WithConn(conn *grpc.ClientConn) Option {
	return func(c *config) error {
		if conn == nil {
			return fmt.Errorf("%w: WithConn: nil connection", ErrInvalidOption)
		}
		c.conn = conn
		return nil
	}
}

// WithDialOptions adds options to the connection the client dials: TLS
// credentials (the default is plaintext), interceptors, stats handlers such
// as OpenTelemetry's. They come after the client's own (DialOptions), so a
// grpc.WithConnectParams here replaces the client's connect timeout and
// reconnect backoff. It cannot be combined with WithConn or WithServerStub,
// which supply a connection of their own. Avoid grpc.WithKeepaliveParams
// with pings more frequent than every 5 minutes: the server answers them
// with GOAWAY "too_many_pings". A nil option is refused (ErrInvalidOption).
func WithDialOptions(opts ...grpc.DialOption) Option {
	return func(c *config) error {
		for i, o := range opts {
			if nilness.IsNil(o) {
				return fmt.Errorf("%w: WithDialOptions: option %d is nil", ErrInvalidOption, i)
			}
		}
		c.dialOptions = append(c.dialOptions, opts...)
		return nil
	}
}

// WithRetryInterval sets how often Campaign and Run retry TryAcquireLock
// while another client leads (default a tenth of the TTL). Each wait is
// jittered to between 80% and 100% of it, so failover after a leader
// vanishes takes at most TTL plus this interval and a round trip. It also
// caps the backoff between attempts to reconnect to the server (before
// gRPC's jitter of up to 20%).
func WithRetryInterval(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("%w: WithRetryInterval: %v is not positive", ErrInvalidOption, d)
		}
		c.retryInterval = d
		return nil
	}
}

// WithRequestTimeout bounds every call to the server (default
// DefaultRequestTimeout). A timeout longer than the usable lease (the TTL
// less drift and margin) is accepted and clamped for acquisitions,
// renewals and connection attempts, which never wait longer than the
// lease they are for; releases keep the full timeout. Keep-alive calls
// are further bounded by the current lease's deadline.
func WithRequestTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("%w: WithRequestTimeout: %v is not positive", ErrInvalidOption, d)
		}
		c.requestTimeout = d
		return nil
	}
}

// WithCloseTimeout bounds the release Close sends whenever the server may
// hold the lock for this client, and the release Run sends when its
// context ends (default DefaultCloseTimeout). If it runs out, the lock is
// freed by its TTL.
func WithCloseTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("%w: WithCloseTimeout: %v is not positive", ErrInvalidOption, d)
		}
		c.closeTimeout = d
		return nil
	}
}

// WithKeepAliveInterval sets how often keep-alive renews the lease (default
// a third of the TTL, jittered by up to 10%). It must fit in the usable
// lease (Timing.UsableLease), or the lease would lapse between renewals.
func WithKeepAliveInterval(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("%w: WithKeepAliveInterval: %v is not positive", ErrInvalidOption, d)
		}
		c.keepAliveInterval = d
		return nil
	}
}

// WithClockDrift sets the fraction of every lease given up to the client's
// and the server's clocks running at different rates (default 0.01, in
// [0, 1)).
func WithClockDrift(fraction float64) Option {
	return func(c *config) error {
		c.policy.Drift = fraction
		return nil
	}
}

// WithSafetyMargin sets the time cut from the end of every lease (default
// 100ms), so that work started just after IsLeader returned true still ends
// before the server could hand the lock to another client.
func WithSafetyMargin(d time.Duration) Option {
	return func(c *config) error {
		c.policy.Margin = d
		return nil
	}
}

// WithTransitionHook calls hook with every transition of the client's
// machine, once, in order, on a goroutine of the hook's own: a slow hook
// delays only itself, a panic is recovered and logged. It may be given
// several times. Close waits for every hook to return from the last one.
func WithTransitionHook(hook func(Transition)) Option {
	return func(c *config) error {
		if hook == nil {
			return fmt.Errorf("%w: WithTransitionHook: nil hook", ErrInvalidOption)
		}
		c.hooks = append(c.hooks, hook)
		return nil
	}
}

// WithLogger sends the client's diagnostics to logger: transitions (Debug),
// failed campaign attempts (Info), failed renewals and releases and
// recovered hook panics (Warn), events the machine refused (Error). The
// default discards them.
func WithLogger(logger *slog.Logger) Option {
	return func(c *config) error {
		if logger == nil || logger.Handler() == nil { // a zero slog.Logger has no handler
			return fmt.Errorf("%w: WithLogger: nil logger", ErrInvalidOption)
		}
		c.logger = logger
		return nil
	}
}

// newConfig validates the arguments and options of NewQuorumQuestClient.
func newConfig(service, domain string, ttl time.Duration, address string, opts []Option) (*config, error) {
	c := &config{
		service: service, domain: domain, ttl: ttl, address: address,
		requestTimeout: DefaultRequestTimeout,
		closeTimeout:   DefaultCloseTimeout,
		policy:         transport.DefaultLeasePolicy,
		logger:         slog.New(slog.DiscardHandler),
	}
	for _, opt := range opts {
		if opt == nil {
			return nil, fmt.Errorf("%w: nil Option", ErrInvalidOption)
		}
		if err := opt(c); err != nil {
			return nil, err
		}
	}
	if err := c.checkSources(); err != nil {
		return nil, err
	}
	if _, err := transport.WireTTL(ttl); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidTTL, err)
	}
	if err := c.policy.Validate(ttl); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidOption, err)
	}
	if err := c.fillIntervals(); err != nil {
		return nil, err
	}
	if c.clientID == "" {
		id, err := randomClientID()
		if err != nil {
			return nil, err
		}
		c.clientID = id
	}
	return c, nil
}

// checkSources refuses a configuration that names no lock, or that gives
// the connection in two ways, or none.
func (c *config) checkSources() error {
	switch {
	case c.service == "":
		return ErrEmptyService
	case c.domain == "":
		return ErrEmptyDomain
	case c.stub != nil && c.conn != nil:
		return fmt.Errorf("%w: WithServerStub and WithConn both supply the connection", ErrInvalidOption)
	case len(c.dialOptions) > 0 && (c.stub != nil || c.conn != nil):
		return fmt.Errorf("%w: WithDialOptions has no effect with WithServerStub or WithConn", ErrInvalidOption)
	case c.address == "" && c.stub == nil && c.conn == nil:
		return ErrEmptyAddress
	}
	return nil
}

// fillIntervals defaults the keep-alive and retry intervals to TTL/3 and
// TTL/10 and refuses a keep-alive interval the jitter would push past the
// usable lease.
func (c *config) fillIntervals() error {
	usable := c.policy.Usable(c.ttl)
	if c.keepAliveInterval == 0 {
		c.keepAliveInterval = c.ttl / 3
	}
	if c.retryInterval == 0 {
		c.retryInterval = c.ttl / 10
	}
	// Jitter may stretch it by a tenth. Written without adding, which
	// overflows near the largest Duration.
	if c.keepAliveInterval/10 >= usable-c.keepAliveInterval {
		return fmt.Errorf("%w: keep-alive interval %v (+10%% jitter) does not fit in the usable lease %v", ErrInvalidOption, c.keepAliveInterval, usable)
	}
	return nil
}

// randomClientID names the host for the humans reading server logs and
// adds randomness so that two processes on one host never collide.
func randomClientID() (string, error) {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "client"
	}
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("quorumquest: generating a client id: %w", err)
	}
	return host + "-" + hex.EncodeToString(b), nil
}
