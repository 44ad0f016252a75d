package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/quorum-quest/client-go/client"
	"github.com/quorum-quest/client-go/shard"
	"github.com/quorum-quest/client-go/transport"
)

// slotState is what the loop of runSlots and the lead of a slot share,
// under runner.mu.
type slotState struct {
	// sigs is the running child's supervisor's signal channel; nil while
	// no child runs.
	sigs chan os.Signal
	// stopSig is the stop signal the runner got, if any: no child starts
	// after it, and the runner exits 128 + it.
	stopSig syscall.Signal
	// waitSince is when the runner last started waiting for a slot, for
	// --timeout.
	waitSince time.Time
	// code is the exit code once done is closed.
	code int
	done chan struct{}
	set  *shard.Set
	// held is the slot whose child runs, for GET /leader; nil otherwise.
	held atomic.Pointer[slotLease]
}

// runSlots is `quorum-quest lock -n N` with N above 1: a semaphore of N
// slots, slot i being the lock (service, domain/i), taken through package
// shard with WithMaxOwned(1), so that this runner runs at most one child.
// Each child runs under its slot's lease with the guarantee of the plain
// lock (supervise).
func (r *runner) runSlots() int {
	cfg := r.cfg
	opts, err := r.clientOptions()
	if err != nil {
		fmt.Fprintf(r.stderr, "quorum-quest lock: %v\n", err)
		return exitUsage
	}
	set, err := shard.New(cfg.service, cfg.domain, cfg.slots, cfg.ttl, cfg.addr,
		shard.WithMaxOwned(1), shard.WithClientOptions(opts...))
	if err != nil {
		fmt.Fprintf(r.stderr, "quorum-quest lock: %v\n", err)
		return exitUsage
	}
	defer set.Close()
	r.slot = &slotState{waitSince: time.Now(), done: make(chan struct{}), set: set}
	stop, ok := r.startHTTP()
	if !ok {
		return exitUsage
	}
	defer stop()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ran := make(chan struct{})
	go func() {
		defer close(ran)
		_ = set.Run(ctx, func(leading context.Context, slot int) { r.leadSlot(leading, set, slot) })
	}()
	r.logf("waiting for one of %d slots of %s/%s as %s", cfg.slots, cfg.service, cfg.domain, set.ClientID())
	timeout := time.NewTimer(time.Hour)
	timeout.Stop()
	defer timeout.Stop()
	code := r.waitSlots(timeout, ran)
	// Run's end releases the slot this runner holds (its child is gone).
	cancel()
	<-ran
	if err := set.Close(); err != nil {
		r.logf("closing: %v", err)
	}
	return code
}

// waitSlots is runSlots' loop: it takes the runner's signals (a stop
// signal goes to the running child's supervisor, or ends the wait),
// gives up at --timeout or on an unreachable server while no child runs,
// and returns the exit code once the runner is done.
func (r *runner) waitSlots(timeout *time.Timer, ran <-chan struct{}) int {
	s := r.slot
	for {
		r.mu.Lock()
		running := s.sigs != nil
		since := s.waitSince
		r.mu.Unlock()
		if r.cfg.timeout > 0 && !running {
			timeout.Reset(time.Until(since.Add(r.cfg.timeout)))
		}
		select {
		case <-s.done:
			return s.code
		case <-ran: // only after Close, which nothing calls before done
			return exitUnreachable
		case sig := <-r.sigs:
			sys := sig.(syscall.Signal)
			r.mu.Lock()
			child := s.sigs
			if isStopSignal(sys) && s.stopSig == 0 {
				s.stopSig = sys
			}
			r.mu.Unlock()
			switch {
			case child != nil:
				select {
				case child <- sig: // its supervisor stops or signals the child
				default: // a flood: the stop under way goes on
				}
			case isStopSignal(sys):
				r.finishSlots(128+int(sys), "%v while waiting for a slot: exiting", sys)
			}
		case <-timeout.C:
			r.mu.Lock()
			running, since = s.sigs != nil, s.waitSince
			r.mu.Unlock()
			if !running && !time.Now().Before(since.Add(r.cfg.timeout)) {
				if herr := r.unreachable(); herr != nil {
					r.finishSlots(exitUnreachable, "no slot within --timeout %v: server unreachable: %v", r.cfg.timeout, herr)
				} else {
					r.finishSlots(exitTimeout, "no slot within --timeout %v", r.cfg.timeout)
				}
			}
		case <-r.changed:
			if !running && !r.cfg.restart {
				if err := r.unreachable(); err != nil {
					r.finishSlots(exitUnreachable, "giving up: %v", err)
				}
			}
		}
	}
}

