package transport

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/quorum-quest/client-go/fsm"
	"github.com/quorum-quest/client-go/pb"
	"github.com/quorum-quest/client-go/qqtest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
)

func TestWireTTL(t *testing.T) {
	for _, tc := range []struct {
		ttl  time.Duration
		want int32
		err  bool
	}{
		{time.Second, 1, false},
		{1500 * time.Millisecond, 2, false},
		{15 * time.Second, 15, false},
		{15*time.Second + time.Nanosecond, 16, false},
		{MaxTTL, 1<<31 - 1, false},
		{MaxTTL + 1, 0, true},
		{999 * time.Millisecond, 0, true},
		{0, 0, true},
		{-time.Second, 0, true},
	} {
		got, err := WireTTL(tc.ttl)
		if got != tc.want || (err != nil) != tc.err || (err != nil && !errors.Is(err, ErrTTL)) {
			t.Errorf("WireTTL(%v) = %d, %v; want %d, error %v", tc.ttl, got, err, tc.want, tc.err)
		}
	}
}

func TestLeasePolicy(t *testing.T) {
	p := LeasePolicy{Drift: 0.01, Margin: 100 * time.Millisecond}
	if got := p.Usable(10 * time.Second); got != 10*time.Second-100*time.Millisecond-100*time.Millisecond {
		t.Errorf("Usable(10s) = %v", got)
	}
	sent := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if got := p.Deadline(sent, 10*time.Second); !got.Equal(sent.Add(9800 * time.Millisecond)) {
		t.Errorf("Deadline = %v", got)
	}
	for _, bad := range []LeasePolicy{{Drift: -0.1}, {Drift: 1}, {Margin: -1}, {Margin: 2 * time.Second}} {
		if err := bad.Validate(time.Second); !errors.Is(err, ErrLeasePolicy) {
			t.Errorf("Validate(%+v) = %v, want ErrLeasePolicy", bad, err)
		}
	}
	if err := DefaultLeasePolicy.Validate(time.Second); err != nil {
		t.Errorf("default policy refuses a 1s TTL: %v", err)
	}
}

func TestPermanent(t *testing.T) {
	for code, want := range map[codes.Code]bool{
		codes.Unavailable: false, codes.DeadlineExceeded: false, codes.Canceled: false,
		codes.ResourceExhausted: false, codes.Internal: false, codes.Aborted: false, codes.Unknown: false,
		codes.Unimplemented: true, codes.PermissionDenied: true, codes.Unauthenticated: true,
		codes.InvalidArgument: true, codes.NotFound: true, codes.FailedPrecondition: true,
	} {
		if got := Permanent(status.Error(code, "x")); got != want {
			t.Errorf("Permanent(%v) = %v, want %v", code, got, want)
		}
	}
	if Permanent(nil) {
		t.Error("Permanent(nil)")
	}
}

func newTransport(t *testing.T, stub pb.LeaderElectionServiceClient, ttl time.Duration) *Transport {
	t.Helper()
	tr, err := New(stub, Config{Lock: Lock{"svc", "dom", "me"}, TTL: ttl, Timeout: 5 * time.Second, Policy: DefaultLeasePolicy})
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func TestNewRejectsBadConfig(t *testing.T) {
	stub := qqtest.NewUnstartedServer().Stub()
	for _, cfg := range []Config{
		{TTL: 0, Timeout: time.Second, Policy: DefaultLeasePolicy},
		{TTL: time.Second, Timeout: 0, Policy: DefaultLeasePolicy},
		{TTL: time.Second, Timeout: time.Second, Policy: LeasePolicy{Drift: 2}},
	} {
		if _, err := New(stub, cfg); err == nil {
			t.Errorf("New(%+v) accepted", cfg)
		}
	}
}

// The lease runs from the send time, not from the answer.
func TestLeaseMeasuredFromSendTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := qqtest.NewUnstartedServer()
		srv.SetFaultFunc(func(qqtest.Call) qqtest.Fault { return qqtest.Fault{Delay: 2 * time.Second} })
		tr := newTransport(t, srv.Stub(), 10*time.Second)
		sent := time.Now()
		res := tr.TryAcquire(context.Background(), time.Time{})
		if res.Event != fsm.Granted || !res.Sent.Equal(sent) || !res.Deadline.Equal(sent.Add(DefaultLeasePolicy.Usable(10*time.Second))) {
			t.Fatalf("result %+v; want granted from %v", res, sent)
		}
		res = tr.KeepAlive(context.Background(), sent.Add(time.Hour))
		if res.Event != fsm.Granted || !res.Sent.Equal(sent.Add(2*time.Second)) {
			t.Fatalf("keep-alive result %+v", res)
		}
	})
}

