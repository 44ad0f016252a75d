package qqtest_test

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/quorum-quest/client-go/pb"
	"github.com/quorum-quest/client-go/qqtest"
)

func TestTryAcquireLockFreeLock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := qqtest.NewUnstartedServer()
		if !acquire(t, s.Stub(), "a", 10) {
			t.Fatal("free lock: is_leader = false, want true")
		}
		id, expires, ok := s.Lease(svc, dom)
		if !ok || id != "a" {
			t.Fatalf("Holder = %q, %v; want a, true", id, ok)
		}
		if want := time.Now().Add(10 * time.Second); !expires.Equal(want) {
			t.Errorf("expires = %v, want now+10s = %v", expires, want)
		}
	})
}

func TestTryAcquireLockHeldByOther(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := qqtest.NewUnstartedServer()
		c := s.Stub()
		acquire(t, c, "a", 10)
		_, before, _ := s.Lease(svc, dom)
		time.Sleep(time.Second)
		if acquire(t, c, "b", 10) {
			t.Fatal("held by a: b got is_leader = true")
		}
		id, after, _ := s.Lease(svc, dom)
		if id != "a" || !after.Equal(before) {
			t.Errorf("after b's attempt: holder %q expiring %v, want a expiring %v unchanged", id, after, before)
		}
	})
}

func TestTryAcquireLockRenewsForHolder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := qqtest.NewUnstartedServer()
		c := s.Stub()
		acquire(t, c, "a", 10)
		time.Sleep(4 * time.Second)
		if !acquire(t, c, "a", 10) {
			t.Fatal("holder's TryAcquireLock: is_leader = false, want true")
		}
		if _, expires, _ := s.Lease(svc, dom); !expires.Equal(time.Now().Add(10 * time.Second)) {
			t.Errorf("expires = %v, want reset to now+10s", expires)
		}
	})
}

func TestLockExpiresAfterTTL(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := qqtest.NewUnstartedServer()
		c := s.Stub()
		acquire(t, c, "a", 10)

		time.Sleep(10*time.Second - time.Nanosecond)
		if got := holder(s); got != "a" {
			t.Fatalf("1ns before expiry: holder = %q, want a", got)
		}
		if acquire(t, c, "b", 10) {
			t.Fatal("1ns before expiry: b acquired a's lock")
		}

		time.Sleep(time.Nanosecond)
		if got := holder(s); got != "" {
			t.Fatalf("at expiry: holder = %q, want none", got)
		}
		if !acquire(t, c, "b", 10) {
			t.Fatal("at expiry: b could not acquire the expired lock")
		}
	})
}

func TestKeepAlive(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := qqtest.NewUnstartedServer()
		c := s.Stub()

		if got := keepAlive(t, c, "a", 10); got != -time.Second {
			t.Errorf("free lock: lease_length = %v, want -1s", got)
		}
		if got := holder(s); got != "" {
			t.Errorf("KeepAlive on a free lock made %q the holder", got)
		}

		acquire(t, c, "a", 10)
		time.Sleep(7 * time.Second)
		if got := keepAlive(t, c, "a", 20); got != 20*time.Second {
			t.Errorf("holder: lease_length = %v, want 20s", got)
		}
		if _, expires, _ := s.Lease(svc, dom); !expires.Equal(time.Now().Add(20 * time.Second)) {
			t.Errorf("holder: expires = %v, want now+20s", expires)
		}

		if got := keepAlive(t, c, "b", 10); got != -time.Second {
			t.Errorf("non-holder: lease_length = %v, want -1s", got)
		}
		if got := holder(s); got != "a" {
			t.Errorf("non-holder's KeepAlive changed holder to %q", got)
		}

		time.Sleep(20 * time.Second)
		if got := keepAlive(t, c, "a", 10); got != -time.Second {
			t.Errorf("expired holder: lease_length = %v, want -1s", got)
		}
		if got := holder(s); got != "" {
			t.Errorf("KeepAlive revived an expired lock for %q", got)
		}
	})
}

