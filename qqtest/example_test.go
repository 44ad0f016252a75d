package qqtest_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/quorum-quest/client-go/client"
	"github.com/quorum-quest/client-go/qqtest"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// A test of leader-only work: the leader's client is cut off, its work
// stops when its lease runs out, and the other candidate takes over.
//
// This example runs in real time, with the shortest TTL (1 s), so it takes
// about a second. In a test, run the same inside testing/synctest.Test with
// any TTL: the lease then passes in virtual time, in microseconds, and the
// timings are exact. TestLeaderOnlyWork in this package's
// leaderwork_test.go is that test, complete.
func ExampleServer_Partition() {
	srv := qqtest.NewUnstartedServer()
	leads, stops := make(chan string, 4), make(chan string, 4)

	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	worker := func(id string) *client.QuorumQuestClient {
		c, err := client.NewQuorumQuestClient("billing", "eu-west", time.Second, "in-process",
			client.WithServerStub(srv.Stub()), client.WithClientID(id),
			client.WithRetryInterval(100*time.Millisecond), client.WithRequestTimeout(200*time.Millisecond))
		if err != nil {
			log.Fatal(err)
		}
		go c.Run(ctx, func(leading context.Context) {
			leads <- id + " leads"
			<-leading.Done() // leader-only work runs until this
			if errors.Is(context.Cause(leading), client.ErrNotLeader) {
				stops <- id + " stopped: leadership ended"
			}
		})
		return c
	}

	// next waits for a worker's report, for a few seconds at most.
	next := func(reports <-chan string) string {
		select {
		case r := <-reports:
			return r
		case <-time.After(5 * time.Second):
			return "timed out"
		}
	}

	w1 := worker("worker-1")
	defer w1.Close()
	fmt.Println(next(leads))
	w2 := worker("worker-2")
	defer w2.Close()

	srv.Partition("worker-1") // its calls now hang until their deadlines
	fmt.Println(next(stops))
	fmt.Println(next(leads))
	holder, _ := srv.Holder("billing", "eu-west")
	fmt.Println("holder:", holder, "- worker-1 leading:", w1.IsLeader())

	srv.Heal("worker-1")
	stop()
	// Output:
	// worker-1 leads
	// worker-1 stopped: leadership ended
	// worker-2 leads
	// holder: worker-2 - worker-1 leading: false
}

// Without a network: a client on the server's Stub. Inside a
// testing/synctest bubble the server's clock is virtual.
func ExampleServer_Stub() {
	srv := qqtest.NewUnstartedServer()
	c, err := client.NewQuorumQuestClient("billing", "eu-west", 15*time.Second, "in-process",
		client.WithServerStub(srv.Stub()), client.WithClientID("replica-1"))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	ok, err := c.TryAcquireLock(context.Background())
	holder, held := srv.Holder("billing", "eu-west")
	fmt.Println(ok, err, holder, held)
	// Output: true <nil> replica-1 true
}

// Over real gRPC: serve on a loopback port and give the client the
// address. In a test, qqtest.NewServer(t) does this and closes the server
// when the test ends.
func ExampleServer_Start() {
	srv := qqtest.NewUnstartedServer()
	if err := srv.Start(); err != nil {
		log.Fatal(err)
	}
	defer srv.Close()

	c, err := client.NewQuorumQuestClient("billing", "eu-west", 15*time.Second, srv.Addr(),
		client.WithClientID("replica-1"))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	ok, err := c.TryAcquireLock(context.Background())
	fmt.Println(ok, err)
	// Output: true <nil>
}

// Every call fails with a status code, as when the server is unreachable,
// then is slowed down; SetFault(Fault{}) clears the fault.
func ExampleServer_SetFault() {
	srv := qqtest.NewUnstartedServer()
	c, err := client.NewQuorumQuestClient("billing", "eu-west", 15*time.Second, "in-process",
		client.WithServerStub(srv.Stub()))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	srv.SetFault(qqtest.Fault{Code: codes.Unavailable})
	_, err = c.TryAcquireLock(context.Background())
	fmt.Println(status.Code(err))

	srv.SetFault(qqtest.Fault{Delay: 50 * time.Millisecond})
	start := time.Now()
	ok, _ := c.TryAcquireLock(context.Background())
	fmt.Println(ok, time.Since(start) >= 50*time.Millisecond)

	srv.SetFault(qqtest.Fault{})
	// Output:
	// Unavailable
	// true true
}

// A fault for some calls only: here the leader's renewals fail, while its
// acquisition went through. The client keeps leading until its lease's
// local deadline, then steps down.
func ExampleServer_SetFaultFunc() {
	srv := qqtest.NewUnstartedServer()
	srv.SetFaultFunc(func(c qqtest.Call) qqtest.Fault {
		if c.Method == qqtest.MethodKeepAlive && c.ClientID == "replica-1" {
			return qqtest.Fault{Code: codes.Unavailable}
		}
		return qqtest.Fault{}
	})
	c, err := client.NewQuorumQuestClient("billing", "eu-west", time.Second, "in-process",
		client.WithServerStub(srv.Stub()), client.WithClientID("replica-1"))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	transitions := c.Watch(context.Background())
	if err := c.Campaign(context.Background()); err != nil {
		log.Fatal(err)
	}
	fmt.Println("leading:", c.IsLeader())
	for t := range transitions { // failed renewals, retried, then:
		if t.To == client.StateLost {
			fmt.Println("lost; lease expired:", errors.Is(t.Err, client.ErrLeaseExpired))
			break
		}
	}
	// Output:
	// leading: true
	// lost; lease expired: true
}

// History lists every holding period the server saw, for checking what
// clients believed against what the server granted.
func ExampleServer_History() {
	srv := qqtest.NewUnstartedServer()
	for _, id := range []string{"replica-1", "replica-2"} {
		c, err := client.NewQuorumQuestClient("billing", "eu-west", 15*time.Second, "in-process",
			client.WithServerStub(srv.Stub()), client.WithClientID(id))
		if err != nil {
			log.Fatal(err)
		}
		if _, err := c.TryAcquireLock(context.Background()); err != nil {
			log.Fatal(err)
		}
		c.Close() // releases the lock
	}
	for _, t := range srv.History() {
		fmt.Println(t.ClientID, t.Ended)
	}
	// Output:
	// replica-1 true
	// replica-2 true
}
