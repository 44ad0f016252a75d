package transport

import (
	"errors"
	"fmt"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials/insecure"
)

// ErrConnParams is returned for connection settings that cannot work.
var ErrConnParams = errors.New("invalid connection parameters")

// ConnParams bounds how long a connection to the server may take to come
// up, and how long a client waits between attempts. grpc-go's defaults (a
// 20 s connect timeout, a backoff from 1 s growing to 120 s) are made for
// servers that come back within minutes; a lease of a few seconds needs
// attempts that end, and restart, within a fraction of it.
type ConnParams struct {
	// ConnectTimeout abandons an attempt that has not completed its
	// handshake, e.g. a TCP connection accepted by a host that then never
	// answers. gRPC's MinConnectTimeout.
	ConnectTimeout time.Duration
	// MaxBackoff caps the wait between attempts after a failure, so that
	// once the server is back the connection is up again within about
	// this long (plus up to 20% of jitter).
	MaxBackoff time.Duration
}

// ConnParamsFor derives the connection's parameters: connecting may take
// as long as a call (callTimeout, see
// LeasePolicy.CallTimeout), and the backoff is capped at retry, the
// interval at which a candidate asks for the lock again. Reconnecting any
// faster would not make a candidate ask any sooner.
func ConnParamsFor(callTimeout, retry time.Duration) ConnParams {
	return ConnParams{ConnectTimeout: callTimeout, MaxBackoff: retry}
}

// Validate checks that both durations are positive.
func (p ConnParams) Validate() error {
	if p.ConnectTimeout <= 0 {
		return fmt.Errorf("%w: connect timeout %v is not positive", ErrConnParams, p.ConnectTimeout)
	}
	if p.MaxBackoff <= 0 {
		return fmt.Errorf("%w: max backoff %v is not positive", ErrConnParams, p.MaxBackoff)
	}
	return nil
}

// DialOptions returns the dial options that apply p, plaintext
// credentials, and no HTTP/2 keepalive pings: the server's default
// enforcement answers pings more frequent than every 5 minutes with
// GOAWAY "too_many_pings" (docs/connections.md). Options given after these
// in grpc.NewClient override them, so callers may still choose TLS or
// other connect parameters. The error is Validate's.
func (p ConnParams) DialOptions() ([]grpc.DialOption, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return []grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithConnectParams(p.connectParams()),
	}, nil
}

// connectParams is p as gRPC's connect parameters, apart so that a test can
// read what a DialOption hides.
func (p ConnParams) connectParams() grpc.ConnectParams {
	// The first retry comes after a quarter of the cap, so a connection
	// reset by a recycled server is retried at once, and a long outage
	// reaches the cap after three failures (x1.6 each).
	base := max(p.MaxBackoff/4, time.Millisecond)
	return grpc.ConnectParams{
		Backoff: backoff.Config{
			BaseDelay:  base,
			Multiplier: 1.6,
			Jitter:     0.2,
			MaxDelay:   p.MaxBackoff,
		},
		MinConnectTimeout: p.ConnectTimeout,
	}
}
