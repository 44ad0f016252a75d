package client_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/quorum-quest/client-go/client"
	"github.com/quorum-quest/client-go/qqtest"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// tolerance is the health checks' in these tests: three TTLs.
const tolerance = 3 * ttl

func newHealthCheck(t *testing.T) *client.HealthCheck {
	t.Helper()
	h, err := client.NewHealthCheck(tolerance)
	if err != nil {
		t.Fatalf("NewHealthCheck: %v", err)
	}
	return h
}

// checkHealthy fails the test unless h's verdict is as wanted, once the
// hooks have caught up; it returns Check's error.
func checkHealth(t *testing.T, h *client.HealthCheck, healthy bool, what string) error {
	t.Helper()
	synctest.Wait()
	err := h.Check()
	if healthy && err != nil {
		t.Fatalf("%s: Check = %v; want healthy", what, err)
	}
	if !healthy && !errors.Is(err, client.ErrUnhealthy) {
		t.Fatalf("%s: Check = %v; want ErrUnhealthy", what, err)
	}
	return err
}

// campaign runs c.Campaign until the test's end; the returned function
// stops it and waits.
func campaign(c *client.QuorumQuestClient) (stop func()) {
	ctx, cancel := context.WithCancel(bg)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = c.Campaign(ctx)
	}()
	return func() { cancel(); <-done }
}

// A follower whose calls fail stays healthy for the tolerance and is
// unhealthy after it, naming the last error; the first call that reaches
// the server makes it healthy again, and Close makes it unhealthy for good.
func TestHealthCheckUnreachableServer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := qqtest.NewUnstartedServer()
		h := newHealthCheck(t)
		c := newClient(t, srv, "a", client.WithHealthCheck(h))
		checkHealth(t, h, true, "new client")

		srv.SetFault(qqtest.Fault{Code: codes.Unavailable})
		stop := campaign(c)
		defer stop()
		synctest.Wait()
		time.Sleep(tolerance - time.Second)
		checkHealth(t, h, true, "failing for less than the tolerance")
		time.Sleep(2 * time.Second)
		err := checkHealth(t, h, false, "failing for longer than the tolerance")
		if status.Code(err) != codes.Unavailable || !strings.Contains(err.Error(), "calls to the server have failed") {
			t.Fatalf("Check = %v; want the reason and the Unavailable call it wraps", err)
		}

		srv.SetFault(qqtest.Fault{})
		time.Sleep(ttl / 10) // the campaign's next attempt
		checkHealth(t, h, true, "after a call reached the server")
		if !c.IsLeader() {
			t.Fatal("the campaign did not win once the server answered")
		}
		stop()
		c.Close()
		err = checkHealth(t, h, false, "closed")
		if !strings.Contains(err.Error(), "closed") {
			t.Fatalf("Check = %v; want it to say the client is closed", err)
		}
	})
}

// Losing the race for the lock is an answer, not a failure: a follower
// kept waiting by a leader for many tolerances is healthy.
func TestHealthCheckFollowerOfAnotherLeaderIsHealthy(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := qqtest.NewUnstartedServer()
		leader := newClient(t, srv, "leader")
		mustAcquire(t, leader)
		mustStartKeepAlive(t, leader)
		h := newHealthCheck(t)
		follower := newClient(t, srv, "follower", client.WithHealthCheck(h))
		stop := campaign(follower)
		defer stop()
		time.Sleep(5 * tolerance)
		checkHealth(t, h, true, "a follower denied for five tolerances")
		if follower.IsLeader() {
			t.Fatal("the follower leads while the leader renews")
		}
	})
}

// A call the server rejects (here: bad credentials) is not an answer about
// the lock; a run of them makes the client unhealthy.
func TestHealthCheckRejectedCalls(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := qqtest.NewUnstartedServer()
		srv.SetFault(qqtest.Fault{Code: codes.Unauthenticated})
		h := newHealthCheck(t)
		c := newClient(t, srv, "a", client.WithHealthCheck(h))
		stop := campaign(c)
		defer stop()
		time.Sleep(tolerance + time.Second)
		if err := checkHealth(t, h, false, "rejected for longer than the tolerance"); status.Code(err) != codes.Unauthenticated {
			t.Fatalf("Check = %v; want it to wrap the Unauthenticated call", err)
		}
	})
}

