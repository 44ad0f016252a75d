package shard_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/quorum-quest/client-go/client"
	"github.com/quorum-quest/client-go/qqtest"
	"github.com/quorum-quest/client-go/shard"
)

func TestNewRefusesBadInput(t *testing.T) {
	stub := shard.WithClientOptions(client.WithServerStub(qqtest.NewUnstartedServer().Stub()))
	for name, tc := range map[string]struct {
		service, domain string
		shards          int
		ttl             time.Duration
		address         string
		opts            []shard.Option
		want            error
	}{
		"empty service": {"", "d", 1, time.Second, "a:1", nil, client.ErrEmptyService},
		"empty domain":  {"s", "", 1, time.Second, "a:1", nil, client.ErrEmptyDomain},
		"zero shards":   {"s", "d", 0, time.Second, "a:1", nil, shard.ErrInvalidArgument},
		"short ttl":     {"s", "d", 1, time.Millisecond, "a:1", nil, client.ErrInvalidTTL},
		"no address":    {"s", "d", 1, time.Second, "", nil, client.ErrEmptyAddress},
		"nil option":    {"s", "d", 1, time.Second, "a:1", []shard.Option{nil}, shard.ErrInvalidArgument},
		"nil client option": {"s", "d", 1, time.Second, "a:1",
			[]shard.Option{shard.WithClientOptions(nil)}, shard.ErrInvalidArgument},
		"bad client option": {"s", "d", 1, time.Second, "a:1",
			[]shard.Option{shard.WithClientOptions(client.WithClientID(""))}, client.ErrInvalidOption},
		"max owned 0": {"s", "d", 1, time.Second, "", []shard.Option{stub, shard.WithMaxOwned(0)}, shard.ErrInvalidArgument},
	} {
		t.Run(name, func(t *testing.T) {
			s, err := shard.New(tc.service, tc.domain, tc.shards, tc.ttl, tc.address, tc.opts...)
			if !errors.Is(err, tc.want) || !errors.Is(err, shard.ErrInvalidArgument) || s != nil {
				t.Errorf("New = %v, %v; want an error matching %v and ErrInvalidArgument", s, err, tc.want)
			}
		})
	}
}

func TestRunRefusesBadUse(t *testing.T) {
	s, err := shard.New("s", "d", 1, time.Second, "",
		shard.WithClientOptions(client.WithServerStub(qqtest.NewUnstartedServer().Stub())))
	if err != nil {
		t.Fatal(err)
	}
	lead := func(context.Context, int) {}
	//lint:ignore SA1012 a nil context is the bad input under test
	if err := s.Run(nil, lead); !errors.Is(err, shard.ErrInvalidArgument) { //nolint:staticcheck
		t.Errorf("Run(nil ctx) = %v", err)
	}
	if err := s.Run(t.Context(), nil); !errors.Is(err, shard.ErrInvalidArgument) {
		t.Errorf("Run(nil lead) = %v", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := s.Run(ctx, lead); !errors.Is(err, context.Canceled) {
		t.Errorf("Run(done ctx) = %v", err)
	}
	if err := s.Run(t.Context(), lead); !errors.Is(err, shard.ErrRunning) {
		t.Errorf("second Run = %v, want ErrRunning", err)
	}
	if err := s.Close(); err != nil {
		t.Error(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
}