// finishSlots ends runSlots with code, unless it ends already.
func (r *runner) finishSlots(code int, format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	select {
	case <-r.slot.done:
		return
	default:
	}
	r.logf(format, args...)
	r.slot.code = code
	close(r.slot.done)
}

// leadSlot runs the child under slot while this runner holds it. When it
// returns, shard's Run releases the slot: with --restart it campaigns
// again, standing aside a retry interval after a child that ended by
// itself; otherwise the runner ends.
func (r *runner) leadSlot(leading context.Context, set *shard.Set, slot int) {
	s := r.slot
	sigs := make(chan os.Signal, 8)
	r.mu.Lock()
	select {
	case <-s.done:
		r.mu.Unlock()
		return
	default:
	}
	if s.stopSig != 0 {
		r.mu.Unlock()
		return
	}
	s.sigs = sigs
	r.mu.Unlock()
	r.wake() // the loop stops counting --timeout
	// The end of leadership wakes the supervisor, as a transition does.
	defer context.AfterFunc(leading, r.wake)()
	r.logf("holding slot %d of %d", slot, r.cfg.slots)
	l := &slotLease{set: set, slot: slot, leading: leading}
	s.held.Store(l)
	res := r.runChild(l, r.env(set.ClientID(), slot), sigs)
	s.held.Store(nil)
	r.mu.Lock()
	s.sigs = nil
	s.waitSince = time.Now()
	stopSig := s.stopSig
	r.mu.Unlock()
	r.wake()
	switch {
	case stopSig != 0:
		r.finishSlots(128+int(stopSig), "stopped by %v", stopSig)
	case res.startErr != nil:
		r.finishSlots(startError(res.startErr), "releasing slot %d", slot)
	case r.cfg.restart:
		r.logf("releasing slot %d to campaign again", slot)
	case res.late, res.cause == stopLease, res.cause == stopLost:
		r.finishSlots(exitLost, "releasing slot %d", slot)
	default:
		r.finishSlots(res.st.code, "releasing slot %d", slot)
	}
}

// reach tells whether the calls of a semaphore runner's elections reach
// the server: client.HealthCheck judges one client, and the runner has
// one per slot and per member slot. Guarded by runner.mu.
type reach struct {
	failingSince time.Time // zero when the latest call was answered
	lastErr      error
}

// observe counts an answer (granted, denied by the server) as reaching it,
// and a failed call, or one the server rejected, as not.
func (h *reach) observe(t client.Transition) {
	switch {
	case t.Event == client.EventGranted,
		t.Event == client.EventDenied && (t.Err == nil || errors.Is(t.Err, transport.ErrNotHolder)):
		h.failingSince, h.lastErr = time.Time{}, nil
	case t.Event == client.EventFailed, t.Event == client.EventDenied:
		if h.failingSince.IsZero() {
			h.failingSince = t.At
		}
		h.lastErr = t.Err
	}
}

// unreachable says why the server counts as unreachable (calls failing
// for --unreachable), or nil.
func (r *runner) unreachable() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if f := r.reach.failingSince; !f.IsZero() && time.Since(f) >= r.cfg.unreachable {
		return fmt.Errorf("calls to the server have failed for %v: %w", time.Since(f).Round(time.Millisecond), r.reach.lastErr)
	}
	return nil
}

// slotLease is one slot's lease as the supervisor reads it: the shard's,
// until the context shard gave the slot's lead ends.
type slotLease struct {
	set     *shard.Set
	slot    int
	leading context.Context
}

func (l *slotLease) GetRemainingLease() time.Duration {
	if l.leading.Err() != nil {
		return 0
	}
	return l.set.RemainingLease(l.slot)
}

func (l *slotLease) IsLeader() bool { return l.GetRemainingLease() > 0 }

func (l *slotLease) State() client.State {
	if l.IsLeader() {
		return client.StateLeader
	}
	return client.StateFollower
}

// idle is the lease of a runner that holds no slot.
type idle struct{}

func (idle) GetRemainingLease() time.Duration { return 0 }
func (idle) IsLeader() bool                   { return false }
func (idle) State() client.State              { return client.StateFollower }

// id is the client ID the runner campaigns with.
func (r *runner) id() string {
	if r.slot != nil {
		return r.slot.set.ClientID()
	}
	return r.q.ClientID()
}
