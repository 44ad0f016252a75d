package outage

import (
	"context"
	"testing"
	"time"
)

// The Must-show, at TTL 2 s with default options and five
// candidates on Run, each behind a proxy of its own over real TCP: after a
// silent outage heals, some candidate leads within 2 x TTL + 1 s; after a
// reset outage heals, within TTL + 1 s; leadership then stays put for two
// TTLs; never two leaders at once by the server's record, and no
// candidate reports leadership the server did not give it. The outage
// lasts the 20 s: with gRPC's default reconnect backoff (1 s x 1.6
// per failure) a reset outage that long heals 4-5 s before anyone leads,
// while one of 10 s still passes; the two kinds run in parallel, about
// 30 s in all.
func TestRecoveryAfterOutage(t *testing.T) {
	// starved is a pause of the whole process long enough to excuse a
	// change of leadership: the monitor asks to run every millisecond.
	const starved = 250 * time.Millisecond
	const ttl = 2 * time.Second
	for _, tc := range []struct {
		kind  Kind
		bound time.Duration
	}{
		{Silent, 2*ttl + time.Second},
		{Reset, ttl + time.Second},
	} {
		t.Run(string(tc.kind), func(t *testing.T) {
			t.Parallel()
			res, err := Run(context.Background(), Config{
				Kind: tc.kind, TTL: ttl, Candidates: 5,
				Outage: 20 * time.Second, Settle: 2 * ttl, Limit: 30 * time.Second,
			})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: %s led %v after the outage healed (longest pause of the process while settling: %v)", tc.kind, res.Leader, res.Recovery, res.Starved)
			if res.Recovery > tc.bound {
				t.Errorf("a leader only %v after healing; the bound is %v", res.Recovery, tc.bound)
			}
			// A leader whose whole process gets no CPU for longer than
			// what is left of its lease loses it, as it must; on a
			// machine shared with make test's compilers that happens.
			// Staying put is judged only when the process ran.
			switch {
			case len(res.Moved) > 0 && res.Starved >= starved:
				t.Logf("the process was starved for %v while settling; leadership moved: %v", res.Starved, res.Moved)
			default:
				for _, m := range res.Moved {
					t.Errorf("leadership did not stay put: %s", m)
				}
			}
			for _, v := range res.Violations {
				t.Errorf("safety: %s", v)
			}
		})
	}
}