func TestReleaseLockOnlyByHolder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := qqtest.NewUnstartedServer()
		c := s.Stub()

		release(t, c, "a") // free lock: still a success
		acquire(t, c, "a", 10)

		release(t, c, "b")
		if got := holder(s); got != "a" {
			t.Fatalf("after non-holder release: holder = %q, want a", got)
		}
		release(t, c, "a")
		if got := holder(s); got != "" {
			t.Fatalf("after holder release: holder = %q, want none", got)
		}
		if !acquire(t, c, "b", 10) {
			t.Fatal("b could not acquire a released lock")
		}
	})
}

func TestNonPositiveTTLUsesDefault(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		for _, tc := range []struct {
			name string
			opts []qqtest.Option
			ttl  int32
			want time.Duration
		}{
			{"zero", nil, 0, 15 * time.Second},
			{"negative", nil, -3, 15 * time.Second},
			{"configured", []qqtest.Option{qqtest.WithDefaultTTL(3 * time.Second)}, 0, 3 * time.Second},
		} {
			s := qqtest.NewUnstartedServer(tc.opts...)
			c := s.Stub()
			acquire(t, c, "a", tc.ttl)
			if _, expires, _ := s.Lease(svc, dom); !expires.Equal(time.Now().Add(tc.want)) {
				t.Errorf("%s: TryAcquireLock expires = now+%v, want now+%v", tc.name, time.Until(expires), tc.want)
			}
			if got := keepAlive(t, c, "a", tc.ttl); got != tc.want {
				t.Errorf("%s: KeepAlive lease_length = %v, want %v", tc.name, got, tc.want)
			}
		}
	})
}

func TestLocksAreKeyedByServiceAndDomain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := qqtest.NewUnstartedServer()
		c := s.Stub()
		for _, r := range []*pb.TryAcquireLockRequest{
			{Service: "s1", Domain: "d1", ClientId: "a", Ttl: 10},
			{Service: "s1", Domain: "d2", ClientId: "b", Ttl: 10},
			{Service: "s2", Domain: "d1", ClientId: "c", Ttl: 10},
		} {
			resp, err := c.TryAcquireLock(t.Context(), r)
			if err != nil || !resp.GetIsLeader() {
				t.Errorf("%s/%s by %s: leader=%v err=%v, want a separate free lock", r.Service, r.Domain, r.ClientId, resp.GetIsLeader(), err)
			}
		}
		if id, _ := s.Holder("s1", "d2"); id != "b" {
			t.Errorf("Holder(s1, d2) = %q, want b", id)
		}
	})
}

func TestWithClock(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	s := qqtest.NewUnstartedServer(qqtest.WithClock(func() time.Time { return now }))
	c := s.Stub()
	acquire(t, c, "a", 5)
	if _, expires, _ := s.Lease(svc, dom); !expires.Equal(now.Add(5 * time.Second)) {
		t.Fatalf("expires = %v, want the injected clock + 5s", expires)
	}
	now = now.Add(5 * time.Second)
	if got := holder(s); got != "" {
		t.Fatalf("after advancing the injected clock past expiry: holder = %q, want none", got)
	}
}

func TestCalls(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := qqtest.NewUnstartedServer()
		c := s.Stub()
		acquire(t, c, "a", 10)
		acquire(t, c, "b", 10)
		keepAlive(t, c, "a", 10)
		release(t, c, "a")
		release(t, c, "b")
		release(t, c, "c")
		want := qqtest.CallCounts{TryAcquireLock: 2, KeepAlive: 1, ReleaseLock: 3}
		if got := s.Calls(); got != want {
			t.Errorf("Calls() = %+v, want %+v", got, want)
		}
		if got := s.Calls().Total(); got != 6 {
			t.Errorf("Total() = %d, want 6", got)
		}
	})
}
