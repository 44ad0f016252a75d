// Command server runs the in-memory Quorum Quest server of package qqtest
// as a process of its own, so that the examples can be tried across
// processes on one machine:
//
//	go run ./examples/server -addr 127.0.0.1:5050
//
// It keeps locks in memory with the real server's wire semantics (the
// package proto/ and package qqtest describe them), but none of its
// storage backends. It stops on SIGINT or SIGTERM.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/quorum-quest/client-go/qqtest"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:5050", "address to listen on (port 0 picks a free one)")
	defaultTTL := flag.Duration("default-ttl", 15*time.Second, "lease used when a request's ttl is 0 or less")
	flag.Parse()
	lis, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatalf("server: %v", err)
	}
	srv := qqtest.NewUnstartedServer(qqtest.WithDefaultTTL(*defaultTTL))
	fmt.Printf("listening on %s\n", lis.Addr())
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	select {
	case <-ctx.Done():
		srv.Close()
		err = <-served
	case err = <-served:
	}
	if err != nil {
		log.Fatalf("server: %v", err)
	}
}
