package checker

import (
	"context"
	"math/rand/v2"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
)

// slot is one candidate of a schedule: the client playing it now, and the
// partitions in force against it. A candidate closed in the fault phase
// comes back as a new client in the same slot.
type slot struct {
	index int

	inc atomic.Pointer[incarnation] // written under mu, read without

	mu       sync.Mutex
	born     int  // incarnations built after the first
	cut      int  // scheduled partitions in force
	isolated bool // cut off by an isolated restart
}

// current returns the client playing the slot now.
func (s *slot) current() *incarnation { return s.inc.Load() }

// incarnation is one client of a slot, from its building to its Close.
type incarnation struct {
	id     string
	stub   *checkedStub
	c      Candidate
	lease  LeaseReporter // nil if c does not report its remaining lease
	runner Runner        // nil if c cannot Run
	ready  atomic.Bool   // c is built: the fields above are set
	broken atomic.Bool   // its IsLeader panicked, reported once
	// lead is the context Run handed to lead, while lead runs.
	lead atomic.Pointer[context.Context]
}

// leadLive reports whether a lead function of inc runs with a live
// context.
func (inc *incarnation) leadLive() bool {
	ctx := inc.lead.Load()
	return ctx != nil && (*ctx).Err() == nil
}

// behaviour is how a candidate campaigns, drawn from the seed: by polling
// TryAcquireLock or through Run, and how often it gives the lock up in
// the fault phase.
type behaviour struct {
	// run: campaign through Runner.Run when the candidate is one. lead then
	// returns on its own after hold (in TTLs, drawn between the two
	// bounds), so that Run releases; and Run's context ends after life
	// TTLs when life[1] > 0, after which the candidate is closed and
	// built anew.
	run        bool
	hold, life [2]float64
	// release and close are the chances, at each retry tick, that a
	// polling candidate releases the lock it leads with, or closes and
	// comes back as a new client.
	release, close float64
}

// newBehaviours draws every candidate's behaviour for a schedule, from a
// stream of its own so that the rest of the plan does not depend on it.
func newBehaviours(seed uint64, n int) []behaviour {
	rng := rand.New(rand.NewPCG(seed, saltBehave))
	between := func(lo, hi float64) float64 { return lo + (hi-lo)*rng.Float64() }
	on := func(p float64) bool { return rng.Float64() < p }
	var release, closing, runs float64
	if on(0.6) {
		release = between(0.03, 0.25)
	}
	if on(0.4) {
		closing = between(0.01, 0.03)
	}
	if on(0.6) {
		runs = between(0.2, 0.8)
	}
	bs := make([]behaviour, n)
	for i := range bs {
		b := behaviour{release: release, close: closing}
		if on(runs) {
			b.run = true
			b.hold = [2]float64{0.2, between(0.5, 4)}
			if on(0.3) {
				b.life = [2]float64{1, between(2, 6)}
			}
		}
		bs[i] = b
	}
	return bs
}

// campaign is candidate i's loop: lead, or try to, every retry interval;
// in the fault phase, now and then release the lock or close and come back.
func (r *run) campaign(ctx context.Context, i int, wg *sync.WaitGroup) {
	defer wg.Done()
	s := r.slots[i]
	defer func() {
		if p := recover(); p != nil {
			r.violate("d", "candidate %s panicked: %v\n%s", s.current().id, p, debug.Stack())
		}
	}()
	b := r.plan.behaviours[i]
	rng := rand.New(rand.NewPCG(r.seed, saltCampaign+uint64(i)))
	act := rand.New(rand.NewPCG(r.seed, saltActions+uint64(i)))
	wait := time.Duration(rng.Int64N(int64(r.cfg.RetryInterval))) // stagger the start
	for {
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		wait = r.cfg.RetryInterval*4/5 + time.Duration(rng.Int64N(int64(r.cfg.RetryInterval*2/5)+1))
		inc := s.current()
		if b.run && inc.runner != nil {
			if !r.runOnce(ctx, s, inc, b, act) {
				return
			}
			continue
		}
		u := act.Float64()
		faulty := r.faulty.Load()
		switch {
		case faulty && u < b.close:
			if !r.reincarnate(s, inc) {
				return
			}
		case inc.c.IsLeader():
			if faulty && u < b.close+b.release {
				r.count(func(c *FaultCounts) { c.Releases++ })
				r.logf("%s releases the lock", inc.id)
				_ = inc.c.ReleaseLock(ctx)
			} else {
				_ = inc.c.StartKeepAlive(ctx) // usually "already running"
			}
		default:
			if ok, _ := inc.c.TryAcquireLock(ctx); ok {
				_ = inc.c.StartKeepAlive(ctx)
			}
		}
	}
}

// runOnce campaigns through inc's Run until ctx ends or, in the fault
// phase, until the life drawn for this Run ends; then it closes inc and
// builds the next client of the slot. It reports whether the campaign
// goes on.
func (r *run) runOnce(ctx context.Context, s *slot, inc *incarnation, b behaviour, act *rand.Rand) bool {
	ttls := func(span [2]float64) time.Duration {
		return time.Duration((span[0] + (span[1]-span[0])*act.Float64()) * float64(r.cfg.TTL))
	}
	runCtx, cancel := ctx, context.CancelFunc(func() {})
	if b.life[1] > 0 && r.faulty.Load() {
		if life := ttls(b.life); r.since()+life < r.cfg.FaultPhase {
			runCtx, cancel = context.WithTimeout(ctx, life)
		}
	}
	defer cancel()
	err := inc.runner.Run(runCtx, func(lctx context.Context) {
		inc.lead.Store(&lctx)
		defer inc.lead.Store(nil)
		if !r.faulty.Load() {
			<-lctx.Done()
			return
		}
		t := time.NewTimer(ttls(b.hold))
		defer t.Stop()
		select {
		case <-lctx.Done():
		case <-t.C:
			if !r.faulty.Load() { // no handovers once the faults stop
				<-lctx.Done()
				return
			}
			r.count(func(c *FaultCounts) { c.Handovers++ })
			r.logf("%s: lead returns, Run releases the lock", inc.id)
		}
	})
	switch {
	case ctx.Err() != nil:
		return false
	case runCtx.Err() == nil:
		r.violate("d", "Run of %s returned %v before its context ended", inc.id, err)
		return false
	}
	return r.reincarnate(s, inc)
}

// reincarnate closes inc and builds the slot's next client, under a new
// ID and subject to the partitions in force against the slot. It reports
// whether the slot has a client again.
func (r *run) reincarnate(s *slot, inc *incarnation) bool {
	r.count(func(c *FaultCounts) { c.Closes++ })
	r.logf("close %s, to come back as a new client", inc.id)
	if !r.close(inc, false) {
		return false
	}
	s.mu.Lock()
	s.born++
	k := s.born
	s.mu.Unlock()
	next, err := r.build(s.index, k)
	if err != nil {
		r.violate("setup", "building candidate %s: %v", next.id, err)
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r.srv.Heal(inc.id)
	s.inc.Store(next)
	r.applyPartitionLocked(s)
	r.logf("%s replaces %s", next.id, inc.id)
	return true
}

// applyPartitionLocked cuts the slot's client off, or lets it through, as
// the partitions in force say. s.mu must be held.
func (r *run) applyPartitionLocked(s *slot) {
	if id := s.current().id; s.cut > 0 || s.isolated {
		r.srv.Partition(id)
	} else {
		r.srv.Heal(id)
	}
}
