package benchmark

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"syscall"
	"time"

	"github.com/quorum-quest/client-go/client"
	"github.com/quorum-quest/client-go/pb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// Scale is the cost of holding n elections in one process.
type Scale struct {
	Elections int
	// BytesPerElection is heap plus goroutine stacks in use, per election.
	BytesPerElection float64
	// GoroutinesPerElection counts the goroutines the elections added.
	GoroutinesPerElection float64
	// CPUPerElectionMinute is this process's CPU time (user + system) per
	// election per minute, while every election renews its lease.
	CPUPerElectionMinute time.Duration
	// Lapses counts elections that were not leading at the end.
	Lapses int
	Window time.Duration
	Setup  time.Duration
}

// MeasureScale starts n clients in this process, sharing one connection to
// the server at addr (run it in another process so that its CPU is not
// counted), each campaigning for a lock of its own with TTL ttl. Once all
// lead, it measures memory and goroutines, then the CPU spent over window.
//
// profile, when not nil, is started and stopped around the CPU window.
func MeasureScale(addr string, n int, ttl, window time.Duration, profile func() (stop func())) (Scale, error) {
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return Scale{}, err
	}
	defer conn.Close()
	conn.Connect()
	before := usage()

	start := time.Now()
	clients := make([]*client.QuorumQuestClient, n)
	defer func() {
		closeAll(clients)
	}()
	work := make(chan int)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				c, err := client.NewQuorumQuestClient("scale", fmt.Sprintf("election-%d", i), ttl, "", client.WithConn(conn))
				if err != nil {
					errs <- err
					continue
				}
				clients[i] = c
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				if err := c.Campaign(ctx); err != nil {
					errs <- fmt.Errorf("election %d: %w", i, err)
				}
				cancel()
			}
		}()
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return Scale{}, err
	}
	s := Scale{Elections: n, Setup: time.Since(start), Window: window}

	held := usage()
	s.BytesPerElection = float64(held.bytes-before.bytes) / float64(n)
	s.GoroutinesPerElection = float64(held.goroutines-before.goroutines) / float64(n)

	var stopProfile func()
	if profile != nil {
		stopProfile = profile()
	}
	cpu0 := cpuTime()
	time.Sleep(window)
	cpu := cpuTime() - cpu0
	if stopProfile != nil {
		stopProfile()
	}
	s.CPUPerElectionMinute = time.Duration(float64(cpu) / float64(n) / window.Minutes())
	for _, c := range clients {
		if !c.IsLeader() {
			s.Lapses++
		}
	}
	return s, nil
}

type snapshotUsage struct {
	bytes      int64
	goroutines int
}

func usage() snapshotUsage {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return snapshotUsage{bytes: int64(ms.HeapInuse + ms.StackInuse), goroutines: runtime.NumGoroutine()}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func closeAll(clients []*client.QuorumQuestClient) {
	var wg sync.WaitGroup
	work := make(chan *client.QuorumQuestClient)
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range work {
				c.Close()
			}
		}()
	}
	for _, c := range clients {
		if c != nil {
			work <- c
		}
	}
	close(work)
	wg.Wait()
}

// MeasureBareScale is the floor MeasureScale is compared with: n goroutines
// on one connection, each renewing a lock of its own with the bare
// generated stub at the same rate as the client's keep-alive (a third of
// the TTL), with a per-call deadline like the client's. It reports CPU per
// election-minute only.
func MeasureBareScale(addr string, n int, ttl, window time.Duration) (time.Duration, error) {
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	stub := pb.NewLeaderElectionServiceClient(conn)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer wg.Wait() // deferred first, so it runs after cancel
	defer cancel()
	secs := int32(ttl / time.Second)
	for i := range n {
		d := fmt.Sprintf("bare-%d-%d", time.Now().UnixNano(), i)
		if _, err := stub.TryAcquireLock(ctx, &pb.TryAcquireLockRequest{Service: "scale", Domain: d, ClientId: "bare", Ttl: secs}); err != nil {
			return 0, err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			req := &pb.KeepAliveRequest{Service: "scale", Domain: d, ClientId: "bare", Ttl: secs}
			t := time.NewTimer(rand.N(ttl / 3))
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
				callCtx, done := context.WithTimeout(ctx, 5*time.Second)
				_, _ = stub.KeepAlive(callCtx, req)
				done()
				t.Reset(ttl / 3)
			}
		}()
	}
	time.Sleep(ttl / 3) // every goroutine in its steady state
	cpu0 := cpuTime()
	time.Sleep(window)
	cpu := cpuTime() - cpu0
	return time.Duration(float64(cpu) / float64(n) / window.Minutes()), nil
}
