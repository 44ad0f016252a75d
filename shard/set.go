package shard

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/quorum-quest/client-go/client"
)

// Set owns a share of shards locks, balanced with the other replicas that
// run a Set on the same service, domain and shard count. Make one with New.
type Set struct {
	service, domain string
	shards          int
	ttl             time.Duration
	maxOwned        int
	opts            []client.Option // for every election: the user's, the shared stub
	id              string          // the replica's client ID, for shards and its member slot
	retry           time.Duration
	conn            io.Closer // dialled by New, closed by Close; nil otherwise

	mu      sync.Mutex
	ran     bool
	closed  bool
	stop    context.CancelFunc // ends Run's loop
	loop    chan struct{}      // closed when Run's loop has stopped every shard
	clients map[int]*client.QuorumQuestClient
	runs    map[int]*shardRun
	// adopted is the shards won while leading no other (WithMaxOwned):
	// kept while they are led, see cappedLocked.
	adopted map[int]bool
	// inLead counts the shards whose lead is running, those handing over
	// included (a run replaced by a newer one of the same shard too).
	inLead int
}

// shardRun is one shard's client.Run, ended by cancel; done closes when it
// returned, so a later run of the same shard starts only after it.
// leading is true while lead runs for it.
type shardRun struct {
	cancel  context.CancelFunc
	done    chan struct{}
	leading bool
}

// New returns a Set of shards locks (service, domain + "/" + i) for i in
// [0, shards), with leases of length ttl from the server at address. The
// connection is dialled once here (lazily connecting) and shared by every
// election, unless WithClientOptions gives a stub or connection.
func New(service, domain string, shards int, ttl time.Duration, address string, opts ...Option) (*Set, error) {
	if service == "" {
		return nil, fmt.Errorf("%w: empty service: %w", ErrInvalidArgument, client.ErrEmptyService)
	}
	if domain == "" {
		return nil, fmt.Errorf("%w: empty domain: %w", ErrInvalidArgument, client.ErrEmptyDomain)
	}
	if shards <= 0 {
		return nil, fmt.Errorf("%w: %d shards: must be positive", ErrInvalidArgument, shards)
	}
	var cfg config
	for i, o := range opts {
		if o == nil {
			return nil, fmt.Errorf("%w: option %d is nil", ErrInvalidArgument, i)
		}
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	// A random ID first, so that the user's WithClientID, applied after it,
	// wins: one ID for every election of this replica.
	var b [8]byte
	_, _ = rand.Read(b[:])
	copts := append([]client.Option{client.WithClientID("shard-" + hex.EncodeToString(b[:]))}, cfg.clientOpts...)
	timing, err := client.TimingFor(ttl, copts...)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidArgument, err)
	}
	s := &Set{
		service: service, domain: domain, shards: shards, ttl: ttl,
		maxOwned: cfg.maxOwned, retry: timing.RetryInterval,
		clients: map[int]*client.QuorumQuestClient{}, runs: map[int]*shardRun{},
		adopted: map[int]bool{},
	}
	// A client made without an address tells whether the options bring
	// their own stub or connection; it makes no call, so closing it sends
	// nothing.
	probe, err := client.NewQuorumQuestClient(service, domain, ttl, "", copts...)
	if errors.Is(err, client.ErrEmptyAddress) {
		if address == "" {
			return nil, fmt.Errorf("%w: %w", ErrInvalidArgument, client.ErrEmptyAddress)
		}
		conn, derr := client.DialConn(address, ttl, copts...)
		if derr != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalidArgument, derr)
		}
		s.conn = conn
		copts = append(copts, client.WithServerStub(conn))
		probe, err = client.NewQuorumQuestClient(service, domain, ttl, "", copts...)
	}
	if err != nil {
		s.closeConn()
		return nil, fmt.Errorf("%w: %w", ErrInvalidArgument, err)
	}
	s.id = probe.ClientID()
	_ = probe.Close()
	s.opts = copts
	return s, nil
}

// ClientID returns the ID this replica's elections use.
func (s *Set) ClientID() string { return s.id }

