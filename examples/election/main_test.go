package main

import (
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The demo's whole story completes on the in-process server and cleans
// up: three different replicas lead in turn; the failover after the
// leader vanished waits for its lease (at least the TTL less the part
// already used since its last renewal, about a third) and takes at most a
// TTL plus a retry interval; the graceful handover takes about a retry
// interval, far less than a TTL. Bounds have slack for real time.
func TestDemoRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("runs for a few seconds of real time")
	}
	const ttl = time.Second
	st, err := run("", "demo-test", "test", ttl)
	if err != nil {
		t.Fatal(err)
	}
	if st.first == "" || st.first == st.second || st.second == st.third || st.first == st.third {
		t.Fatalf("leaders %q, %q, %q: want three different replicas in turn", st.first, st.second, st.third)
	}
	if st.failover < ttl/2 || st.failover > 2*ttl {
		t.Fatalf("failover took %v; want between the TTL less a renewal interval and about a TTL plus a retry (%v)", st.failover, ttl)
	}
	if st.handover > ttl/2 {
		t.Fatalf("graceful handover took %v; want about a retry interval (%v), not a lease", st.handover, ttl/10)
	}
}
