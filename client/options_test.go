package client_test

import (
	"errors"
	"math"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/quorum-quest/client-go/client"
	"github.com/quorum-quest/client-go/qqtest"
	"github.com/quorum-quest/client-go/transport"
)

func TestInvalidConfiguration(t *testing.T) {
	stub := client.WithServerStub(qqtest.NewUnstartedServer().Stub())
	cases := []struct {
		name            string
		service, domain string
		ttl             time.Duration
		address         string
		opts            []client.Option
		want            error
	}{
		{"empty service", "", domain, ttl, "localhost:5050", nil, client.ErrEmptyService},
		{"empty domain", service, "", ttl, "localhost:5050", nil, client.ErrEmptyDomain},
		{"empty address", service, domain, ttl, "", nil, client.ErrEmptyAddress},
		{"zero ttl", service, domain, 0, "localhost:5050", nil, client.ErrInvalidTTL},
		{"negative ttl", service, domain, -time.Second, "localhost:5050", nil, client.ErrInvalidTTL},
		{"sub-second ttl", service, domain, 999 * time.Millisecond, "localhost:5050", nil, client.ErrInvalidTTL},
		{"ttl beyond int32 seconds", service, domain, transport.MaxTTL + time.Second, "localhost:5050", nil, client.ErrInvalidTTL},
		{"nil option", service, domain, ttl, "localhost:5050", []client.Option{nil}, client.ErrInvalidOption},
		{"empty client id", service, domain, ttl, "localhost:5050", []client.Option{client.WithClientID("")}, client.ErrInvalidOption},
		{"nil stub", service, domain, ttl, "localhost:5050", []client.Option{client.WithServerStub(nil)}, client.ErrInvalidOption},
		{"zero request timeout", service, domain, ttl, "x", []client.Option{stub, client.WithRequestTimeout(0)}, client.ErrInvalidOption},
		{"negative close timeout", service, domain, ttl, "x", []client.Option{stub, client.WithCloseTimeout(-1)}, client.ErrInvalidOption},
		{"zero keep-alive interval", service, domain, ttl, "x", []client.Option{stub, client.WithKeepAliveInterval(0)}, client.ErrInvalidOption},
		{"keep-alive slower than the lease", service, domain, ttl, "x", []client.Option{stub, client.WithKeepAliveInterval(14 * time.Second)}, client.ErrInvalidOption},
		{"drift of one", service, domain, ttl, "x", []client.Option{stub, client.WithClockDrift(1)}, client.ErrInvalidOption},
		{"negative drift", service, domain, ttl, "x", []client.Option{stub, client.WithClockDrift(-0.1)}, client.ErrInvalidOption},
		{"NaN drift", service, domain, ttl, "x", []client.Option{stub, client.WithClockDrift(math.NaN())}, client.ErrInvalidOption},
		{"negative margin", service, domain, ttl, "x", []client.Option{stub, client.WithSafetyMargin(-time.Second)}, client.ErrInvalidOption},
		{"margin eats the lease", service, domain, time.Second, "x", []client.Option{stub, client.WithSafetyMargin(time.Second)}, client.ErrInvalidOption},
		{"nil hook", service, domain, ttl, "x", []client.Option{stub, client.WithTransitionHook(nil)}, client.ErrInvalidOption},
		{"nil logger", service, domain, ttl, "x", []client.Option{stub, client.WithLogger(nil)}, client.ErrInvalidOption},
		{"unparsable address", service, domain, ttl, "%zz", nil, client.ErrInvalidConfig},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := client.NewQuorumQuestClient(tc.service, tc.domain, tc.ttl, tc.address, tc.opts...)
			if c != nil {
				c.Close()
				t.Fatal("got a client for bad input")
			}
			if !errors.Is(err, tc.want) || !errors.Is(err, client.ErrInvalidConfig) {
				t.Fatalf("err = %v, want %v (and ErrInvalidConfig)", err, tc.want)
			}
		})
	}
}

// Configurations at the edges of what is accepted give a client that
// leads for exactly the lease the documented arithmetic says (ttl - drift
// - margin), and renews on the interval asked for.
func TestValidConfigurationEdges(t *testing.T) {
	for _, tc := range []struct {
		name  string
		ttl   time.Duration
		opts  []client.Option
		lease time.Duration // what the client must trust of a fresh lease
		renew time.Duration // keep-alive interval before jitter
	}{
		// 1s - 1% of it - 100ms.
		{"one second", time.Second, nil, 890 * time.Millisecond, time.Second / 3},
		// 2^31-1 s, less 1% of it (21474836.47s) and 100ms.
		{"largest ttl", transport.MaxTTL, nil, 2126008810430 * time.Millisecond, transport.MaxTTL / 3},
		{"no drift no margin", ttl, []client.Option{client.WithClockDrift(0), client.WithSafetyMargin(0)}, ttl, ttl / 3},
		{"custom keep-alive", ttl, []client.Option{client.WithKeepAliveInterval(2 * time.Second)}, 14750 * time.Millisecond, 2 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				srv := qqtest.NewUnstartedServer()
				opts := append([]client.Option{client.WithServerStub(srv.Stub())}, tc.opts...)
				c, err := client.NewQuorumQuestClient(service, domain, tc.ttl, "localhost:5050", opts...)
				if err != nil {
					t.Fatal(err)
				}
				if c.State() != client.StateFollower || c.IsLeader() || c.ClientID() == "" {
					t.Fatalf("new client: state %s, leader %v, id %q", c.State(), c.IsLeader(), c.ClientID())
				}
				mustAcquire(t, c)
				// A float64 holds the largest TTL's 1% to within a few
				// nanoseconds; every other case is exact.
				if got := c.GetRemainingLease(); got < tc.lease-time.Microsecond || got > tc.lease+time.Microsecond || (tc.ttl != transport.MaxTTL && got != tc.lease) {
					t.Fatalf("remaining lease %v, want %v", got, tc.lease)
				}
				mustStartKeepAlive(t, c)
				// The first renewal comes within ±10% of the interval.
				time.Sleep(tc.renew*9/10 - time.Nanosecond)
				if n := srv.Calls().KeepAlive; n != 0 {
					t.Fatalf("%d renewals before 90%% of the %v interval", n, tc.renew)
				}
				time.Sleep(tc.renew*2/10 + time.Nanosecond)
				if n := srv.Calls().KeepAlive; n != 1 || !c.IsLeader() {
					t.Fatalf("%d renewals by 110%% of the %v interval (leader %v), want 1", n, tc.renew, c.IsLeader())
				}
				if err := c.Close(); err != nil {
					t.Fatalf("Close: %v", err)
				}
			})
		})
	}
}

func TestRandomClientIDsDiffer(t *testing.T) {
	stub := client.WithServerStub(qqtest.NewUnstartedServer().Stub())
	a, err := client.NewQuorumQuestClient(service, domain, ttl, "x", stub)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := client.NewQuorumQuestClient(service, domain, ttl, "x", stub)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if a.ClientID() == b.ClientID() || a.ClientID() == "" || strings.ContainsAny(a.ClientID(), " \n") {
		t.Fatalf("client ids %q and %q", a.ClientID(), b.ClientID())
	}
}
