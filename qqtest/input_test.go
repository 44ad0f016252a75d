package qqtest_test

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/quorum-quest/client-go/pb"
	"github.com/quorum-quest/client-go/qqtest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
)

// Bad input is reported with ErrInvalidArgument, never a panic or a silent
// default: a server built with it refuses to serve, through the network
// and the Stub alike.
func TestInvalidOptionsRefuseToServe(t *testing.T) {
	for name, opts := range map[string][]qqtest.Option{
		"nil Option":             {nil},
		"WithClock(nil)":         {qqtest.WithClock(nil)},
		"WithDefaultTTL(0)":      {qqtest.WithDefaultTTL(0)},
		"WithDefaultTTL(-1s)":    {qqtest.WithDefaultTTL(-time.Second)},
		"nil gRPC server option": {qqtest.WithGRPCServerOptions(nil)},
	} {
		t.Run(name, func(t *testing.T) {
			s := qqtest.NewUnstartedServer(opts...)
			if err := s.Start(); !errors.Is(err, qqtest.ErrInvalidArgument) {
				t.Errorf("Start = %v, want ErrInvalidArgument", err)
			}
			lis, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Serve(lis); !errors.Is(err, qqtest.ErrInvalidArgument) {
				t.Errorf("Serve = %v, want ErrInvalidArgument", err)
			}
			if _, err := lis.Accept(); err == nil {
				t.Error("Serve left the listener open")
			}
			_, err = s.Stub().TryAcquireLock(t.Context(), acquireReq("a", 10))
			wantCode(t, err, codes.FailedPrecondition)
			if !errors.Is(err, qqtest.ErrInvalidArgument) {
				t.Errorf("Stub call = %v, want it to match ErrInvalidArgument", err)
			}
			if s.Calls().Total() != 0 {
				t.Errorf("an invalid server counted calls: %+v", s.Calls())
			}
		})
	}
}

func TestNewServerNilTB(t *testing.T) {
	s := qqtest.NewServer(nil)
	if s.Addr() != "" {
		t.Fatalf("NewServer(nil) serves on %s", s.Addr())
	}
	_, err := s.Stub().KeepAlive(t.Context(), &pb.KeepAliveRequest{Service: svc, Domain: dom, ClientId: "a"})
	wantCode(t, err, codes.FailedPrecondition)
}

func TestServeNilListener(t *testing.T) {
	if err := qqtest.NewUnstartedServer().Serve(nil); !errors.Is(err, qqtest.ErrInvalidArgument) {
		t.Fatalf("Serve(nil) = %v, want ErrInvalidArgument", err)
	}
	var typed *net.TCPListener // a nil listener in an interface: not == nil
	if err := qqtest.NewUnstartedServer().Serve(typed); !errors.Is(err, qqtest.ErrInvalidArgument) {
		t.Fatalf("Serve((*net.TCPListener)(nil)) = %v, want ErrInvalidArgument", err)
	}
}

func TestStubRefusesNilInput(t *testing.T) {
	s := qqtest.NewUnstartedServer()
	c := s.Stub()
	var nilCtx context.Context
	for name, call := range map[string]func() error{
		"nil context":                func() error { _, err := c.TryAcquireLock(nilCtx, acquireReq("a", 10)); return err },
		"nil TryAcquireLock request": func() error { _, err := c.TryAcquireLock(t.Context(), nil); return err },
		"nil KeepAlive request":      func() error { _, err := c.KeepAlive(t.Context(), nil); return err },
		"nil ReleaseLock request":    func() error { _, err := c.ReleaseLock(t.Context(), nil, grpc.EmptyCallOption{}); return err },
	} {
		t.Run(name, func(t *testing.T) {
			err := call()
			wantCode(t, err, codes.InvalidArgument)
			if !errors.Is(err, qqtest.ErrInvalidArgument) {
				t.Errorf("%v does not match ErrInvalidArgument", err)
			}
		})
	}
	if s.Calls().Total() != 0 {
		t.Errorf("refused calls were counted: %+v", s.Calls())
	}
}
