// Command leader-work runs work that only the leader may do, and stops it
// the moment leadership ends, with client.Run.
//
// Against a server (`go run ./cmd/quorum-quest dev-server`), start several of these with
// different -id values; kill -9 the leader and another takes over once its
// lease has run out; stop one with Ctrl-C or SIGTERM and it hands over at
// once:
//
//	go run ./examples/leader-work -addr 127.0.0.1:5050 -id worker-1
//
// Without -addr it shows a loss on an in-process server: the server forgets
// the lease and a rival takes the lock, and the work stops at the worker's
// next renewal. (A server that loses its state breaks the lease guarantee:
// until that renewal both replicas may work. See docs/safety.md.)
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/quorum-quest/client-go/client"
	"github.com/quorum-quest/client-go/qqtest"
)

func main() {
	addr := flag.String("addr", "", "Quorum Quest server host:port (default: a self-contained demo on an in-process server)")
	id := flag.String("id", "worker-1", "this replica's client ID")
	ttl := flag.Duration("ttl", 2*time.Second, "lease TTL")
	retry := flag.Duration("retry", 0, "retry interval while another replica leads (default TTL/10)")
	batch := flag.Duration("batch", 100*time.Millisecond, "time one batch of work takes")
	flag.Parse()
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	var err error
	if *addr == "" {
		err = demo(ctx, *id, *ttl, *batch)
	} else {
		err = serve(ctx, *addr, *id, *ttl, *retry, *batch)
	}
	if err != nil {
		log.Fatalf("leader-work: %v", err)
	}
}

// serve runs the worker against a server until ctx ends, then hands over.
func serve(ctx context.Context, addr, id string, ttl, retry, batch time.Duration) error {
	opts := []client.Option{client.WithClientID(id)}
	if retry > 0 {
		opts = append(opts, client.WithRetryInterval(retry))
	}
	c, err := client.NewQuorumQuestClient("leader-work", "example", ttl, addr, opts...)
	if err != nil {
		return err
	}
	defer c.Close()
	say("%s: campaigning", id)
	err = c.Run(ctx, func(leading context.Context) { work(leading, id, batch) })
	if errors.Is(err, context.Canceled) {
		say("%s: released and stopped", id)
		return nil
	}
	return err
}

// work is the leader-only job: batches that each check, before starting,
// that leadership still holds.
func work(leading context.Context, id string, batch time.Duration) {
	say("%s: leading", id)
	for n := 1; ; n++ {
		select {
		case <-leading.Done():
			say("%s: stopped working: %v", id, context.Cause(leading))
			return
		case <-time.After(batch):
			say("%s: batch %d done", id, n)
		}
	}
}

// demo shows a loss on an in-process server: after a while the server
// forgets the lease and a rival takes the lock.
func demo(ctx context.Context, id string, ttl, batch time.Duration) error {
	srv := qqtest.NewUnstartedServer()
	stub := client.WithServerStub(srv.Stub())
	worker, err := client.NewQuorumQuestClient("leader-work", "example", ttl, "", stub, client.WithClientID(id))
	if err != nil {
		return err
	}
	defer worker.Close()
	rival, err := client.NewQuorumQuestClient("leader-work", "example", ttl, "", stub, client.WithClientID("rival"))
	if err != nil {
		return err
	}
	defer rival.Close()

	runCtx, stopRun := context.WithCancel(ctx)
	defer stopRun()
	stopped := make(chan time.Time, 1)
	done := make(chan error, 1)
	go func() {
		done <- worker.Run(runCtx, func(leading context.Context) {
			work(leading, id, batch)
			select {
			case stopped <- time.Now():
			default:
			}
		})
	}()
	select {
	case <-time.After(ttl):
	case <-ctx.Done():
	}
	say("the server loses its state and the rival takes the lock")
	srv.Restart()
	taken := time.Now()
	if ok, err := rival.TryAcquireLock(ctx); !ok {
		return fmt.Errorf("rival could not take the lock: %v", err)
	}
	select {
	case at := <-stopped:
		say("%s stopped %v after the rival took the lock (keep-alive runs every %v)", id, at.Sub(taken).Round(time.Millisecond), ttl/3)
	case <-time.After(2 * ttl):
		return errors.New("the worker did not stop")
	}
	stopRun()
	if err := <-done; !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

func say(format string, args ...any) {
	fmt.Printf("%s  %s\n", time.Now().Format("15:04:05.000"), fmt.Sprintf(format, args...))
}