// Run takes part in the set until ctx ends or Close: it keeps a member
// slot, campaigns for the shards assigned to this replica and calls lead
// once per shard won, with a context that ends when that shard's ownership
// ends. Before it returns, every shard's lead has returned and its lock is
// released. It returns ctx's error, or ErrClosed.
func (s *Set) Run(ctx context.Context, lead func(ctx context.Context, shard int)) error {
	if ctx == nil {
		return fmt.Errorf("%w: Run: nil context", ErrInvalidArgument)
	}
	if lead == nil {
		return fmt.Errorf("%w: Run: nil lead function", ErrInvalidArgument)
	}
	s.mu.Lock()
	switch {
	case s.closed:
		s.mu.Unlock()
		return ErrClosed
	case s.ran:
		s.mu.Unlock()
		return ErrRunning
	}
	s.ran = true
	loopCtx, stop := context.WithCancel(ctx)
	s.stop = stop
	s.loop = make(chan struct{})
	s.mu.Unlock()

	m := &members{s: s, slot: -1, probes: map[int]*client.QuorumQuestClient{}}
	// Seeded by the ID too, so that replicas started together do not probe
	// in step (their probes would then see each other as members).
	rng := mrand.New(mrand.NewPCG(uint64(time.Now().UnixNano()), seed(s.id)))
	reached := true
	for loopCtx.Err() == nil {
		view, ok := m.refresh(loopCtx)
		if ok && !reached {
			s.renewCampaigns()
		}
		reached = ok
		if ok && m.settled {
			s.apply(m.assigned(view), lead)
		}
		wait := time.NewTimer(s.retry - time.Duration(rng.Int64N(int64(s.retry)/5+1)))
		select {
		case <-wait.C:
		case <-loopCtx.Done():
			wait.Stop()
		}
	}
	s.stopAll()
	s.mu.Lock()
	runs := make([]*shardRun, 0, len(s.runs))
	for _, r := range s.runs {
		runs = append(runs, r)
	}
	s.mu.Unlock()
	for _, r := range runs {
		<-r.done
	}
	m.close()
	stop()
	close(s.loop)
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed && ctx.Err() == nil {
		return ErrClosed
	}
	return ctx.Err()
}

// apply campaigns for the shards in want not yet campaigned for and hands
// over the others: their Run ends their lead's context, waits for lead and
// releases. It acts at once, so that a move waits on no further period.
// With WithMaxOwned, want is first reshaped by cappedLocked.
func (s *Set) apply(want []int, lead func(context.Context, int)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.maxOwned > 0 {
		want = s.cappedLocked(want)
	}
	wanted := make(map[int]bool, len(want))
	for _, i := range want {
		wanted[i] = true
	}
	s.stopUnwantedLocked(wanted)
	for _, i := range want {
		prev := s.runs[i]
		if prev != nil && prev.cancel != nil {
			continue // already campaigning
		}
		c, err := s.clientLocked(i)
		if err != nil {
			continue // validated in New: only a broken invariant gets here
		}
		ctx, cancel := context.WithCancel(context.Background())
		r := &shardRun{cancel: cancel, done: make(chan struct{})}
		s.runs[i] = r
		go func() {
			defer close(r.done)
			if prev != nil {
				<-prev.done
			}
			_ = c.Run(ctx, func(leading context.Context) {
				if !s.enter(r, i) {
					return // Run releases: another replica may take it
				}
				defer s.leave(r, i)
				lead(leading, i)
			})
			s.forget(i, r, c)
		}()
	}
}

// stopAll hands over every shard, as apply would with none wanted.
func (s *Set) stopAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopUnwantedLocked(nil)
}

// stopUnwantedLocked ends the Run of every shard not in wanted. s.mu is held.
func (s *Set) stopUnwantedLocked(wanted map[int]bool) {
	for i, r := range s.runs {
		if !wanted[i] && r.cancel != nil {
			r.cancel()
			r.cancel = nil // stopping; done closes when its Run returned
		}
	}
}

// cappedLocked is what a replica capped by WithMaxOwned campaigns for,
// given its assigned shards. While it leads none, every shard: a shard
// whose owner died is then taken within a retry interval of its lease's
// end, without waiting for the member slots to show the death (a
// semaphore's waiting replicas). Otherwise the shards it adopted and still
// leads, unless it leads one of its assigned shards, then the assigned
// ones, maxOwned in all: a semaphore's holder is never made to hand over
// the shard it won. s.mu is held.
func (s *Set) cappedLocked(assigned []int) []int {
	if s.inLead == 0 {
		all := make([]int, s.shards)
		for i := range all {
			all[i] = i
		}
		return all
	}
	var want []int
	if !slices.ContainsFunc(assigned, func(i int) bool { r := s.runs[i]; return r != nil && r.leading }) {
		for i := range s.adopted {
			if r := s.runs[i]; r != nil && r.leading {
				want = append(want, i)
			}
		}
		slices.Sort(want)
	}
	for _, i := range assigned {
		if !slices.Contains(want, i) {
			want = append(want, i)
		}
	}
	return want[:min(len(want), s.maxOwned)]
}

