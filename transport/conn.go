package transport

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quorum-quest/client-go/pb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/status"
)

// ErrConnClosed is returned by calls on a Conn after Close.
var ErrConnClosed = errors.New("transport: connection closed")

// ErrNilContext is returned by a Conn's calls given a nil context.
var ErrNilContext = errors.New("transport: nil context")

// errNoRescue: a link answered meanwhile, or the Conn is closed.
var errNoRescue = errors.New("transport: no link to replace")

// Conn is a connection to a fleet of Quorum Quest servers that keeps two
// live gRPC connections (links), hedges its calls over them, and replaces
// a link that goes silent. It implements pb.LeaderElectionServiceClient,
// so it can stand wherever a stub does, and one Conn may serve many
// clients.
//
// The two links are two grpc.ClientConns, so two TCP connections: behind
// one load-balanced address the balancer picks a server for each, and
// with several addresses they are dialled to different ones. Calls
// alternate between them, so that both are proven by answered calls
// without probes; a link not READY is not chosen first while the other is.
//
// A call not answered within the hedge delay (HedgeDelay, derived from
// the round trips seen) is sent again on the other link, unless its own
// link answered another call meanwhile, and the first answer wins. TryAcquireLock and KeepAlive copies that lose are
// cancelled; ReleaseLock copies are not, and until every copy of a release
// has been answered or has passed its deadline, TryAcquireLock and
// KeepAlive for the same lock and client ID wait: a release applied after
// them would delete the lock they take or renew (docs/safety.md).
//
// A connection whose peer vanished without a reset stays READY to gRPC,
// and nothing closes it for about 15 minutes. Conn uses the calls as
// evidence instead (docs/connections.md): a READY link on which no call,
// hedged copies that lost included, has been answered for the silence
// threshold is retired at that moment and a fresh link takes its place. A
// retired link is closed once its calls in flight have ended, so no call
// is cut short by the swap.
type Conn struct {
	targets []string
	opts    []grpc.DialOption
	silence time.Duration
	lookup  lookupFunc

	mu        sync.Mutex
	links     [2]*link
	turn      int        // the link a call tries first: 0 or 1, alternating
	eps       []endpoint // what links are dialled to, in rotation
	next      int        // the endpoint the next link tries first
	retired   map[*link]struct{}
	guards    map[lockID]*releaseGuard
	rtt       rtts
	closed    bool
	resolving bool

	background sync.WaitGroup // re-resolutions of dns:/// targets
	stop       context.CancelFunc
	stopped    context.Context

	replaced atomic.Int64
	calls    atomic.Int64
	hedged   atomic.Int64

	// Test hooks, nil outside the package's tests.
	onHold    func() // a call waits for a release
	onReplace func() // a link was replaced (called with mu held)
}

// link is one gRPC connection and the evidence gathered on it. Its fields
// other than cc, stub and target are guarded by Conn.mu.
type link struct {
	cc       *grpc.ClientConn
	stub     pb.LeaderElectionServiceClient
	target   string
	inflight int
	// silentSince is the send time of the oldest call still unanswered
	// since the last answer on this link; zero when there is none.
	silentSince time.Time
	lastAnswer  time.Time // when a call on it was last answered
	judging     bool      // a check of its silence is scheduled
}

// Open returns a Conn to address: a gRPC target (host:port, dns:///name:port
// or any other), or a comma-separated list of them, the servers of one
// fleet. A dns:///name:port target is resolved by the Conn (now, and again
// after each replacement), so that its links go to different addresses;
// the others are left to gRPC. Links rotate through the addresses, each
// avoiding the other link's address when there are several.
//
// silence is how long a READY link may leave every call unanswered before
// it is replaced; give it the longest a call is allowed to take (see
// LeasePolicy.CallTimeout), so that a healthy but slow server is not taken
// for a dead one. It also bounds the hedge delay (docs/connections.md).
// opts are passed to grpc.NewClient for every link, typically
// ConnParams.DialOptions plus the caller's own. Like grpc.NewClient, Open
// does not wait for the servers: an unreachable one shows up as failed
// calls. An empty address or list element is ErrTarget.
func Open(address string, silence time.Duration, opts ...grpc.DialOption) (*Conn, error) {
	return open(address, silence, net.DefaultResolver.LookupHost, opts)
}

