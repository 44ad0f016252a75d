// Package benchmark holds the measurements behind `make bench`: Go
// benchmark bodies shared by client/bench_test.go and the bench command,
// and the failover, handover and scale measurements, all against the
// in-memory server over loopback TCP.
package benchmark

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quorum-quest/client-go/client"
	"github.com/quorum-quest/client-go/otelmetrics"
	"github.com/quorum-quest/client-go/pb"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// TTL is the lease the call benchmarks ask for.
const TTL = 15 * time.Second

// Loopback is an in-memory server on a loopback port and one connection to
// it, the setting every call benchmark shares.
type Loopback struct {
	Conn *grpc.ClientConn
	Stub pb.LeaderElectionServiceClient
	stop func()
}

// NewLoopback starts the server in a child process (see StartServer: the
// binary must call ServeIfChild first), as a real server runs, so that the
// benchmarks count only the client's CPU and allocations, and dials it.
func NewLoopback() (*Loopback, error) {
	addr, stop, err := StartServer()
	if err != nil {
		return nil, err
	}
	l, err := DialLoopback(addr)
	if err != nil {
		stop()
		return nil, err
	}
	l.stop = stop
	return l, nil
}

// DialLoopback connects to a server already listening at addr, such as
// one in another process; Close then closes only the connection.
func DialLoopback(addr string) (*Loopback, error) {
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, err
	}
	return &Loopback{Conn: conn, Stub: pb.NewLeaderElectionServiceClient(conn), stop: func() {}}, nil
}

// Close stops the server and closes the connection.
func (l *Loopback) Close() {
	l.Conn.Close()
	l.stop()
}

var domains atomic.Int64

// domain returns a lock name no other benchmark run uses.
func domain() string { return "bench-" + strconv.FormatInt(domains.Add(1), 10) }

// BareTryAcquireLock is the baseline: the generated stub renewing a held
// lock with TryAcquireLock.
func BareTryAcquireLock(b *testing.B, l *Loopback) { bareTryAcquireLock(b, l, unbounded) }

// DeadlineTryAcquireLock is BareTryAcquireLock with the deadline the
// client gives every call (the request timeout from the send), so that
// gRPC sends it as the grpc-timeout header, and nothing else: what the
// deadline costs, apart from the client's own work.
func DeadlineTryAcquireLock(b *testing.B, l *Loopback) { bareTryAcquireLock(b, l, headerOnly) }

// TimeoutTryAcquireLock is BareTryAcquireLock bounding each call as a user
// of the stub would, so that calls end in time as the client's do: a
// context.WithTimeout of the request timeout per call.
func TimeoutTryAcquireLock(b *testing.B, l *Loopback) { bareTryAcquireLock(b, l, withTimeout) }

// callBound is how a bare benchmark bounds each call.
type callBound int

const (
	// unbounded sends no deadline: the stub as generated.
	unbounded callBound = iota
	// headerOnly reports the client's deadline on a context that cannot
	// end, without the allocations and timer of a context.WithDeadline:
	// gRPC only reads it, for the grpc-timeout header.
	headerOnly
	// withTimeout ends each call at its deadline with context.WithTimeout,
	// its timer and its cancellation included.
	withTimeout
)

// deadlineContext is the context headerOnly's calls run under: its
// deadline is set before each call.
type deadlineContext struct {
	context.Context
	at time.Time
}

func (c *deadlineContext) Deadline() (time.Time, bool) { return c.at, !c.at.IsZero() }

func keep() {}

// context returns the context of one call and what ends it; base is
// reused by the calls that need no context of their own.
func (cb callBound) context(base *deadlineContext) (context.Context, context.CancelFunc) {
	switch cb {
	case headerOnly:
		base.at = time.Now().Add(client.DefaultRequestTimeout)
	case withTimeout:
		return context.WithTimeout(context.Background(), client.DefaultRequestTimeout)
	}
	return base, keep
}

