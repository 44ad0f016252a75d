package transport

import (
	"testing"
	"time"
)

// The reconnect backoff DialOptions configures: the first retry after a
// quarter of the cap (at least 1 ms), so that a connection reset by a
// recycled server is retried at once, growing ×1.6 with ±20% jitter up to
// the cap; a handshake gets the connect timeout.
func TestConnectParamsRetrySoonThenBackOffToTheCap(t *testing.T) {
	for _, tc := range []struct{ cap, base time.Duration }{
		{2 * time.Second, 500 * time.Millisecond},
		{100 * time.Millisecond, 25 * time.Millisecond},
		{2 * time.Millisecond, time.Millisecond}, // the floor
	} {
		p := ConnParams{ConnectTimeout: 3 * time.Second, MaxBackoff: tc.cap}
		got := p.connectParams()
		if got.Backoff.BaseDelay != tc.base || got.Backoff.MaxDelay != tc.cap ||
			got.Backoff.Multiplier != 1.6 || got.Backoff.Jitter != 0.2 || got.MinConnectTimeout != 3*time.Second {
			t.Errorf("connect params for a %v cap: %+v; want base %v, ×1.6, ±20%%, cap %v, handshake 3s", tc.cap, got, tc.base, tc.cap)
		}
	}
}