func open(address string, silence time.Duration, lookup lookupFunc, opts []grpc.DialOption) (*Conn, error) {
	if silence <= 0 {
		return nil, fmt.Errorf("%w: silence threshold %v is not positive", ErrConnParams, silence)
	}
	targets, err := parseTargets(address)
	if err != nil {
		return nil, err
	}
	c := &Conn{
		targets: targets, opts: opts, silence: silence, lookup: lookup,
		retired: map[*link]struct{}{}, guards: map[lockID]*releaseGuard{},
		rtt: newRTTs(silence),
	}
	c.stopped, c.stop = context.WithCancel(context.Background())
	ctx, cancel := context.WithTimeout(c.stopped, silence)
	c.eps = resolve(ctx, targets, lookup)
	cancel()
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range c.links {
		other := ""
		if i > 0 {
			other = c.links[0].target
		}
		if c.links[i], err = c.dialLocked(other); err != nil {
			if i > 0 {
				c.links[0].cc.Close()
			}
			c.stop()
			return nil, err
		}
	}
	return c, nil
}

// dialLocked makes a link to the next endpoint in rotation that is not
// avoid (when there is another), and starts its handshake at once rather
// than with the first call that needs it.
func (c *Conn) dialLocked(avoid string) (*link, error) {
	ep := c.eps[c.next%len(c.eps)]
	for i := range c.eps {
		e := c.eps[(c.next+i)%len(c.eps)]
		if e.target != avoid {
			ep, c.next = e, (c.next+i+1)%len(c.eps)
			break
		}
	}
	opts := c.opts
	if ep.authority != "" {
		// First, so that a caller's own WithAuthority still wins.
		opts = append([]grpc.DialOption{grpc.WithAuthority(ep.authority)}, opts...)
	}
	cc, err := grpc.NewClient(ep.target, opts...)
	if err != nil {
		return nil, err
	}
	cc.Connect()
	return &link{cc: cc, stub: pb.NewLeaderElectionServiceClient(cc), target: ep.target}, nil
}

// Replaced reports how many times a link was found silent and replaced.
func (c *Conn) Replaced() int64 { return c.replaced.Load() }

// Calls reports how many calls were made, each counted once however many
// copies it took.
func (c *Conn) Calls() int64 { return c.calls.Load() }

// Hedged reports how many calls were sent a second time on the other link
// (the extra calls the servers saw).
func (c *Conn) Hedged() int64 { return c.hedged.Load() }

// HedgeDelay returns how long a call now waits for an answer before it is
// sent again on the other link.
func (c *Conn) HedgeDelay() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.rtt.delay
}

// State returns READY when either link is, and otherwise the state of the
// first link.
func (c *Conn) State() connectivity.State {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return connectivity.Shutdown
	}
	for _, l := range c.links {
		if l.cc.GetState() == connectivity.Ready {
			return connectivity.Ready
		}
	}
	return c.links[0].cc.GetState()
}

// WaitReady blocks until both current links are READY, and fails with
// ctx's error if ctx ends first, or ErrConnClosed if a link is closed
// (replaced, or the Conn closed) while it waits. Calls need not wait for
// it; it is for whoever needs both links up before going on, such as a
// test that silences a server.
func (c *Conn) WaitReady(ctx context.Context) error {
	c.mu.Lock()
	links := c.links
	c.mu.Unlock()
	for _, l := range links {
		for s := l.cc.GetState(); s != connectivity.Ready; s = l.cc.GetState() {
			if s == connectivity.Shutdown {
				return ErrConnClosed
			}
			l.cc.Connect()
			if !l.cc.WaitForStateChange(ctx, s) {
				return ctx.Err()
			}
		}
	}
	return nil
}

// Close closes both links and any retired one, cancelling calls in flight,
// and lets calls waiting for a release go (they then fail). Later calls
// fail with ErrConnClosed. It is idempotent.
func (c *Conn) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	links := append([]*link(nil), c.links[:]...)
	for l := range c.retired {
		links = append(links, l)
	}
	clear(c.retired)
	for _, g := range c.guards {
		close(g.done)
	}
	clear(c.guards)
	c.mu.Unlock()
	c.stop()
	c.background.Wait()
	var errs []error
	for _, l := range links {
		errs = append(errs, l.cc.Close())
	}
	return errors.Join(errs...)
}

