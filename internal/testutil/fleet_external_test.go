package testutil

import (
	"errors"
	"testing"
	"time"

	"github.com/quorum-quest/client-go/qqtest"
)

// A balancer in front of servers it did not start relays to them round
// robin, silences one, refuses the faults only an in-process server can
// have, and rejects an empty list; Answered counts an in-process fleet's
// calls per server.
func TestFleetOfExternalServers(t *testing.T) {
	store := qqtest.NewUnstartedServer()
	var addrs []string
	for range 2 {
		srv, err := StartTCPServer(store, "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(srv.Kill)
		addrs = append(addrs, srv.Addr())
	}
	f, err := NewFleetOf(addrs, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Close)
	g := newGRPCClient(t, f)
	if err := g.call("a", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if h, _ := store.Holder("s", "a"); h != "a" {
		t.Fatalf("holder %q; the call must reach the external server", h)
	}
	s := g.server(t, f)
	if err := f.Silence(s); err != nil {
		t.Fatal(err)
	}
	if err := g.call("a", 300*time.Millisecond); err == nil {
		t.Fatal("a call on the silenced server's connection was answered")
	}
	if err := f.Stop(s); !errors.Is(err, ErrFleetExternal) {
		t.Fatalf("Stop: %v; want ErrFleetExternal", err)
	}
	if err := f.Kill(s); !errors.Is(err, ErrFleetExternal) {
		t.Fatalf("Kill: %v; want ErrFleetExternal", err)
	}
	if st, _ := f.State(s); st != ServerSilent {
		t.Fatalf("state %v after refused faults; want silent", st)
	}
	if _, err := NewFleetOf(nil, 0); !errors.Is(err, ErrFleet) {
		t.Fatalf("NewFleetOf(nil): %v; want ErrFleet", err)
	}
	if _, err := NewFleetOf([]string{""}, 0); !errors.Is(err, ErrFleet) {
		t.Fatalf("NewFleetOf(\"\"): %v; want ErrFleet", err)
	}

	in, _ := newFleet(t, 2, time.Minute)
	h := newGRPCClient(t, in)
	for range 3 {
		if err := h.call("b", 5*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	j := h.server(t, in)
	if in.Answered(j) != 3 || in.Answered(1-j) != 0 || in.Answered(5) != 0 {
		t.Fatalf("Answered: %d and %d; want 3 on server %d, 0 elsewhere", in.Answered(j), in.Answered(1-j), j)
	}
}
