package client_test

import (
	"errors"
	"testing"
	"time"

	"github.com/quorum-quest/client-go/client"
	"github.com/quorum-quest/client-go/qqtest"
	"github.com/quorum-quest/client-go/transport"
	"google.golang.org/grpc"
)

func TestDialOptionsForASharedConnection(t *testing.T) {
	opts, err := client.DialOptions(2*time.Second, client.WithRetryInterval(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	cc, err := grpc.NewClient(qqtest.NewServer(t).Addr(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	a, err := client.NewQuorumQuestClient(service, domain, 2*time.Second, "", client.WithConn(cc), client.WithClientID("a"))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	mustAcquire(t, a)
}

// The options given through WithDialOptions (TLS credentials, say) are
// part of what DialOptions returns, after the client's own, as when the
// client dials: a caller passing credentials there must not get plaintext.
func TestDialOptionsKeepWithDialOptions(t *testing.T) {
	own, err := client.DialOptions(2 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	agent, interceptor := grpc.WithUserAgent("test"), grpc.WithChainUnaryInterceptor()
	all, err := client.DialOptions(2*time.Second, client.WithDialOptions(agent, interceptor))
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != len(own)+2 || all[len(all)-2] != agent || all[len(all)-1] != interceptor {
		t.Fatalf("DialOptions with WithDialOptions(agent, interceptor) = %d options ending %v, %v; want the %d of the client, then those two",
			len(all), all[len(all)-2], all[len(all)-1], len(own))
	}
}

// One self-healing connection, shared by two elections through
// WithServerStub.
func TestDialConnShared(t *testing.T) {
	conn, err := client.DialConn(qqtest.NewServer(t).Addr(), 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	a, err := client.NewQuorumQuestClient(service, domain, 2*time.Second, "", client.WithServerStub(conn), client.WithClientID("a"))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := client.NewQuorumQuestClient(service, domain, 2*time.Second, "", client.WithServerStub(conn), client.WithClientID("b"))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	mustAcquire(t, a)
	if ok, err := b.TryAcquireLock(bg); ok || err != nil {
		t.Fatalf("b: %v, %v; want refused", ok, err)
	}
	if _, err := client.DialConn("", 2*time.Second); !errors.Is(err, client.ErrEmptyAddress) {
		t.Fatalf("DialConn with no address: %v", err)
	}
	if _, err := client.DialConn("localhost:1", time.Millisecond); !errors.Is(err, client.ErrInvalidTTL) {
		t.Fatalf("DialConn with a bad TTL: %v", err)
	}
}

func TestDialOptionsRejectsWhatTheClientWould(t *testing.T) {
	if _, err := client.DialOptions(500 * time.Millisecond); !errors.Is(err, client.ErrInvalidTTL) {
		t.Errorf("sub-second TTL: %v", err)
	}
	if _, err := client.DialOptions(2*time.Second, client.WithRetryInterval(0)); !errors.Is(err, client.ErrInvalidOption) {
		t.Errorf("zero retry interval: %v", err)
	}
	if _, err := client.DialOptions(2*time.Second, nil); !errors.Is(err, client.ErrInvalidConfig) {
		t.Errorf("nil option: %v", err)
	}
}

// A connection shared by many elections gets the client's connect
// bounds from DialOptions; options after them (TLS, say) override them.
func ExampleDialOptions() {
	const ttl = 15 * time.Second
	opts, err := client.DialOptions(ttl)
	if err != nil {
		panic(err)
	}
	cc, err := grpc.NewClient("localhost:5050", opts...)
	if err != nil {
		panic(err)
	}
	defer cc.Close()
	billing, err := client.NewQuorumQuestClient("billing", "production", ttl, "", client.WithConn(cc))
	if err != nil {
		panic(err)
	}
	defer billing.Close()
	// ... billing.Run(ctx, lead), and more clients on cc.
}

// A list of addresses is the servers of one fleet: a client dials it, and
// a list with an empty element is an invalid configuration, whether the
// client dials it or DialConn does.
func TestAddressList(t *testing.T) {
	srv := qqtest.NewServer(t)
	c, err := client.NewQuorumQuestClient(service, domain, 2*time.Second, srv.Addr()+", "+srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	mustAcquire(t, c)
	for _, address := range []string{",", "localhost:1,,localhost:2", "localhost:1, "} {
		if _, err := client.DialConn(address, 2*time.Second); !errors.Is(err, client.ErrInvalidConfig) || !errors.Is(err, transport.ErrTarget) {
			t.Errorf("DialConn(%q): %v; want ErrInvalidConfig and transport.ErrTarget", address, err)
		}
		if _, err := client.NewQuorumQuestClient(service, domain, 2*time.Second, address); !errors.Is(err, client.ErrInvalidConfig) {
			t.Errorf("NewQuorumQuestClient(%q): %v; want ErrInvalidConfig", address, err)
		}
	}
}
