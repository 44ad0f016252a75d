package client_test

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/quorum-quest/client-go/client"
	"github.com/quorum-quest/client-go/qqtest"
	"github.com/quorum-quest/client-go/transport"
)

// Which options a fuzz input gives, as bits of its mask.
const (
	giveStub = 1 << iota
	giveID
	giveKeepAlive
	giveDrift
	giveMargin
	giveTimeout
	giveRetry
)

// FuzzNewQuorumQuestClient feeds arbitrary arguments and options to the
// constructor: it never panics; it returns a client exactly when the
// documented rules accept the input (an error matching ErrInvalidConfig
// otherwise), and a new client is an idle follower that closes cleanly.
// With giveStub unset, the address is dialled: grpc.NewClient is lazy, and
// nothing here makes a call, so nothing touches the network.
func FuzzNewQuorumQuestClient(f *testing.F) {
	const ms = int64(time.Millisecond)
	sec := int64(time.Second)
	const all = giveStub | giveID | giveKeepAlive | giveDrift | giveMargin | giveTimeout | giveRetry
	add := func(service, domain, address, id string, ttl, keepAlive int64, drift float64, margin, timeout, retry int64, mask uint16) {
		f.Add(service, domain, address, id, ttl, keepAlive, drift, margin, timeout, retry, mask)
	}
	add("billing", "production", "localhost:5050", "a", 15*sec, 5*sec, 0.01, 100*ms, 5*sec, sec, 0)
	add("billing", "production", "", "a", 15*sec, 5*sec, 0.01, 100*ms, 5*sec, sec, all)
	add("", "production", "x", "a", 15*sec, 0, 0.0, 0, 0, 0, giveStub)
	add("billing", "", "x", "a", 15*sec, 0, 0.0, 0, 0, 0, giveStub)
	add("billing", "production", "", "a", 15*sec, 0, 0.0, 0, 0, 0, 0)
	add("billing", "production", "%zz", "a", 15*sec, 0, 0.0, 0, 0, 0, 0)
	add("billing", "production", "passthrough:///bufnet", "a", 15*sec, 0, 0.0, 0, 0, 0, 0)
	add("billing", "production", "unix:///tmp/qq.sock", "a", 15*sec, 0, 0.0, 0, 0, 0, 0)
	add("billing", "production", "dns://8.8.8.8/example.com:443", "a", 15*sec, 0, 0.0, 0, 0, 0, 0)
	for _, ttl := range []int64{0, -sec, 999 * ms, sec, 1500 * ms, int64(transport.MaxTTL), int64(transport.MaxTTL) + 1, math.MinInt64, math.MaxInt64} {
		add("s", "d", "x", "", ttl, 0, 0.0, 0, 0, 0, giveStub)
	}
	for _, drift := range []float64{math.NaN(), math.Copysign(0, -1), 1, 0.99, 0.5, -0.01, math.Inf(1), math.Inf(-1), 1e-300} {
		add("s", "d", "x", "", 15*sec, 0, drift, 0, 0, 0, (giveStub | giveDrift))
	}
	for _, margin := range []int64{-1, 0, 14 * sec, 15 * sec, math.MaxInt64, math.MinInt64} {
		add("s", "d", "x", "", 15*sec, 0, 0.0, margin, 0, 0, (giveStub | giveMargin))
	}
	// The keep-alive interval against the usable lease (14.75s for 15s):
	// 13.40s fits with its 10% jitter, 13.41s does not.
	for _, ka := range []int64{0, -1, 1, 13400 * ms, 13410 * ms, 15 * sec, math.MaxInt64 / 11 * 10, math.MaxInt64} {
		add("s", "d", "x", "", 15*sec, ka, 0.0, 0, 0, 0, (giveStub | giveKeepAlive))
	}
	add("s", "d", "x", "", sec, 0, 0.6, 100*ms, 0, 0, (giveStub | giveDrift | giveMargin)) // default keep-alive no longer fits
	add("s", "d", "x", "", 15*sec, 0, 0.0, 0, 0, 0, (giveStub | giveID))                   // empty id
	add("s", "d", "x", "id", 15*sec, 0, 0.0, 0, -1, -1, (giveStub | giveID | giveTimeout | giveRetry))
	add("s", "d", "x", "id", 15*sec, 0, 0.0, 0, 1, 1, (giveStub | giveID | giveTimeout | giveRetry))
	add("\x00", "\xff\xfe", "x", "\n", sec, 0, 0.0, 0, 0, 0, (giveStub | giveID))

	f.Fuzz(func(t *testing.T, service, domain, address, id string, ttl, keepAlive int64, drift float64, margin, timeout, retry int64, mask uint16) {
		var opts []client.Option
		stub := mask&giveStub != 0
		if stub {
			opts = append(opts, client.WithServerStub(qqtest.NewUnstartedServer().Stub()))
		}
		if mask&giveID != 0 {
			opts = append(opts, client.WithClientID(id))
		}
		if mask&giveKeepAlive != 0 {
			opts = append(opts, client.WithKeepAliveInterval(time.Duration(keepAlive)))
		}
		if mask&giveDrift != 0 {
			opts = append(opts, client.WithClockDrift(drift))
		}
		if mask&giveMargin != 0 {
			opts = append(opts, client.WithSafetyMargin(time.Duration(margin)))
		}
		if mask&giveTimeout != 0 {
			opts = append(opts, client.WithRequestTimeout(time.Duration(timeout)))
		}
		if mask&giveRetry != 0 {
			opts = append(opts, client.WithRetryInterval(time.Duration(retry)))
		}

		c, err := client.NewQuorumQuestClient(service, domain, time.Duration(ttl), address, opts...)
		valid, why := acceptable(service, domain, address, id, ttl, keepAlive, drift, margin, timeout, retry, mask)
		switch {
		case err != nil && c != nil:
			t.Fatalf("both a client and an error: %v", err)
		case err != nil && !errors.Is(err, client.ErrInvalidConfig):
			t.Fatalf("error %v does not match ErrInvalidConfig", err)
		case err != nil && valid && stub:
			t.Fatalf("valid input refused: %v", err)
		case err == nil && !valid:
			c.Close()
			t.Fatalf("invalid input accepted (%s)", why)
		case err != nil:
			return // refused, rightly (or an address grpc cannot parse)
		}
		checkIdleClient(t, c, mask&giveID != 0, id)
	})
}

