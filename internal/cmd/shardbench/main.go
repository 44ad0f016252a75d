// Command shardbench measures package shard at scale (issue 20, item 6):
// M shards (10,000 by default) across three replica processes against the
// in-memory server, which runs in this process so that it can judge
// balance and ownership from what the server saw. `make bench-shards` runs
// it; docs/performance.md ("Shards at scale") says what each figure means.
//
// The replicas and the baselines are this binary again, started with
// -mode; a replica answers commands on its standard input and reports
// each lead's start and end on its standard output.
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"runtime"
	"time"
)

func main() {
	mode := flag.String("mode", "", "child modes, used by the bench itself: replica, bare or clients")
	addr := flag.String("addr", "", "server address (child modes)")
	id := flag.String("id", "", "replica client ID (replica mode)")
	shards := flag.Int("shards", 10000, "number of shards")
	ttl := flag.Duration("ttl", 15*time.Second, "TTL of every shard and member slot")
	window := flag.Duration("window", 30*time.Second, "how long CPU and server calls are measured in steady state")
	timeout := flag.Duration("timeout", 6*time.Minute, "bound on the whole run")
	baselines := flag.Bool("baselines", true, "also measure the bare-stub and client baselines")
	heapProfile := flag.String("heapprofile", "", "have each replica write heap profiles to files named by this prefix, its ID and the moment: after the steady window, and after the rejoin")
	killSlot := flag.Int("kill", 0, "kill the replica holding this member slot (0-2): below 2, the top member also hands its shards over")
	flag.Parse()

	var err error
	switch *mode {
	case "":
		err = run(config{shards: *shards, ttl: *ttl, window: *window, timeout: *timeout, baselines: *baselines, heapProfile: *heapProfile, killSlot: *killSlot})
	case "replica":
		if *heapProfile != "" {
			runtime.MemProfileRate = 4096 // a finer profile than the default 512 KiB sampling
		}
		err = runReplica(*id, *addr, *shards, *ttl)
	case "bare":
		err = runBare(*addr, *shards, *ttl, *window)
	case "clients":
		err = runClients(*addr, *shards, *ttl, *window)
	default:
		err = fmt.Errorf("unknown mode %q", *mode)
	}
	if err != nil {
		log.SetPrefix(fmt.Sprintf("shardbench %s[%d]: ", *mode, os.Getpid()))
		log.Fatal(err)
	}
}
