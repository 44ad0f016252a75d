package benchmark

import (
	"runtime"
	"testing"
	"time"

	"github.com/quorum-quest/client-go/qqtest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestSchedulesSpreadOrKeepStep(t *testing.T) {
	const interval = time.Second
	if got := Lockstep.next(interval); got != interval {
		t.Fatalf("lockstep: next renewal after %v, want %v", got, interval)
	}
	seen := map[time.Duration]bool{}
	for range 1000 {
		got := ClientSchedule.next(interval)
		if got < interval*9/10 || got > interval*11/10 {
			t.Fatalf("client's schedule: next renewal after %v, want 0.9 to 1.1 intervals", got)
		}
		seen[got] = true
	}
	if len(seen) < 100 {
		t.Fatalf("client's schedule: %d distinct delays in 1000 draws, want them spread", len(seen))
	}
}

// The bare renewers must renew, or the baseline would measure idle
// goroutines.
func TestBareRenewersRenew(t *testing.T) {
	srv := qqtest.NewServer(t)
	const n, ttl, window = 20, 3 * time.Second, time.Second
	for _, schedule := range []Schedule{ClientSchedule, Lockstep} {
		before := srv.Calls().KeepAlive
		got, err := MeasureBareScale(srv.Addr(), n, ttl, window, schedule)
		if err != nil {
			t.Fatal(err)
		}
		// Each renewer starts within its first interval (1 s) and the
		// measurement lasts two, so each renews at least once.
		if renewals := srv.Calls().KeepAlive - before; renewals < n {
			t.Errorf("%v: %d renewals by %d renewers", schedule, renewals, n)
		}
		if got.CPUPerElectionMinute <= 0 {
			t.Errorf("%v: CPU per election-minute %v", schedule, got.CPUPerElectionMinute)
		}
		if runtime.GOOS == "linux" && got.WritesPerRenewal <= 0 {
			t.Errorf("%v: %.2f write system calls per renewal", schedule, got.WritesPerRenewal)
		}
	}
}