// acceptable is the documented validation, written out independently: it
// says whether the input is valid, and if not, why.
func acceptable(service, domain, address, id string, ttl, keepAlive int64, drift float64, margin, timeout, retry int64, mask uint16) (bool, string) {
	switch {
	case mask&giveID != 0 && id == "":
		return false, "empty client id"
	case mask&giveKeepAlive != 0 && keepAlive <= 0:
		return false, "keep-alive interval not positive"
	case mask&giveTimeout != 0 && timeout <= 0:
		return false, "request timeout not positive"
	case mask&giveRetry != 0 && retry <= 0:
		return false, "retry interval not positive"
	case service == "":
		return false, "empty service"
	case domain == "":
		return false, "empty domain"
	case address == "" && mask&giveStub == 0:
		return false, "empty address"
	case ttl < int64(time.Second) || ttl > int64(transport.MaxTTL):
		return false, "ttl out of [1s, MaxTTL]"
	}
	policy := transport.DefaultLeasePolicy
	if mask&giveDrift != 0 {
		policy.Drift = drift
	}
	if mask&giveMargin != 0 {
		policy.Margin = time.Duration(margin)
	}
	if !(policy.Drift >= 0 && policy.Drift < 1) || policy.Margin < 0 {
		return false, "drift outside [0, 1) or negative margin"
	}
	usable := policy.Usable(time.Duration(ttl))
	if usable <= 0 {
		return false, "no usable lease"
	}
	ka := time.Duration(ttl) / 3
	if mask&giveKeepAlive != 0 {
		ka = time.Duration(keepAlive)
	}
	// ka < usable first, so that ka + ka/10 cannot overflow.
	if ka >= usable || ka+ka/10 >= usable {
		return false, "keep-alive interval (+10% jitter) does not fit in the usable lease"
	}
	return true, ""
}

// checkIdleClient checks what a client that has done nothing yet must be,
// then closes it.
func checkIdleClient(t *testing.T, c *client.QuorumQuestClient, gaveID bool, id string) {
	t.Helper()
	if c.IsLeader() || c.GetRemainingLease() != 0 || c.State() != client.StateFollower {
		t.Errorf("new client: leader %v, lease %v, state %s", c.IsLeader(), c.GetRemainingLease(), c.State())
	}
	if gaveID && c.ClientID() != id || c.ClientID() == "" {
		t.Errorf("client id %q, want %q", c.ClientID(), id)
	}
	if err := c.Close(); err != nil {
		t.Errorf("Close of an idle client: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if ok, err := c.TryAcquireLock(bg); ok || !errors.Is(err, client.ErrClosed) {
		t.Errorf("TryAcquireLock after Close = %v, %v; want false, ErrClosed", ok, err)
	}
	if c.IsLeader() || c.GetRemainingLease() != 0 || c.State() != client.StateClosed {
		t.Errorf("closed client: leader %v, lease %v, state %s", c.IsLeader(), c.GetRemainingLease(), c.State())
	}
}

// An interval too long for the lease must be refused however long it is.
// One beyond about 266 years was once accepted: the check computed
// interval+interval/10, which overflowed to a negative duration and so
// "fit". Such a client's keep-alive never renews in time.
func TestKeepAliveIntervalOverflowIsRefused(t *testing.T) {
	for _, d := range []time.Duration{math.MaxInt64, math.MaxInt64/11*10 + 10} {
		c, err := client.NewQuorumQuestClient(service, domain, ttl, "x",
			client.WithServerStub(qqtest.NewUnstartedServer().Stub()), client.WithKeepAliveInterval(d))
		if err == nil {
			c.Close()
			t.Fatalf("WithKeepAliveInterval(%v) with a %v TTL was accepted", d, ttl)
		}
		if !errors.Is(err, client.ErrInvalidOption) {
			t.Fatalf("WithKeepAliveInterval(%v): %v, want ErrInvalidOption", d, err)
		}
	}
}
