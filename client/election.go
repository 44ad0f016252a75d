package client

import (
	"context"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/quorum-quest/client-go/fsm"
	"github.com/quorum-quest/client-go/transport"
)

// election is a client's state machine and the owners of what changes with
// it (doc.go has the map). Every event is applied under mu, one at a time,
// and nothing under it blocks on the network or on user code.
type election struct {
	rpc       *transport.Transport
	cfg       *config // fixed at construction
	mu        guard
	m         machine
	calls     calls
	keepAlive *keepAlive // nil when keep-alive is not running
	obs       *observers // nil until there is one
	bg        background
	rng       *rand.Rand // seeded from the client ID: timings replay
	closed    bool
}

func newElection(rpc *transport.Transport, cfg *config) *election {
	e := &election{
		rpc: rpc,
		cfg: cfg,
		mu:  guard{log: newLogbook(cfg.logger)},
		obs: newObservers(cfg),
		rng: rand.New(rand.NewPCG(seedFrom(cfg.clientID))),
	}
	e.m.init(e.expire)
	return e
}

func (e *election) observersLocked() *observers {
	if e.obs == nil {
		e.obs = &observers{}
	}
	return e.obs
}

// fireLocked applies an event and tells the logger and the observers. The
// expiry alarm is left to fire and find nothing to do: stopping it would
// cost the next lease a reset.
func (e *election) fireLocked(ev fsm.Event, cause error) {
	ch, deadline, err := e.m.fire(ev, cause)
	if err != nil {
		// A bug: callers check the state first.
		e.mu.log.note(slog.LevelError, "quorumquest: refused event", err)
		return
	}
	if !ch.To.Leading() {
		e.stopKeepAliveLocked()
	}
	t := Transition{From: ch.From, To: ch.To, Event: ch.Event, Err: ch.Cause}
	if e.obs.timed() {
		t.At = time.Now()
	}
	e.mu.log.noteTransition(t)
	e.obs.publish(t, deadline)
}

func (e *election) stopKeepAliveLocked() {
	if ka := e.keepAlive; ka != nil {
		e.keepAlive = nil
		e.calls.cancelRenewal(ka)
		ka.stop()
	}
}

func (e *election) expire() {
	e.mu.lock()
	e.bg.alarmStarted(&e.m.expiry)
	defer e.bg.alarmEnded() // after unlock's logging, which is the alarm's too
	defer e.mu.unlock()
	if e.m.due(time.Now()) {
		e.calls.abandon(nil)
		e.fireLocked(fsm.Expire, ErrLeaseExpired)
	}
}

// close serves Close: nothing of the client runs once it returns.
func (e *election) close() error {
	e.mu.lock()
	wasHolding := e.calls.serverMayHold
	e.calls.abandon(ErrClosed)
	e.fireLocked(fsm.Close, nil)
	e.closed = true
	e.bg.close(&e.m.expiry)
	if cl := e.calls.sending; cl != nil {
		cl.cancel() // a call detached by a release; it may outlive Close
	}
	var wait chan struct{}
	if wasHolding {
		wait = e.calls.turns.join()
	}
	e.mu.unlock()

	var err error
	if wasHolding {
		// Behind the calls just cancelled, and timed from now.
		ctx, cancel := context.WithTimeout(context.Background(), e.cfg.closeTimeout)
		if rerr := e.calls.sendInTurn(&e.mu, ctx, wait, e.rpc.Release); rerr != nil {
			err = fmt.Errorf("quorumquest: releasing on close: %w", rerr)
		}
		cancel()
	}
	e.bg.renewals.Wait()
	e.mu.lock()
	e.obs.unwatchAll()
	e.mu.unlock()
	e.obs.waitHooks()
	e.bg.callbacks.Wait()
	return err
}

func (e *election) isLeader() bool { return e.m.leadingAt(time.Now()) }

func (e *election) remainingLease() time.Duration { return e.m.remaining() }

func (e *election) state() State { return e.m.state() }

func seedFrom(id string) (uint64, uint64) {
	h := fnv.New64a()
	h.Write([]byte(id))
	sum := h.Sum64()
	return sum, sum ^ 0x9e3779b97f4a7c15
}
