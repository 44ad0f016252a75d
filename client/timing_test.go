package client_test

import (
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/quorum-quest/client-go/client"
	"github.com/quorum-quest/client-go/qqtest"
	"google.golang.org/grpc/codes"
)

// TimingFor says what a client with the same settings does: the lease it
// trusts and the longest wait from a granted renewal to the next one that
// is sent, here with every other renewal failing at once.
func TestTimingIsTheClients(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		opts := []client.Option{client.WithClockDrift(0.02), client.WithSafetyMargin(300 * time.Millisecond)}
		timing, err := client.TimingFor(ttl, opts...)
		if err != nil {
			t.Fatal(err)
		}
		srv := qqtest.NewUnstartedServer()
		sends := make(chan time.Time, 1024)
		failNext := false
		srv.SetFaultFunc(func(c qqtest.Call) qqtest.Fault {
			if c.Method != qqtest.MethodKeepAlive {
				return qqtest.Fault{}
			}
			sends <- time.Now()
			failNext = !failNext
			if failNext {
				return qqtest.Fault{Code: codes.Unavailable}
			}
			return qqtest.Fault{}
		})
		c := newClient(t, srv, "a", opts...)
		mustAcquire(t, c)
		if got := c.GetRemainingLease(); got != timing.UsableLease {
			t.Fatalf("lease trusted %v; TimingFor says %v", got, timing.UsableLease)
		}
		granted := time.Now()
		mustStartKeepAlive(t, c)
		time.Sleep(100 * ttl)
		c.Close()
		close(sends)
		var longest time.Duration
		n := 0
		for sent := range sends {
			n++
			if n%2 == 0 { // the retry of a failed renewal, granted
				longest = max(longest, sent.Sub(granted))
				granted = sent
			}
		}
		if n < 200 {
			t.Fatalf("%d renewals in 100 TTLs", n)
		}
		if longest > timing.RetryAfterFailureBy || longest < timing.RetryAfterFailureBy*95/100 {
			t.Fatalf("longest wait from a grant to the retry after a failure %v; TimingFor says at most %v, and the jitter reaches near it",
				longest, timing.RetryAfterFailureBy)
		}
		if timing.KeepAliveInterval != ttl/3 || timing.RetryInterval != ttl/10 || timing.CallTimeout != client.DefaultRequestTimeout {
			t.Fatalf("defaults %+v", timing)
		}
		if got := timing.StandAside(time.Millisecond); got != ttl/10+time.Millisecond {
			t.Fatalf("StandAside(1ms) = %v; want a retry interval and the round trip", got)
		}
	})
}

func TestTimingForRefusesWhatNewRefuses(t *testing.T) {
	if _, err := client.TimingFor(500 * time.Millisecond); !errors.Is(err, client.ErrInvalidTTL) {
		t.Errorf("TTL 500ms: %v; want ErrInvalidTTL", err)
	}
	if _, err := client.TimingFor(ttl, nil); !errors.Is(err, client.ErrInvalidOption) {
		t.Errorf("nil option: %v; want ErrInvalidOption", err)
	}
}
