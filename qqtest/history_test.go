package qqtest_test

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/quorum-quest/client-go/qqtest"
)

func tenure(id string, start, end time.Time, ended bool) qqtest.Tenure {
	return qqtest.Tenure{Service: svc, Domain: dom, ClientID: id, Start: start, End: end, Ended: ended}
}

func checkHistory(t *testing.T, s *qqtest.Server, want ...qqtest.Tenure) {
	t.Helper()
	got := s.History()
	if len(got) != len(want) {
		t.Fatalf("History() has %d tenures, want %d:\n got %+v\nwant %+v", len(got), len(want), got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("tenure %d:\n got %+v\nwant %+v", i, got[i], want[i])
		}
	}
}

func TestHistoryExtendAndRelease(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := qqtest.NewUnstartedServer()
		c := s.Stub()
		t0 := time.Now()

		acquire(t, c, "a", 10)
		checkHistory(t, s, tenure("a", t0, t0.Add(10*time.Second), false))

		time.Sleep(4 * time.Second)
		acquire(t, c, "a", 10) // renewal by TryAcquireLock
		checkHistory(t, s, tenure("a", t0, t0.Add(14*time.Second), false))

		time.Sleep(4 * time.Second)
		keepAlive(t, c, "a", 10) // renewal by KeepAlive
		checkHistory(t, s, tenure("a", t0, t0.Add(18*time.Second), false))

		acquire(t, c, "b", 10) // refused: no new tenure
		keepAlive(t, c, "b", 10)
		checkHistory(t, s, tenure("a", t0, t0.Add(18*time.Second), false))

		time.Sleep(2 * time.Second)
		release(t, c, "a")
		checkHistory(t, s, tenure("a", t0, t0.Add(10*time.Second), true))

		acquire(t, c, "b", 10)
		t1 := time.Now()
		checkHistory(t, s,
			tenure("a", t0, t0.Add(10*time.Second), true),
			tenure("b", t1, t1.Add(10*time.Second), false))
	})
}

func TestHistoryExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := qqtest.NewUnstartedServer()
		c := s.Stub()
		t0 := time.Now()
		acquire(t, c, "a", 10)

		// Reported as ended at its expiry although no call touched the lock.
		time.Sleep(25 * time.Second)
		checkHistory(t, s, tenure("a", t0, t0.Add(10*time.Second), true))

		// The same client re-acquiring after expiry starts a new tenure:
		// there was a gap in which nobody held the lock.
		acquire(t, c, "a", 10)
		t1 := time.Now()
		checkHistory(t, s,
			tenure("a", t0, t0.Add(10*time.Second), true),
			tenure("a", t1, t1.Add(10*time.Second), false))
	})
}

func TestHistoryRestart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := qqtest.NewUnstartedServer()
		c := s.Stub()
		t0 := time.Now()
		acquire(t, c, "a", 10)
		time.Sleep(3 * time.Second)
		s.Restart()
		checkHistory(t, s, tenure("a", t0, t0.Add(3*time.Second), true))
	})
}