// fixedLease answers every KeepAlive with the same lease length.
type fixedLease struct {
	pb.LeaderElectionServiceClient
	lease *durationpb.Duration
}

func (f fixedLease) KeepAlive(context.Context, *pb.KeepAliveRequest, ...grpc.CallOption) (*pb.KeepAliveResponse, error) {
	return &pb.KeepAliveResponse{LeaseLength: f.lease}, nil
}

func TestKeepAliveLeaseLength(t *testing.T) {
	sentBefore := time.Now()
	for _, tc := range []struct {
		name    string
		lease   *durationpb.Duration
		event   fsm.Event
		granted time.Duration
	}{
		{"as asked", durationpb.New(10 * time.Second), fsm.Granted, 10 * time.Second},
		{"shorter wins", durationpb.New(4 * time.Second), fsm.Granted, 4 * time.Second},
		{"longer is not trusted", durationpb.New(11 * time.Second), fsm.Granted, 10 * time.Second},
		{"negative means not ours", durationpb.New(-time.Second), fsm.Denied, 0},
		{"zero means not ours", durationpb.New(0), fsm.Denied, 0},
		{"missing means not ours", nil, fsm.Denied, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := newTransport(t, fixedLease{lease: tc.lease}, 10*time.Second)
			res := tr.KeepAlive(context.Background(), time.Now().Add(time.Hour))
			if res.Event != tc.event {
				t.Fatalf("event %s, want %s", res.Event, tc.event)
			}
			if tc.event == fsm.Denied && !errors.Is(res.Err, ErrNotHolder) {
				t.Fatalf("denied with %v, want ErrNotHolder", res.Err)
			}
			if tc.event == fsm.Granted && !res.Deadline.Equal(res.Sent.Add(DefaultLeasePolicy.Usable(tc.granted))) {
				t.Fatalf("deadline %v after send, want %v", res.Deadline.Sub(res.Sent), DefaultLeasePolicy.Usable(tc.granted))
			}
			if res.Sent.Before(sentBefore) {
				t.Fatal("send time not stamped")
			}
		})
	}
}

// A renewal ends by the lease deadline even when the call timeout is longer.
func TestCallEndsBeforeLeaseDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := qqtest.NewUnstartedServer()
		srv.Pause()
		defer srv.Resume()
		tr := newTransport(t, srv.Stub(), 10*time.Second)
		start := time.Now()
		res := tr.KeepAlive(context.Background(), start.Add(3*time.Second))
		if res.Event != fsm.Failed || status.Code(res.Err) != codes.DeadlineExceeded || time.Since(start) != 3*time.Second {
			t.Fatalf("result %+v after %v; want failed with DeadlineExceeded after 3s", res, time.Since(start))
		}
		start = time.Now()
		res = tr.TryAcquire(context.Background(), time.Time{})
		if res.Event != fsm.Failed || time.Since(start) != 5*time.Second {
			t.Fatalf("TryAcquire %+v after %v; want failed after the 5s timeout", res, time.Since(start))
		}
	})
}