// A leader cut off from the server: its renewal hangs until the lease's
// deadline, the lease runs out, and the client is unhealthy at once, long
// before the tolerance; healing the network makes it healthy again.
func TestHealthCheckLeaseRanOutWhileRenewing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := qqtest.NewUnstartedServer()
		h := newHealthCheck(t)
		c, rec := newRecordedClient(t, srv, "a", client.WithHealthCheck(h))
		mustAcquire(t, c)
		mustStartKeepAlive(t, c)
		time.Sleep(2 * ttl)
		checkHealth(t, h, true, "a leader renewing")

		srv.Partition("a")
		lost := rec.waitFor(t, client.StateLost)
		if lost.Event != "expire" {
			t.Fatalf("lost leadership on %s; want expire", lost.Event)
		}
		err := checkHealth(t, h, false, "lease ran out while renewing")
		if !strings.Contains(err.Error(), "lease ran out") {
			t.Fatalf("Check = %v; want it to say the lease ran out", err)
		}

		srv.Heal("a")
		mustAcquire(t, c)
		checkHealth(t, h, true, "after the server answered again")
	})
}

// A lease left to run out without keep-alive is the caller's choice, not a
// failure.
func TestHealthCheckLeaseLeftToRunOutIsHealthy(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := qqtest.NewUnstartedServer()
		h := newHealthCheck(t)
		c, rec := newRecordedClient(t, srv, "a", client.WithHealthCheck(h))
		mustAcquire(t, c)
		rec.waitFor(t, client.StateLost)
		checkHealth(t, h, true, "a lease left to run out")
	})
}

// ServeHTTP: 200 "ok" while healthy, 503 and the reason once not.
func TestHealthCheckServeHTTP(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := qqtest.NewUnstartedServer()
		h := newHealthCheck(t)
		c := newClient(t, srv, "a", client.WithHealthCheck(h))
		get := func() *httptest.ResponseRecorder {
			synctest.Wait()
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/healthz", nil))
			return w
		}
		if w := get(); w.Code != http.StatusOK || w.Body.String() != "ok\n" {
			t.Fatalf("healthy: %d %q; want 200 \"ok\\n\"", w.Code, w.Body.String())
		}
		c.Close()
		if w := get(); w.Code != http.StatusServiceUnavailable || !strings.Contains(w.Body.String(), "closed") {
			t.Fatalf("closed: %d %q; want 503 with the reason", w.Code, w.Body.String())
		}
	})
}

func TestHealthCheckBadInput(t *testing.T) {
	for _, d := range []time.Duration{0, -time.Second} {
		if _, err := client.NewHealthCheck(d); !errors.Is(err, client.ErrInvalidArgument) {
			t.Errorf("NewHealthCheck(%v) = %v; want ErrInvalidArgument", d, err)
		}
	}
	srv := qqtest.NewUnstartedServer()
	_, err := client.NewQuorumQuestClient(service, domain, ttl, "", client.WithServerStub(srv.Stub()), client.WithHealthCheck(nil))
	if !errors.Is(err, client.ErrInvalidOption) {
		t.Errorf("WithHealthCheck(nil): %v; want ErrInvalidOption", err)
	}
	h := newHealthCheck(t)
	newClient(t, srv, "a", client.WithHealthCheck(h))
	_, err = client.NewQuorumQuestClient(service, domain, ttl, "", client.WithServerStub(srv.Stub()), client.WithHealthCheck(h))
	if !errors.Is(err, client.ErrInvalidOption) {
		t.Errorf("one HealthCheck on a second client: %v; want ErrInvalidOption", err)
	}
}
