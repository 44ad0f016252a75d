// Command server runs the in-memory Quorum Quest server from
// internal/testutil as a process of its own, so that the examples can be
// tried across processes on one machine:
//
//	go run ./examples/server -addr 127.0.0.1:5050
//
// It keeps locks in memory with the real server's wire semantics (the
// package proto/ and internal/testutil describe them), but none of its
// storage backends. It stops on SIGINT or SIGTERM.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/quorum-quest/client-go/internal/testutil"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:5050", "address to listen on (port 0 picks a free one)")
	defaultTTL := flag.Duration("default-ttl", 15*time.Second, "lease used when a request's ttl is 0 or less")
	flag.Parse()
	bound, stop, err := testutil.ServeTCP(testutil.NewServer(testutil.WithDefaultTTL(*defaultTTL)), *addr)
	if err != nil {
		log.Fatalf("server: %v", err)
	}
	fmt.Printf("listening on %s\n", bound)
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	<-ctx.Done()
	stop()
}
