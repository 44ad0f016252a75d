package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/quorum-quest/client-go/client"
	"github.com/quorum-quest/client-go/internal/benchmark"
	"github.com/quorum-quest/client-go/shard"
)

// The set's lock names: shard i is (service, domain + "/" + i).
const service, domain = "shardbench", "shards"

// lines writes the replica's reports to its standard output. Lead events
// are buffered and flushed every few milliseconds, since 10,000 of them
// come at once; each carries its own timestamp, so the delay does not
// matter. Answers to commands are flushed at once.
type lines struct {
	mu sync.Mutex
	w  *bufio.Writer
}

func (l *lines) printf(flush bool, format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, format+"\n", args...)
	if flush {
		l.w.Flush()
	}
}

func (l *lines) flushEvery(ctx context.Context, d time.Duration) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			l.mu.Lock()
			l.w.Flush()
			l.mu.Unlock()
		}
	}
}

// runReplica runs one shard.Set. Commands, one a line on standard input:
//
//	run    start Set.Run
//	stat   answer "S <cpu ns> <owned>"
//	mem    collect garbage twice, answer "M <heap in use> <stacks in use> <rss> <goroutines> <owned>"
//
// Leads are reported as "L <shard> <unix ns>" when they start and
// "E <shard> <unix ns>" when their context ended. At the end of standard
// input the replica closes its set (releasing every shard) and exits.
func runReplica(id, addr string, shards int, ttl time.Duration) error {
	out := &lines{w: bufio.NewWriterSize(os.Stdout, 64<<10)}
	set, err := shard.New(service, domain, shards, ttl, addr, shard.WithClientOptions(client.WithClientID(id)))
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go out.flushEvery(ctx, 20*time.Millisecond)
	lead := func(ctx context.Context, i int) {
		out.printf(false, "L %d %d", i, time.Now().UnixNano())
		<-ctx.Done()
		out.printf(false, "E %d %d", i, time.Now().UnixNano())
	}
	out.printf(true, "ready")
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		switch cmd := strings.TrimSpace(in.Text()); cmd {
		case "run":
			go func() { _ = set.Run(ctx, lead) }() // Close ends it
		case "stat":
			out.printf(true, "S %d %d", benchmark.CPUTime(), len(set.Owned()))
		case "mem":
			runtime.GC()
			runtime.GC()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			out.printf(true, "M %d %d %d %d %d", ms.HeapInuse, ms.StackInuse, rss(), runtime.NumGoroutine(), len(set.Owned()))
		default:
			// "heap <file>": a heap profile, to see where a shard's memory goes.
			if file, ok := strings.CutPrefix(cmd, "heap "); ok {
				if err := writeHeapProfile(file); err != nil {
					return err
				}
				out.printf(true, "H")
				continue
			}
			return fmt.Errorf("unknown command %q", cmd)
		}
	}
	cancel()
	err = set.Close()
	out.printf(true, "closed")
	return err
}

func writeHeapProfile(file string) error {
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	runtime.GC()
	if err := pprof.WriteHeapProfile(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// rss is this process's resident set in bytes, from /proc/self/statm; 0
// where there is none.
func rss() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseInt(f[1], 10, 64)
	return pages * int64(os.Getpagesize())
}

// runBare is the baseline of the CPU figure: n bare-stub elections
// renewing on the client's schedule, in a process of their own.
func runBare(addr string, n int, ttl, window time.Duration) error {
	b, err := benchmark.MeasureBareScale(addr, n, ttl, window, benchmark.ClientSchedule)
	if err != nil {
		return err
	}
	fmt.Printf("B %d %.3f\n", b.CPUPerElectionMinute, b.WritesPerRenewal)
	return nil
}

// runClients is the baseline of the memory figure: n client elections
// held on one connection, as the bench's scale measurement holds them.
func runClients(addr string, n int, ttl, window time.Duration) error {
	s, err := benchmark.MeasureScale(addr, n, ttl, window, nil)
	if err != nil {
		return err
	}
	fmt.Printf("C %d %.1f %d\n", s.CPUPerElectionMinute, s.BytesPerElection, s.Lapses)
	return nil
}
