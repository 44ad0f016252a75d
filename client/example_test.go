package client_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/quorum-quest/client-go/client"
	"github.com/quorum-quest/client-go/internal/testutil"
)

// The seed flow: try once, keep the lease alive while leading, release when
// done. The in-memory server stands in for a real one at "localhost:5050".
func ExampleQuorumQuestClient_TryAcquireLock() {
	srv := testutil.NewServer()
	c, err := client.NewQuorumQuestClient("my-service", "production", 15*time.Second, "localhost:5050",
		client.WithServerStub(srv.Stub()))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	ctx := context.Background()
	isLeader, err := c.TryAcquireLock(ctx)
	if err != nil {
		log.Fatal(err)
	}
	if isLeader {
		fmt.Println("leading:", c.IsLeader())
		if err := c.StartKeepAlive(ctx); err != nil {
			log.Fatal(err)
		}
		// ... leader-only work, checking c.IsLeader() before each step ...
		if err := c.ReleaseLock(ctx); err != nil {
			log.Print(err)
		}
	}
	fmt.Println("leading after release:", c.IsLeader())
	// Output:
	// leading: true
	// leading after release: false
}

// Hooks see every transition of the client's state machine, in order.
func ExampleWithTransitionHook() {
	srv := testutil.NewServer()
	c, err := client.NewQuorumQuestClient("my-service", "production", 15*time.Second, "localhost:5050",
		client.WithServerStub(srv.Stub()),
		client.WithTransitionHook(func(t client.Transition) {
			fmt.Printf("%s -> %s on %s\n", t.From, t.To, t.Event)
		}))
	if err != nil {
		log.Fatal(err)
	}
	if _, err := c.TryAcquireLock(context.Background()); err != nil {
		log.Fatal(err)
	}
	c.Close() // waits until the hooks have seen the transition to closed
	// Output:
	// follower -> acquiring on acquire
	// acquiring -> leader on granted
	// leader -> closed on close
}