// TryAcquireLock implements pb.LeaderElectionServiceClient. It is hedged,
// and its losing copy cancelled.
func (c *Conn) TryAcquireLock(ctx context.Context, in *pb.TryAcquireLockRequest, opts ...grpc.CallOption) (*pb.TryAcquireLockResponse, error) {
	id := lockID{in.GetService(), in.GetDomain(), in.GetClientId()}
	return invoke(c, ctx, renewal, id, func(ctx context.Context, s pb.LeaderElectionServiceClient) (*pb.TryAcquireLockResponse, error) {
		return s.TryAcquireLock(ctx, in, opts...)
	})
}

// KeepAlive implements pb.LeaderElectionServiceClient. It is hedged, and
// its losing copy cancelled.
func (c *Conn) KeepAlive(ctx context.Context, in *pb.KeepAliveRequest, opts ...grpc.CallOption) (*pb.KeepAliveResponse, error) {
	id := lockID{in.GetService(), in.GetDomain(), in.GetClientId()}
	return invoke(c, ctx, renewal, id, func(ctx context.Context, s pb.LeaderElectionServiceClient) (*pb.KeepAliveResponse, error) {
		return s.KeepAlive(ctx, in, opts...)
	})
}

// ReleaseLock implements pb.LeaderElectionServiceClient. It is hedged, and
// no copy is cancelled: each runs to its answer or its deadline (the
// caller's, or the silence threshold when ctx has none), even after the
// caller has returned, and holds back this client's next calls for the
// lock until then.
func (c *Conn) ReleaseLock(ctx context.Context, in *pb.ReleaseLockRequest, opts ...grpc.CallOption) (*pb.ReleaseLockResponse, error) {
	id := lockID{in.GetService(), in.GetDomain(), in.GetClientId()}
	return invoke(c, ctx, release, id, func(ctx context.Context, s pb.LeaderElectionServiceClient) (*pb.ReleaseLockResponse, error) {
		return s.ReleaseLock(ctx, in, opts...)
	})
}

// takeLink picks the link for a copy of a call, and counts the copy on it
// (and, for a release, in the release guard): the link whose turn it is,
// unless only the other is READY, and never not, the first copy's link.
func (c *Conn) takeLink(not *link, kind callKind, id lockID) (*link, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, fmt.Errorf("%w: %w", ErrConnClosed, status.Error(codes.Canceled, "connection closed"))
	}
	c.turn = 1 - c.turn
	l, other := c.links[c.turn], c.links[1-c.turn]
	switch {
	case l == not:
		l = other
	case other == not:
	case l.cc.GetState() != connectivity.Ready && other.cc.GetState() == connectivity.Ready:
		// The first copy, or a second whose first went to a link retired
		// since: not to a link still connecting when the other is READY.
		l = other
	}
	l.inflight++
	if kind == release {
		c.guardLocked(id)
	}
	return l, nil
}

// replaceSilent makes way for a third copy of a call whose copies on
// first and second both waited the hedge delay unanswered (hedgeDue has
// just found second quiet): it replaces first, unless that was done
// already, and takes a link other than second. Not when first has
// answered another call since the hedge: the call is then slow on a live
// server, not lost.
func (c *Conn) replaceSilent(first, second *link, kind callKind, id lockID) (*link, error) {
	c.mu.Lock()
	i := slices.Index(c.links[:], first)
	if c.closed || i >= 0 && c.answeredLatelyLocked(first) {
		c.mu.Unlock()
		return nil, errNoRescue
	}
	var closeLinks []*link
	if i >= 0 {
		closeLinks = c.replaceLocked(i)
	}
	c.mu.Unlock()
	closeAll(closeLinks)
	return c.takeLink(second, kind, id)
}

// hedgeDue reports whether a call sent on l and unanswered for the hedge
// delay should be sent again now, returning the delay after which to ask
// again if not. Not while l has answered another call within the delay:
// the call is slow on a live server, and when the whole fleet is slow (an
// overloaded store), copies would only add to its load.
func (c *Conn) hedgeDue(l *link) (bool, time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return !c.answeredLatelyLocked(l), c.rtt.delay
}