// enter is called when shard i's Run wins, before lead: false when the run
// was stopped meanwhile or, with WithMaxOwned, when the replica already
// leads maxOwned shards (counting those still handing over: their lead has
// not returned). A shard won while leading no other is adopted.
func (s *Set) enter(r *shardRun, i int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.cancel == nil {
		return false
	}
	if s.maxOwned > 0 && s.inLead >= s.maxOwned {
		return false
	}
	if s.maxOwned > 0 && s.inLead == 0 {
		s.adopted[i] = true
	}
	s.inLead++
	r.leading = true
	return true
}

// leave is called when shard i's lead has returned.
func (s *Set) leave(r *shardRun, i int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.inLead--
	r.leading = false
	delete(s.adopted, i)
}

// forget closes shard i's client once its run r has ended, unless a newer
// run took its place meanwhile and uses it: a replica keeps no client for
// a shard moved away from it (one per shard ever assigned, otherwise).
// Run released the lock before it returned, so Close sends nothing.
func (s *Set) forget(i int, r *shardRun, c *client.QuorumQuestClient) {
	s.mu.Lock()
	mine := s.runs[i] == r && s.clients[i] == c
	if mine {
		delete(s.clients, i)
	}
	s.mu.Unlock()
	if mine {
		_ = c.Close()
	}
}

// renewCampaigns replaces the client of every shard campaigned for but not
// owned, once the server answers again after it did not: their calls sent
// while it did not answer may hang until their deadline, and a new call
// would share them, so a shard handed to this replica would wait for them.
func (s *Set) renewCampaigns() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, c := range s.clients {
		if r := s.runs[i]; r != nil && r.cancel != nil && !c.IsLeader() {
			r.cancel()
			r.cancel = nil
			delete(s.clients, i)
			go func() { _ = c.Close() }() // ends its Run; apply's new run waits for that
		}
	}
}

// clientLocked returns shard i's client, made on first use. s.mu is held.
func (s *Set) clientLocked(i int) (*client.QuorumQuestClient, error) {
	if c := s.clients[i]; c != nil {
		return c, nil
	}
	c, err := client.NewQuorumQuestClient(s.service, s.domain+"/"+strconv.Itoa(i), s.ttl, "", s.opts...)
	if err != nil {
		return nil, err
	}
	s.clients[i] = c
	return c, nil
}

// Owned returns, sorted, the shards whose lease this replica holds now.
func (s *Set) Owned() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []int
	for i, c := range s.clients {
		if c.IsLeader() {
			out = append(out, i)
		}
	}
	slices.Sort(out)
	return out
}

// RemainingLease returns how long this replica's lease of shard is trusted
// for, as of this call (client's GetRemainingLease): 0 when it does not
// lead that shard. A lead that acts by the clock, as the quorum-quest
// command stops its child before the lease's deadline, plans from it.
func (s *Set) RemainingLease(shard int) time.Duration {
	s.mu.Lock()
	c := s.clients[shard]
	s.mu.Unlock()
	if c == nil {
		return 0
	}
	return c.GetRemainingLease()
}

// Close ends Run as its context would, releasing every shard and the
// member slot, then closes every client and the connection New dialled.
// It is idempotent.
func (s *Set) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	stop, loop := s.stop, s.loop
	s.mu.Unlock()
	if stop != nil {
		stop()
		<-loop
	}
	s.mu.Lock()
	var errs []error
	for _, c := range s.clients {
		if err := c.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	s.mu.Unlock()
	errs = append(errs, s.closeConn())
	return errors.Join(errs...)
}

func seed(id string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(id); i++ {
		h = (h ^ uint64(id[i])) * 1099511628211
	}
	return h
}

func (s *Set) closeConn() error {
	if s.conn == nil {
		return nil
	}
	return s.conn.Close()
}
