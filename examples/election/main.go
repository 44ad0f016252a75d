// Command election shows three replicas competing for one Quorum Quest
// lock with client.Run: one wins; its network is cut, so it vanishes without
// releasing, and another takes over once the lease has run out; that one
// then steps down gracefully and hands over within a retry interval.
//
// With no flags it runs its own in-process server on loopback, so
//
//	go run ./examples/election
//
// needs nothing else. With -addr it talks to a real server instead.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"sync"
	"time"

	"github.com/quorum-quest/client-go/client"
	"github.com/quorum-quest/client-go/internal/testutil"
	"github.com/quorum-quest/client-go/qqtest"
	"google.golang.org/grpc"
)

func main() {
	addr := flag.String("addr", "", "Quorum Quest server host:port (default: an in-process server on loopback)")
	ttl := flag.Duration("ttl", 3*time.Second, "lease TTL (at least 1s)")
	service := flag.String("service", "election-demo", "service name of the lock")
	domain := flag.String("domain", "example", "domain of the lock")
	flag.Parse()
	if _, err := run(*addr, *service, *domain, *ttl); err != nil {
		log.Fatalf("election: %v", err)
	}
}

// replica is one competing process: a client running Run, and the network
// cable it dials through, which the demo can cut.
type replica struct {
	name   string
	client *client.QuorumQuestClient
	cable  *testutil.Cable
	stop   context.CancelFunc
	done   chan struct{}
}

// story is what happened in a run: who led in turn, and how long each
// change of leader took.
type story struct {
	first, second, third string
	failover, handover   time.Duration
}

func run(addr, service, domain string, ttl time.Duration) (story, error) {
	var st story
	if addr == "" {
		srv := qqtest.NewUnstartedServer()
		if err := srv.Start(); err != nil {
			return st, err
		}
		defer srv.Close()
		addr = srv.Addr()
		say("in-process server listening on %s", addr)
	}
	elected := make(chan *replica, 3)
	var replicas []*replica
	defer func() {
		for _, r := range replicas {
			r.stop()
			<-r.done
			if err := r.client.Close(); err != nil && !r.cable.IsCut() {
				say("%s: close: %v", r.name, err)
			}
		}
	}()
	for _, name := range []string{"replica-a", "replica-b", "replica-c"} {
		r := &replica{name: name, cable: &testutil.Cable{}, done: make(chan struct{})}
		c, err := client.NewQuorumQuestClient(service, domain, ttl, addr,
			client.WithClientID(name),
			client.WithCloseTimeout(time.Second),
			client.WithDialOptions(grpc.WithContextDialer(r.cable.Dial)),
			client.WithTransitionHook(func(t client.Transition) {
				reason := ""
				if t.Err != nil {
					reason = " (" + t.Err.Error() + ")"
				}
				say("%s: %s -> %s on %s%s", name, t.From, t.To, t.Event, reason)
			}))
		if err != nil {
			return st, err
		}
		r.client = c
		ctx, cancel := context.WithCancel(context.Background())
		r.stop = cancel
		replicas = append(replicas, r)
		go func() {
			defer close(r.done)
			err := c.Run(ctx, func(leading context.Context) {
				elected <- r
				say("%s: leading; working until leadership ends", name)
				<-leading.Done()
				say("%s: stopped working: %v", name, context.Cause(leading))
			})
			if !errors.Is(err, context.Canceled) {
				say("%s: Run: %v", name, err)
			}
		}()
	}

	first, err := waitElected(elected, 2*ttl)
	if err != nil {
		return st, err
	}
	st.first = first.name
	time.Sleep(ttl) // lead for a while, renewing the lease
	say("%s vanishes: its network is cut, it cannot release; the others must wait for its lease to run out", first.name)
	vanished := time.Now()
	first.cable.Cut()
	second, err := waitElected(elected, 2*ttl)
	if err != nil {
		return st, err
	}
	st.second, st.failover = second.name, time.Since(vanished)
	say("failover to %s took %v (TTL %v)", second.name, st.failover.Round(time.Millisecond), ttl)

	time.Sleep(ttl)
	say("%s steps down gracefully", second.name)
	released := time.Now()
	second.stop()
	third, err := waitElected(elected, 2*ttl)
	if err != nil {
		return st, err
	}
	st.third, st.handover = third.name, time.Since(released)
	say("handover to %s took %v", third.name, st.handover.Round(time.Millisecond))
	return st, nil
}

func waitElected(elected <-chan *replica, within time.Duration) (*replica, error) {
	select {
	case r := <-elected:
		return r, nil
	case <-time.After(within):
		return nil, fmt.Errorf("no leader elected within %v", within)
	}
}

var out sync.Mutex

func say(format string, args ...any) {
	out.Lock()
	defer out.Unlock()
	fmt.Fprintf(os.Stdout, "%s  %s\n", time.Now().Format("15:04:05.000"), fmt.Sprintf(format, args...))
}