func bareTryAcquireLock(b *testing.B, l *Loopback, bound callBound) {
	req := &pb.TryAcquireLockRequest{Service: "bench", Domain: domain(), ClientId: "bare", Ttl: int32(TTL / time.Second)}
	base := &deadlineContext{Context: context.Background()}
	b.ReportAllocs()
	start := CPUTime()
	for b.Loop() {
		ctx, end := bound.context(base)
		resp, err := l.Stub.TryAcquireLock(ctx, req)
		end()
		if err != nil || !resp.GetIsLeader() {
			b.Fatalf("TryAcquireLock: %v %v", resp, err)
		}
	}
	reportCPU(b, start)
}

// ClientTryAcquireLock is the same call through the client, which renews
// the lease through its state machine (leader -> refreshing -> leader).
func ClientTryAcquireLock(b *testing.B, l *Loopback) { clientTryAcquireLock(b, l) }

// MetricsTryAcquireLock is ClientTryAcquireLock with metrics on: see
// withMetrics.
func MetricsTryAcquireLock(b *testing.B, l *Loopback) {
	clientTryAcquireLock(b, l, withMetrics(b))
}

// withMetrics gives a client otelmetrics with the OpenTelemetry SDK
// behind it, collected every 100ms (a production reader collects every
// minute or so), so that the measurement includes what the provider does
// with the client's measurements as well as the counting on the call path.
func withMetrics(b *testing.B) client.Option {
	reader := sdkmetric.NewManualReader()
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		var rm metricdata.ResourceMetrics
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				if err := reader.Collect(context.Background(), &rm); err != nil {
					b.Error(err)
				}
			}
		}
	}()
	b.Cleanup(func() {
		close(stop)
		<-done
		provider.Shutdown(context.Background())
	})
	return otelmetrics.Option(provider)
}

func clientTryAcquireLock(b *testing.B, l *Loopback, opts ...client.Option) {
	acquireBackToBack(b, append(opts, client.WithConn(l.Conn))...)
}

// acquireBackToBack renews a held lock with TryAcquireLock through a
// client made with opts, which name its server, b.N times.
func acquireBackToBack(b *testing.B, opts ...client.Option) {
	c, err := client.NewQuorumQuestClient("bench", domain(), TTL, "", opts...)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	b.ReportAllocs()
	start := CPUTime()
	for b.Loop() {
		if ok, err := c.TryAcquireLock(ctx); !ok {
			b.Fatalf("TryAcquireLock: %v", err)
		}
	}
	reportCPU(b, start)
}

// BareKeepAlive is the baseline for a renewal: the generated stub's
// KeepAlive on a held lock.
func BareKeepAlive(b *testing.B, l *Loopback) { bareKeepAlive(b, l, unbounded) }

// DeadlineKeepAlive is BareKeepAlive with the client's deadline on every
// call: see DeadlineTryAcquireLock.
func DeadlineKeepAlive(b *testing.B, l *Loopback) { bareKeepAlive(b, l, headerOnly) }

// TimeoutKeepAlive is BareKeepAlive bounding each call with
// context.WithTimeout: see TimeoutTryAcquireLock.
func TimeoutKeepAlive(b *testing.B, l *Loopback) { bareKeepAlive(b, l, withTimeout) }

func bareKeepAlive(b *testing.B, l *Loopback, bound callBound) {
	d := domain()
	base := &deadlineContext{Context: context.Background()}
	if _, err := l.Stub.TryAcquireLock(base, &pb.TryAcquireLockRequest{Service: "bench", Domain: d, ClientId: "bare", Ttl: 15}); err != nil {
		b.Fatal(err)
	}
	req := &pb.KeepAliveRequest{Service: "bench", Domain: d, ClientId: "bare", Ttl: int32(TTL / time.Second)}
	b.ReportAllocs()
	start := CPUTime()
	for b.Loop() {
		ctx, end := bound.context(base)
		resp, err := l.Stub.KeepAlive(ctx, req)
		end()
		if err != nil || resp.GetLeaseLength().AsDuration() <= 0 {
			b.Fatalf("KeepAlive: %v %v", resp, err)
		}
	}
	reportCPU(b, start)
}