// Deadline is the earliest of the timeout, the usable lease and before;
// a caller's context that ends by it reaches the stub as it is, and one
// that ends later is bounded by it.
func TestDeadlineBoundsTheCallAndSparesAContextThatEndsByIt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		now := time.Now()
		tr := newTransport(t, qqtest.NewUnstartedServer().Stub(), 10*time.Second) // timeout 5s
		short := newTransport(t, qqtest.NewUnstartedServer().Stub(), 2*time.Second)
		for _, tc := range []struct {
			tr     *Transport
			before time.Time
			want   time.Time
		}{
			{tr, time.Time{}, now.Add(5 * time.Second)},
			{tr, now.Add(3 * time.Second), now.Add(3 * time.Second)},
			{tr, now.Add(6 * time.Second), now.Add(5 * time.Second)},
			{short, time.Time{}, now.Add(DefaultLeasePolicy.Usable(2 * time.Second))},
		} {
			if got := tc.tr.Deadline(now, tc.before); !got.Equal(tc.want) {
				t.Errorf("Deadline(now, now+%v) = now+%v, want now+%v", tc.before.Sub(now), got.Sub(now), tc.want.Sub(now))
			}
		}

		var seen context.Context
		stub := &recordingStub{LeaderElectionServiceClient: qqtest.NewUnstartedServer().Stub(), seen: &seen}
		tr = newTransport(t, stub, 10*time.Second)
		ctx, cancel := context.WithDeadline(context.Background(), tr.Deadline(time.Now(), time.Time{}))
		defer cancel()
		tr.TryAcquire(ctx, time.Time{})
		if seen != ctx {
			t.Errorf("a context ending by the deadline was wrapped")
		}
		later, cancelLater := context.WithTimeout(context.Background(), time.Hour)
		defer cancelLater()
		tr.KeepAlive(later, time.Now().Add(time.Second))
		if d, ok := seen.Deadline(); seen == later || !ok || !d.Equal(time.Now().Add(time.Second)) {
			t.Errorf("a context ending after the deadline reached the stub with deadline %v (%v)", d, ok)
		}
	})
}

// recordingStub records the context of the last call.
type recordingStub struct {
	pb.LeaderElectionServiceClient
	seen *context.Context
}

func (s *recordingStub) TryAcquireLock(ctx context.Context, req *pb.TryAcquireLockRequest, opts ...grpc.CallOption) (*pb.TryAcquireLockResponse, error) {
	*s.seen = ctx
	return s.LeaderElectionServiceClient.TryAcquireLock(ctx, req, opts...)
}

func (s *recordingStub) KeepAlive(ctx context.Context, req *pb.KeepAliveRequest, opts ...grpc.CallOption) (*pb.KeepAliveResponse, error) {
	*s.seen = ctx
	return s.LeaderElectionServiceClient.KeepAlive(ctx, req, opts...)
}

func TestErrorsBecomeEvents(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := qqtest.NewUnstartedServer()
		tr := newTransport(t, srv.Stub(), 10*time.Second)
		for code, want := range map[codes.Code]fsm.Event{codes.Unavailable: fsm.Failed, codes.Unimplemented: fsm.Denied} {
			srv.SetFaultFunc(func(qqtest.Call) qqtest.Fault { return qqtest.Fault{Code: code} })
			if res := tr.TryAcquire(context.Background(), time.Time{}); res.Event != want || status.Code(res.Err) != code {
				t.Errorf("%v: %+v, want %s", code, res, want)
			}
			if err := tr.Release(context.Background()); status.Code(err) != code {
				t.Errorf("Release with %v: %v", code, err)
			}
		}
		srv.SetFaultFunc(nil)
		other := qqtest.NewUnstartedServer()
		if _, err := other.Stub().TryAcquireLock(context.Background(), &pb.TryAcquireLockRequest{Service: "svc", Domain: "dom", ClientId: "x", Ttl: 10}); err != nil {
			t.Fatal(err)
		}
		// ErrNotHolder's doc promises that a refused TryAcquireLock records it.
		if res := newTransport(t, other.Stub(), 10*time.Second).TryAcquire(context.Background(), time.Time{}); res.Event != fsm.Denied || !errors.Is(res.Err, ErrNotHolder) {
			t.Errorf("held by another: %+v, want denied with ErrNotHolder", res)
		}
	})
}
