package client_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/quorum-quest/client-go/client"
	"github.com/quorum-quest/client-go/qqtest"
)

const (
	service = "billing"
	domain  = "production"
	ttl     = 15 * time.Second
)

var bg = context.Background()

// newClient returns a client of srv's lock that is closed when the test
// ends and whose transitions count towards the table's coverage.
func newClient(t *testing.T, srv *qqtest.Server, id string, opts ...client.Option) *client.QuorumQuestClient {
	t.Helper()
	base := []client.Option{
		client.WithServerStub(srv.Stub()),
		client.WithClientID(id),
		client.WithTransitionHook(recordTransitions),
	}
	c, err := client.NewQuorumQuestClient(service, domain, ttl, "in-process", append(base, opts...)...)
	if err != nil {
		t.Fatalf("NewQuorumQuestClient: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// recorder collects one client's transitions for a test to inspect.
type recorder struct {
	mu    sync.Mutex
	seen  []client.Transition
	added chan struct{}
}

func newRecorder() *recorder { return &recorder{added: make(chan struct{}, 1)} }

func (r *recorder) hook(t client.Transition) {
	r.mu.Lock()
	r.seen = append(r.seen, t)
	r.mu.Unlock()
	select {
	case r.added <- struct{}{}:
	default:
	}
}

func (r *recorder) option() client.Option { return client.WithTransitionHook(r.hook) }

func (r *recorder) all() []client.Transition {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]client.Transition(nil), r.seen...)
}

// path renders the states visited, starting from the first transition's
// source, for compact assertions. It lets the hooks catch up first, so it
// must be called inside a synctest bubble.
func (r *recorder) path() []client.State {
	synctest.Wait()
	var out []client.State
	for i, t := range r.all() {
		if i == 0 {
			out = append(out, t.From)
		}
		out = append(out, t.To)
	}
	return out
}

// waitBound is the most a test waits for a transition, in all: virtual
// time under synctest, where it costs nothing, and real time elsewhere.
const waitBound = 2 * time.Minute

// waitFor blocks until a transition into state has been recorded, and fails
// the test with every transition seen when none comes within waitBound in
// all. The bound is on the total wait, not on the wait for the next
// transition: a machine that keeps moving without ever reaching state (a
// livelock) fails here instead of hanging until go test's timeout.
func (r *recorder) waitFor(t *testing.T, state client.State) client.Transition {
	t.Helper()
	timeout := time.NewTimer(waitBound)
	defer timeout.Stop()
	for {
		for _, tr := range r.all() {
			if tr.To == state {
				return tr
			}
		}
		select {
		case <-r.added:
		case <-timeout.C:
			t.Fatalf("no transition to %s within %v; saw:\n%s", state, waitBound, history(r.all()))
		}
	}
}

// history renders transitions one a line, for failure messages.
func history(ts []client.Transition) string {
	var b strings.Builder
	for _, tr := range ts {
		fmt.Fprintf(&b, "  %s: %s -> %s on %s", tr.At.Format("15:04:05.000000000"), tr.From, tr.To, tr.Event)
		if tr.Err != nil {
			fmt.Fprintf(&b, " (%v)", tr.Err)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// newRecordedClient is newClient with a recorder of its transitions.
func newRecordedClient(t *testing.T, srv *qqtest.Server, id string, opts ...client.Option) (*client.QuorumQuestClient, *recorder) {
	t.Helper()
	rec := newRecorder()
	return newClient(t, srv, id, append(opts, rec.option())...), rec
}

func mustStartKeepAlive(t *testing.T, c *client.QuorumQuestClient) {
	t.Helper()
	if err := c.StartKeepAlive(bg); err != nil {
		t.Fatalf("StartKeepAlive: %v", err)
	}
}

func mustAcquire(t *testing.T, c *client.QuorumQuestClient) {
	t.Helper()
	ok, err := c.TryAcquireLock(bg)
	if err != nil || !ok {
		t.Fatalf("TryAcquireLock = %v, %v; want true, nil", ok, err)
	}
}

func samePath(got []client.State, want ...client.State) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if got[i] != want[i] {
			return false
		}
	}
	return true
}

// firstCallOf is a fault function that gives the first call of method the
// fault f, and lets every other call through.
func firstCallOf(method qqtest.Method, f qqtest.Fault) func(qqtest.Call) qqtest.Fault {
	var calls atomic.Int32
	return func(c qqtest.Call) qqtest.Fault {
		if c.Method == method && calls.Add(1) == 1 {
			return f
		}
		return qqtest.Fault{}
	}
}
