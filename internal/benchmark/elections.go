package benchmark

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/quorum-quest/client-go/client"
	"github.com/quorum-quest/client-go/internal/testutil"
	"google.golang.org/grpc"
)

// Distribution summarises a set of durations.
type Distribution struct {
	N                  int
	Median, P99, Max   time.Duration
	Bound              time.Duration // what the goal allows
	WithinBound        int           // samples at or under Bound
	Failures           int           // elections that never recovered
	TTL, RetryInterval time.Duration
}

func summarise(samples []time.Duration, failures int, bound time.Duration) Distribution {
	slices.Sort(samples)
	d := Distribution{N: len(samples), Failures: failures, Bound: bound}
	if len(samples) == 0 {
		return d
	}
	d.Median = samples[len(samples)/2]
	d.P99 = samples[min(len(samples)-1, len(samples)*99/100)]
	d.Max = samples[len(samples)-1]
	for _, s := range samples {
		if s <= bound {
			d.WithinBound++
		}
	}
	return d
}

// pair is one election: two candidates running Run on their own
// connections, and the time each was elected.
type pair struct {
	clients [2]*client.QuorumQuestClient
	cables  [2]*testutil.Cable
	stops   [2]context.CancelFunc
	done    sync.WaitGroup
	elected chan int // index of the candidate elected
}

func newPair(addr, domain string, ttl time.Duration) (*pair, error) {
	p := &pair{elected: make(chan int, 4)}
	for i := range 2 {
		p.cables[i] = &testutil.Cable{}
		c, err := client.NewQuorumQuestClient("failover", domain, ttl, addr,
			client.WithClientID(fmt.Sprintf("%s-%d", domain, i)),
			client.WithDialOptions(grpc.WithContextDialer(p.cables[i].Dial)),
			client.WithCloseTimeout(100*time.Millisecond))
		if err != nil {
			p.close()
			return nil, err
		}
		p.clients[i] = c
		ctx, stop := context.WithCancel(context.Background())
		p.stops[i] = stop
		p.done.Add(1)
		go func() {
			defer p.done.Done()
			_ = c.Run(ctx, func(leading context.Context) {
				p.elected <- i
				<-leading.Done()
			})
		}()
	}
	return p, nil
}

func (p *pair) close() {
	for i, c := range p.clients {
		if c != nil {
			p.stops[i]()
		}
	}
	p.done.Wait()
	for _, c := range p.clients {
		if c != nil {
			c.Close()
		}
	}
}

// MeasureFailover runs n elections at once on the server at addr, each of
// two candidates with default settings. Once every election has a leader,
// each leader vanishes at a random moment (its network is cut: no release)
// and the time until the other candidate leads is recorded. The goal
// allows 1.1 x TTL.
func MeasureFailover(addr string, n int, ttl time.Duration) (Distribution, error) {
	return measureTakeover(addr, n, ttl, true)
}

// MeasureHandover is MeasureFailover with a graceful step-down (Run's
// context ends, so the leader releases) instead of a vanishing leader. The
// goal allows the retry interval plus two round trips; the bound checked
// here is the retry interval plus 10ms.
func MeasureHandover(addr string, n int, ttl time.Duration) (Distribution, error) {
	return measureTakeover(addr, n, ttl, false)
}

func measureTakeover(addr string, n int, ttl time.Duration, vanish bool) (Distribution, error) {
	retry := ttl / 10
	pairs := make([]*pair, 0, n)
	defer func() {
		for _, p := range pairs {
			p.close()
		}
	}()
	for i := range n {
		p, err := newPair(addr, fmt.Sprintf("takeover-%d-%d", time.Now().UnixNano(), i), ttl)
		if err != nil {
			return Distribution{}, err
		}
		pairs = append(pairs, p)
	}
	var mu sync.Mutex
	var samples []time.Duration
	failures := 0
	var wg sync.WaitGroup
	for _, p := range pairs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			took, ok := takeover(p, ttl, vanish)
			mu.Lock()
			defer mu.Unlock()
			if ok {
				samples = append(samples, took)
			} else {
				failures++
			}
		}()
	}
	wg.Wait()
	bound := ttl + ttl/10
	if !vanish {
		bound = retry + 10*time.Millisecond
	}
	d := summarise(samples, failures, bound)
	d.TTL, d.RetryInterval = ttl, retry
	return d, nil
}

// takeover waits for p's first leader, lets it lead for a random time, then
// cuts or stops it and times the other candidate's election.
func takeover(p *pair, ttl time.Duration, vanish bool) (time.Duration, bool) {
	var first int
	select {
	case first = <-p.elected:
	case <-time.After(3 * ttl):
		return 0, false
	}
	time.Sleep(ttl + rand.N(ttl)) // lead a while: any phase of the renewal cycle
	start := time.Now()
	if vanish {
		p.cables[first].Cut()
	} else {
		p.stops[first]()
	}
	for {
		select {
		case i := <-p.elected:
			if i != first {
				return time.Since(start), true
			}
		case <-time.After(3 * ttl):
			return 0, false
		}
	}
}