// ClientKeepAlive measures the client's own keep-alive: started with an
// interval of a nanosecond, it renews back to back, each renewal a timer,
// a KeepAlive call and two transitions of the machine. The benchmark waits
// for b.N renewals, counted as they complete by a wrapper around the
// generated stub on the same connection as the bare benchmark's.
func ClientKeepAlive(b *testing.B, l *Loopback) { clientKeepAlive(b, l) }

// MetricsKeepAlive is ClientKeepAlive with metrics on: see withMetrics.
func MetricsKeepAlive(b *testing.B, l *Loopback) { clientKeepAlive(b, l, withMetrics(b)) }

func clientKeepAlive(b *testing.B, l *Loopback, opts ...client.Option) {
	stub := &countingStub{LeaderElectionServiceClient: l.Stub, renewals: newRenewalCount()}
	renewBackToBack(b, &stub.renewals, append(opts, client.WithServerStub(stub))...)
}

// renewBackToBack runs the keep-alive of a client made with opts, which
// name its server, at an interval of a nanosecond, and waits until renewals
// has counted b.N renewals.
func renewBackToBack(b *testing.B, renewals *renewalCount, opts ...client.Option) {
	c, err := client.NewQuorumQuestClient("bench", domain(), TTL, "",
		append(opts, client.WithKeepAliveInterval(time.Nanosecond))...)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	if ok, err := c.TryAcquireLock(ctx); !ok {
		b.Fatal(err)
	}
	renewals.want.Store(int64(b.N))
	b.ReportAllocs()
	b.ResetTimer()
	start := CPUTime()
	if err := c.StartKeepAlive(ctx); err != nil {
		b.Fatal(err)
	}
	select {
	case <-renewals.done:
	case <-time.After(time.Minute + time.Duration(b.N)*time.Millisecond):
		b.Fatalf("only %d of %d renewals", renewals.got.Load(), b.N)
	}
	b.StopTimer()
	reportCPU(b, start)
	c.StopKeepAlive()
}

// renewalCount counts KeepAlive calls as they complete and closes done at
// the wanted count.
type renewalCount struct {
	want, got atomic.Int64
	done      chan struct{}
}

func newRenewalCount() renewalCount { return renewalCount{done: make(chan struct{})} }

// add counts one renewal.
func (r *renewalCount) add() {
	if r.got.Add(1) == r.want.Load() {
		close(r.done)
	}
}

// countingStub is the generated stub, counting KeepAlive calls as they
// complete: the client's renewals are counted on the same connection as
// the bare stub's calls.
type countingStub struct {
	pb.LeaderElectionServiceClient
	renewals renewalCount
}

func (s *countingStub) KeepAlive(ctx context.Context, req *pb.KeepAliveRequest, opts ...grpc.CallOption) (*pb.KeepAliveResponse, error) {
	resp, err := s.LeaderElectionServiceClient.KeepAlive(ctx, req, opts...)
	s.renewals.add()
	return resp, err
}

// Benchmarks lists the call benchmarks by name, each run "bare", "bare"
// with the client's deadline, "bare" bounding each call with a timeout,
// through the "client", and through the client with metrics on, for the
// side-by-side table.
var Benchmarks = []struct {
	Name                                     string
	Bare, Deadline, Timeout, Client, Metrics func(*testing.B, *Loopback)
}{
	{"TryAcquireLock", BareTryAcquireLock, DeadlineTryAcquireLock, TimeoutTryAcquireLock, ClientTryAcquireLock, MetricsTryAcquireLock},
	{"KeepAlive", BareKeepAlive, DeadlineKeepAlive, TimeoutKeepAlive, ClientKeepAlive, MetricsKeepAlive},
}
