package transport

import (
	"context"
	"errors"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// Bad addresses are ErrTarget, never a silent default.
func TestOpenRejectsBadAddressLists(t *testing.T) {
	for _, address := range []string{"", "  ", ",", "a:1,,b:1", "a:1,", " ,a:1"} {
		if c, err := Open(address, time.Second); !errors.Is(err, ErrTarget) {
			if c != nil {
				c.Close()
			}
			t.Errorf("Open(%q): %v; want ErrTarget", address, err)
		}
	}
	// The error says which element is empty, counting from 1.
	for address, want := range map[string]string{" ,a:1": "element 1 ", "a:1,,b:1": "element 2 ", "a:1,b:1,": "element 3 "} {
		if _, err := Open(address, time.Second); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Open(%q): %v; want it to name %q", address, err, strings.TrimSpace(want))
		}
	}
}

// targets returns the links' targets.
func targets(c *Conn) [2]string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return [2]string{c.links[0].target, c.links[1].target}
}

// With a list, the links start on the first two addresses, and each
// replacement takes the next address that the other link is not on.
func TestLinksRotateThroughAnAddressList(t *testing.T) {
	opts, err := ConnParams{ConnectTimeout: time.Second, MaxBackoff: 100 * time.Millisecond}.DialOptions()
	if err != nil {
		t.Fatal(err)
	}
	c, err := Open(" 127.0.0.1:1, 127.0.0.1:2 ,127.0.0.1:3,127.0.0.1:1", time.Second, opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	replace := func(i int) {
		c.mu.Lock()
		old := c.replaceLocked(i)
		c.mu.Unlock()
		closeAll(old)
	}
	want := func(a, b string) {
		t.Helper()
		if got := targets(c); got != [2]string{"127.0.0.1:" + a, "127.0.0.1:" + b} {
			t.Fatalf("links on %v; want ports %s and %s", got, a, b)
		}
	}
	want("1", "2")
	replace(0)
	want("3", "2")
	replace(1)
	want("3", "1") // not 3 again: the other link is there
	replace(0)
	want("2", "1")
	// While the other link stays on 1, replacements go on through the
	// rest in turn: 3, then 2 (1 skipped), then 3 again.
	replace(0)
	want("3", "1")
	replace(0)
	want("2", "1")
	replace(0)
	want("3", "1")

	one, err := Open("127.0.0.1:1", time.Second, opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer one.Close()
	if got := targets(one); got[0] != got[1] {
		t.Fatalf("one address: links on %v; want both on it (the balancer picks per connection)", got)
	}
}

// A dns:/// target is resolved by the Conn: its links go to different
// addresses of the name, and the servers see the name as the authority
// (what TLS checks).
func TestDNSTargetSpreadsLinksOverItsAddresses(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(lis.Addr().String())
	lis.Close()
	f := newPair(t, "127.0.0.1:"+port, "127.0.0.2:"+port)
	lookup := func(_ context.Context, host string) ([]string, error) {
		if host != "fleet.test" {
			return nil, errors.New("no such host")
		}
		return []string{"127.0.0.2", "127.0.0.1"}, nil
	}
	opts, err := ConnParams{ConnectTimeout: time.Second, MaxBackoff: 100 * time.Millisecond}.DialOptions()
	if err != nil {
		t.Fatal(err)
	}
	c, err := open("dns:///fleet.test:"+port, time.Second, lookup, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got := targets(c); got != [2]string{"passthrough:///127.0.0.1:" + port, "passthrough:///127.0.0.2:" + port} {
		t.Fatalf("links on %v", got)
	}
	// Calls alternate between the links once both are READY; on a loaded
	// machine one may still be connecting for the first calls.
	for tries := 0; tries < 8 || f.calls[0].Load() == 0 || f.calls[1].Load() == 0; tries++ {
		if tries == 200 {
			break
		}
		acquire(t, c, "me")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range f.servers {
		if f.calls[i].Load() == 0 || !f.authority[i]["fleet.test:"+port] || len(f.authority[i]) != 1 {
			t.Errorf("server %d: %d calls, authorities %v; want calls, all for fleet.test:%s", i, f.calls[i].Load(), f.authority[i], port)
		}
	}
	// A name that does not resolve now is left to gRPC, which retries.
	u, err := open("dns:///nowhere.test:"+port+",dns:///127.0.0.1:"+port, time.Second, lookup, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	if got := targets(u); !strings.HasPrefix(got[0], "dns:///nowhere.test") || got[1] != "dns:///127.0.0.1:"+port {
		t.Fatalf("links on %v", got)
	}
}

// A dns:/// name is resolved again after each replacement, so the next
// link follows the name's records (a server gone, another added).
func TestDNSTargetIsResolvedAgainAfterAReplacement(t *testing.T) {
	var mu sync.Mutex
	addrs := []string{"127.0.0.1", "127.0.0.2"}
	lookup := func(context.Context, string) ([]string, error) {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(addrs), nil
	}
	opts, err := ConnParams{ConnectTimeout: time.Second, MaxBackoff: 100 * time.Millisecond}.DialOptions()
	if err != nil {
		t.Fatal(err)
	}
	c, err := open("dns:///fleet.test:1", time.Second, lookup, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	mu.Lock()
	addrs = []string{"127.0.0.3"}
	mu.Unlock()
	replace := func(i int) {
		c.mu.Lock()
		old := c.replaceLocked(i)
		c.mu.Unlock()
		closeAll(old)
		c.background.Wait() // the resolution it started
	}
	replace(0) // dialled from the records of Open; the name resolved again
	replace(1)
	if got := targets(c); got[1] != "passthrough:///127.0.0.3:1" {
		t.Fatalf("links on %v; want the second on the name's new address", got)
	}
}