// answeredLatelyLocked reports whether l answered a call within the hedge
// delay: its server is there.
func (c *Conn) answeredLatelyLocked(l *link) bool {
	return l.lastAnswer.Add(c.rtt.delay).After(time.Now())
}

// answered reports whether a call's outcome came from a server: a
// response, or any status but those gRPC gives a call that got no answer
// (DeadlineExceeded, Canceled) or never reached a server (Unavailable).
func answered(err error) bool {
	switch status.Code(err) {
	case codes.DeadlineExceeded, codes.Canceled, codes.Unavailable:
		return false
	}
	return true
}

// settle records the outcome of a copy sent on l at sent: an answer
// clears l's silence and gives a round trip; a copy that timed out, or
// lost the race to the other link, is silence. It closes a retired l once
// its last call ended.
func (c *Conn) settle(l *link, sent time.Time, err error, lost bool) {
	var closeLinks []*link
	c.mu.Lock()
	l.inflight--
	switch {
	case answered(err):
		l.silentSince = time.Time{} // an answer, even an error, came back
		l.lastAnswer = time.Now()
		c.rtt.add(l.lastAnswer.Sub(sent))
	case lost || status.Code(err) == codes.DeadlineExceeded:
		if l.silentSince.IsZero() || sent.Before(l.silentSince) {
			l.silentSince = sent
		}
		closeLinks = c.judgeLocked(l)
	default:
		// The caller gave up, or the call never reached a server: no
		// evidence either way.
	}
	if _, ok := c.retired[l]; ok && l.inflight == 0 {
		delete(c.retired, l)
		closeLinks = append(closeLinks, l)
	}
	c.mu.Unlock()
	closeAll(closeLinks)
}

func closeAll(links []*link) {
	for _, l := range links {
		l.cc.Close() // nothing left on it to report an error to
	}
}

// judgeLocked retires l if it is a current, READY link silent for the
// threshold, and otherwise schedules the same check for the moment the
// threshold will have passed: a silent link is replaced then, whether or
// not a call is left to notice. It returns links to close.
func (c *Conn) judgeLocked(l *link) []*link {
	i := slices.Index(c.links[:], l)
	if c.closed || i < 0 || l.silentSince.IsZero() {
		return nil
	}
	now := time.Now()
	if until := l.silentSince.Add(c.silence); now.Before(until) {
		if !l.judging {
			l.judging = true
			time.AfterFunc(until.Sub(now), func() {
				c.mu.Lock()
				l.judging = false
				closeLinks := c.judgeLocked(l)
				c.mu.Unlock()
				closeAll(closeLinks)
			})
		}
		return nil
	}
	if l.cc.GetState() != connectivity.Ready {
		return nil // connecting: gRPC's connect timeout judges it
	}
	return c.replaceLocked(i)
}

// replaceLocked puts a fresh link in place of link i, dialled to another
// address than the other link's when there is one, and retires link i. It
// returns the old link if it is to be closed now.
func (c *Conn) replaceLocked(i int) []*link {
	l := c.links[i]
	next, err := c.dialLocked(c.links[1-i].target)
	if err != nil {
		return nil // the endpoint did parse before, so this cannot happen; keep l
	}
	c.links[i] = next
	c.replaced.Add(1)
	if c.onReplace != nil {
		c.onReplace()
	}
	c.refreshLocked()
	if l.inflight > 0 {
		c.retired[l] = struct{}{}
		return nil
	}
	return []*link{l}
}

// refreshLocked resolves the dns:/// targets again in the background, for
// the next link to be dialled: a server that went away may have left the
// name's records.
func (c *Conn) refreshLocked() {
	if c.resolving || !needsLookup(c.targets) {
		return
	}
	c.resolving = true
	c.background.Add(1)
	go func() {
		defer c.background.Done()
		ctx, cancel := context.WithTimeout(c.stopped, c.silence)
		eps := resolve(ctx, c.targets, c.lookup)
		cancel()
		c.mu.Lock()
		defer c.mu.Unlock()
		c.resolving = false
		c.eps = eps
	}()
}
