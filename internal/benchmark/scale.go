package benchmark

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
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
	Renewing
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
	conn, counts, err := countingConn(addr)
	if err != nil {
		return Scale{}, err
	}
	defer conn.Close()
	conn.Connect()
	return measureScale(client.WithConn(conn), counts, n, ttl, window, profile)
}

// MeasureScaleDialConn is MeasureScale with the clients sharing a
// client.DialConn (two links, hedged calls) instead of a gRPC connection.
// Its renewals count the copies answered, hedges included.
func MeasureScaleDialConn(addr string, n int, ttl, window time.Duration, profile func() (stop func())) (Scale, error) {
	counts := new(callCounts)
	conn, err := client.DialConn(addr, ttl, client.WithDialOptions(grpc.WithUnaryInterceptor(counts.intercept)))
	if err != nil {
		return Scale{}, err
	}
	defer conn.Close()
	return measureScale(client.WithServerStub(conn), counts, n, ttl, window, profile)
}

func measureScale(shared client.Option, counts *callCounts, n int, ttl, window time.Duration, profile func() (stop func())) (Scale, error) {
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
				c, err := client.NewQuorumQuestClient("scale", fmt.Sprintf("election-%d", i), ttl, "", shared)
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
	w := measureWindow(window, counts)
	if stopProfile != nil {
		stopProfile()
	}
	s.Renewing = w.renewing(n)
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

// Renewing is what renewing cost this process over a measurement window.
type Renewing struct {
	// CPUPerElectionMinute is this process's CPU time (user + system) per
	// election per minute, while every election renews its lease.
	CPUPerElectionMinute time.Duration
	// Renewals counts the calls answered over the window, Failed those
	// that ended in an error.
	Renewals, Failed int64
	// CPUPerRenewal is the CPU time over the window per renewal counted:
	// the cost at the same rate, whatever rate the schedule gave.
	CPUPerRenewal time.Duration
	// WritesPerRenewal is the write system calls this process made per
	// renewal over the window: how well gRPC batched the elections'
	// calls, which is most of what their schedule changes.
	WritesPerRenewal float64
}

// countingConn dials addr with an interceptor that counts the calls
// answered, so that CPU is compared per renewal actually made.
func countingConn(addr string) (*grpc.ClientConn, *callCounts, error) {
	counts := new(callCounts)
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithUnaryInterceptor(counts.intercept))
	return conn, counts, err
}

type callCounts struct{ answered, failed atomic.Int64 }

// intercept is a gRPC unary interceptor that counts.
func (c *callCounts) intercept(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoke grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	err := invoke(ctx, method, req, reply, cc, opts...)
	if err == nil {
		c.answered.Add(1)
	} else {
		c.failed.Add(1)
	}
	return err
}

// windowUsage is what this process spent over a measurement window.
type windowUsage struct {
	window   time.Duration
	cpu      time.Duration
	writes   int64 // write system calls
	renewals int64 // calls answered
	failed   int64 // calls that ended in an error
}

// measureWindow waits for window and returns the CPU time this process
// spent, the write system calls it made and the calls answered meanwhile.
func measureWindow(window time.Duration, counts *callCounts) windowUsage {
	cpu0, writes0, answered0, failed0 := CPUTime(), writeSyscalls(), counts.answered.Load(), counts.failed.Load()
	time.Sleep(window)
	return windowUsage{window, CPUTime() - cpu0, writeSyscalls() - writes0, counts.answered.Load() - answered0, counts.failed.Load() - failed0}
}

// renewing is the window's cost for n elections.
func (w windowUsage) renewing(n int) Renewing {
	per := float64(max(w.renewals, 1))
	return Renewing{
		CPUPerElectionMinute: time.Duration(float64(w.cpu) / float64(n) / w.window.Minutes()),
		Renewals:             w.renewals,
		Failed:               w.failed,
		CPUPerRenewal:        time.Duration(float64(w.cpu) / per),
		WritesPerRenewal:     float64(w.writes) / per,
	}
}

// keepAliveInterval is the client's default keep-alive interval for ttl.
func keepAliveInterval(ttl time.Duration) time.Duration { return ttl / 3 }

// writeSyscalls is the number of write system calls this process has
// made, from Linux's /proc/self/io; -1 elsewhere.
func writeSyscalls() int64 {
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return -1
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "syscw: "); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				return -1
			}
			return n
		}
	}
	return -1
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

// Schedule is when a bare renewer sends its next renewal.
type Schedule int

const (
	// ClientSchedule renews 0.9 to 1.1 intervals (uniformly drawn) after
	// the previous renewal returned, as the client's keep-alive does
	// (client/keepalive.go), so that renewals stay spread out.
	ClientSchedule Schedule = iota
	// Lockstep renews exactly one interval after the previous renewal
	// returned. Renewals answered together are then sent together again,
	// so they gather into bursts that gRPC writes in fewer system calls:
	// cheaper for the process, harder on the server.
	Lockstep
)

func (s Schedule) String() string {
	if s == Lockstep {
		return "in lockstep"
	}
	return "on the client's schedule"
}

// next is how long after a renewal returned the next is sent.
func (s Schedule) next(interval time.Duration) time.Duration {
	if s == Lockstep {
		return interval
	}
	return time.Duration(float64(interval) * (0.9 + 0.2*rand.Float64()))
}

// BareScale is what MeasureBareScale measures.
type BareScale struct{ Renewing }

// MeasureBareScale is the floor MeasureScale is compared with: n goroutines
// on one connection, each renewing a lock of its own with the bare
// generated stub at the client's keep-alive interval on the given
// schedule, with a per-call deadline like the client's. Each starts at a
// random point of its interval.
func MeasureBareScale(addr string, n int, ttl, window time.Duration, schedule Schedule) (BareScale, error) {
	conn, counts, err := countingConn(addr)
	if err != nil {
		return BareScale{}, err
	}
	defer conn.Close()
	stub := pb.NewLeaderElectionServiceClient(conn)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer wg.Wait() // deferred first, so it runs after cancel
	defer cancel()
	secs := int32(ttl / time.Second)
	interval := keepAliveInterval(ttl)
	for i := range n {
		d := fmt.Sprintf("bare-%d-%d", time.Now().UnixNano(), i)
		if _, err := stub.TryAcquireLock(ctx, &pb.TryAcquireLockRequest{Service: "scale", Domain: d, ClientId: "bare", Ttl: secs}); err != nil {
			return BareScale{}, err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			req := &pb.KeepAliveRequest{Service: "scale", Domain: d, ClientId: "bare", Ttl: secs}
			t := time.NewTimer(rand.N(interval))
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
				callCtx, done := context.WithTimeout(ctx, client.DefaultRequestTimeout)
				_, _ = stub.KeepAlive(callCtx, req)
				done()
				t.Reset(schedule.next(interval))
			}
		}()
	}
	time.Sleep(interval) // every goroutine in its steady state
	w := measureWindow(window, counts)
	return BareScale{w.renewing(n)}, nil
}
