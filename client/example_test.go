package client_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/quorum-quest/client-go/client"
	"github.com/quorum-quest/client-go/qqtest"
)

// The seed flow: try once, keep the lease alive while leading, release when
// done. The in-memory server stands in for a real one at "localhost:5050".
func ExampleQuorumQuestClient_TryAcquireLock() {
	srv := qqtest.NewUnstartedServer()
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
	srv := qqtest.NewUnstartedServer()
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

// Run campaigns, runs the leader's work while leading, and hands over when
// its context ends. Here the work stops itself after one batch, and the
// context ends after the second term.
func ExampleQuorumQuestClient_Run() {
	srv := qqtest.NewUnstartedServer()
	c, err := client.NewQuorumQuestClient("my-service", "production", 15*time.Second, "localhost:5050",
		client.WithServerStub(srv.Stub()))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	ctx, stop := context.WithCancel(context.Background())
	terms := 0
	err = c.Run(ctx, func(leading context.Context) {
		// leading is cancelled the moment leadership ends: check it
		// between steps of leader-only work.
		terms++
		fmt.Println("term", terms, "leading:", c.IsLeader())
		if terms == 2 {
			stop() // shut down: Run releases the lock and returns
		}
	})
	fmt.Println(err, "- leading:", c.IsLeader())
	// Output:
	// term 1 leading: true
	// term 2 leading: true
	// context canceled - leading: false
}

// Campaign blocks until elected, then keeps the lease alive in the
// background.
func ExampleQuorumQuestClient_Campaign() {
	srv := qqtest.NewUnstartedServer()
	c, err := client.NewQuorumQuestClient("my-service", "production", 15*time.Second, "localhost:5050",
		client.WithServerStub(srv.Stub()))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := c.Campaign(ctx); err != nil {
		log.Fatal(err) // ctx ended first, or the client was closed
	}
	fmt.Println("elected; keep-alive running:", errors.Is(c.StartKeepAlive(ctx), client.ErrKeepAliveRunning))
	// Output:
	// elected; keep-alive running: true
}

// Watch streams transitions to a reader until its context ends or the
// client closes.
func ExampleQuorumQuestClient_Watch() {
	srv := qqtest.NewUnstartedServer()
	c, err := client.NewQuorumQuestClient("my-service", "production", 15*time.Second, "localhost:5050",
		client.WithServerStub(srv.Stub()))
	if err != nil {
		log.Fatal(err)
	}
	transitions := c.Watch(context.Background())
	if _, err := c.TryAcquireLock(context.Background()); err != nil {
		log.Fatal(err)
	}
	c.Close()
	for t := range transitions { // closed after the transition to closed
		fmt.Println(t.From, "->", t.To)
	}
	// Output:
	// follower -> acquiring
	// acquiring -> leader
	// leader -> closed
}
