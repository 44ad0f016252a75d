// Package outage plays one connection-level outage against five (or n)
// candidates on Run, over real TCP, and measures how long after the
// outage heals some candidate leads again. Each candidate reaches the
// server through a fault proxy of its own (internal/testutil.Proxy); the
// server is a real gRPC server on loopback that can be restarted on its
// address. Both the tests of internal/outage and the command
// internal/cmd/outage (the figures of docs/connections.md) run it.
package outage

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/quorum-quest/client-go/client"
	"github.com/quorum-quest/client-go/internal/testutil"
	"github.com/quorum-quest/client-go/qqtest"
)

// Kind is a kind of outage.
type Kind string

// The kinds of outage: every candidate's connection is reset (and new
// ones refused), goes silent, stalls, or the server is stopped and a new
// one started on the same address when the outage ends.
const (
	Reset   Kind = "reset"
	Silent  Kind = "silent"
	Stall   Kind = "stall"
	Restart Kind = "restart"
)

// Kinds lists every kind, in the order the figures show them.
func Kinds() []Kind { return []Kind{Reset, Silent, Stall, Restart} }

// ErrConfig is returned for a Config that cannot be played.
var ErrConfig = errors.New("outage: invalid config")

// Config is one trial.
type Config struct {
	Kind       Kind
	TTL        time.Duration
	Candidates int           // 5 in the scenario
	Outage     time.Duration // how long the fault lasts
	// Settle is how long to watch, once a candidate leads after the
	// outage, that leadership stays put.
	Settle time.Duration
	// Limit bounds the wait for a leader, before and after the outage.
	Limit time.Duration
	// Options are added to every candidate's (default: none).
	Options []client.Option
}

// Result is what one trial found.
type Result struct {
	// Recovery is the time from the moment the outage healed until some
	// candidate reported leadership (IsLeader).
	Recovery time.Duration
	// Leader is that candidate.
	Leader string
	// Moved lists changes of leadership seen during Settle.
	Moved []string
	// Starved is the longest the process went without running the
	// monitor (which asks to run every millisecond) during Settle: a
	// process starved of CPU past its lease loses leadership, rightly.
	Starved time.Duration
	// Violations lists every safety violation: two tenures overlapping on
	// the server, or a candidate reporting leadership outside the
	// server's record of its holding.
	Violations []string
}

// Run plays one trial. It returns an error when the trial could not be
// played (set-up failed, no leader within Limit); safety findings are in
// the Result.
func Run(ctx context.Context, cfg Config) (Result, error) {
	if cfg.Candidates < 1 || cfg.TTL <= 0 || cfg.Outage <= 0 || cfg.Limit <= 0 || cfg.Settle < 0 {
		return Result{}, fmt.Errorf("%w: %+v", ErrConfig, cfg)
	}
	if !slices.Contains(Kinds(), cfg.Kind) {
		return Result{}, fmt.Errorf("%w: unknown kind %q", ErrConfig, cfg.Kind)
	}
	srv := qqtest.NewUnstartedServer()
	ts, err := testutil.StartTCPServer(srv, "127.0.0.1:0")
	if err != nil {
		return Result{}, err
	}
	defer ts.Stop()

	ctx, cancel := context.WithCancel(ctx)
	var running sync.WaitGroup
	var cands []*candidate
	defer func() {
		cancel()
		running.Wait()
		for _, c := range cands {
			c.close()
		}
	}()
	for i := range cfg.Candidates {
		c, err := newCandidate(fmt.Sprintf("c%d", i), ts.Addr(), cfg)
		if err != nil {
			return Result{}, err
		}
		cands = append(cands, c)
		running.Add(1)
		go func() {
			defer running.Done()
			_ = c.q.Run(ctx, func(lead context.Context) { <-lead.Done() })
		}()
	}
	mon := startMonitor(cands)
	defer mon.stop()

	if _, _, err := mon.waitLeader(ctx, time.Now(), cfg.Limit); err != nil {
		return Result{}, fmt.Errorf("before the outage: %w", err)
	}
	if err := outage(cfg.Kind, cands, ts); err != nil {
		return Result{}, err
	}
	select {
	case <-time.After(cfg.Outage): // the outage itself
	case <-ctx.Done():
		return Result{}, ctx.Err()
	}
	healed, err := heal(cfg.Kind, cands, ts)
	if err != nil {
		return Result{}, err
	}
	leader, at, err := mon.waitLeader(ctx, healed, cfg.Limit)
	if err != nil {
		return Result{}, fmt.Errorf("after the outage healed: %w", err)
	}
	res := Result{Recovery: at.Sub(healed), Leader: leader}
	settled := at.Add(cfg.Settle)
	select {
	case <-time.After(time.Until(settled)):
	case <-ctx.Done():
		return Result{}, ctx.Err()
	}
	mon.stop()
	res.Moved = mon.moves(at, settled)
	res.Starved = mon.longestGap(at, settled)
	if len(res.Moved) > 0 {
		for _, c := range cands {
			res.Moved = append(res.Moved, c.endings(at, settled)...)
		}
	}
	res.Violations = check(srv.History(), mon.runs())
	return res, nil
}

// candidate is one client behind its own proxy.
type candidate struct {
	id    string
	q     *client.QuorumQuestClient
	proxy *testutil.Proxy

	mu    sync.Mutex
	ended []client.Transition // every transition out of leadership
}

// endings returns the transitions out of leadership between from and to,
// rendered, to say why leadership moved.
func (c *candidate) endings(from, to time.Time) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, t := range c.ended {
		if !t.At.Before(from) && !t.At.After(to) {
			out = append(out, fmt.Sprintf("%s: %s -> %s on %s at +%v (%v)", c.id, t.From, t.To, t.Event, t.At.Sub(from).Round(time.Millisecond), t.Err))
		}
	}
	return out
}

func newCandidate(id, backend string, cfg Config) (*candidate, error) {
	p, err := testutil.NewProxy(backend)
	if err != nil {
		return nil, err
	}
	c := &candidate{id: id, proxy: p}
	opts := append([]client.Option{client.WithClientID(id), client.WithTransitionHook(func(t client.Transition) {
		if t.From.Leading() && !t.To.Leading() {
			c.mu.Lock()
			c.ended = append(c.ended, t)
			c.mu.Unlock()
		}
	})}, cfg.Options...)
	q, err := client.NewQuorumQuestClient("outage", "trial", cfg.TTL, p.Addr(), opts...)
	if err != nil {
		p.Close()
		return nil, err
	}
	c.q = q
	return c, nil
}

func (c *candidate) close() {
	_ = c.q.Close()
	if c.proxy != nil { // a fleet's candidate has none
		_ = c.proxy.Close()
	}
}

// outage starts the fault on every candidate's path at once.
func outage(k Kind, cands []*candidate, ts *testutil.TCPServer) error {
	if k == Restart {
		ts.Stop()
		return nil
	}
	mode := map[Kind]testutil.ProxyMode{Reset: testutil.ProxyReset, Silent: testutil.ProxySilent, Stall: testutil.ProxyStall}[k]
	for _, c := range cands {
		if err := c.proxy.SetMode(mode); err != nil {
			return err
		}
	}
	return nil
}

// heal ends the fault and returns when it ended.
func heal(k Kind, cands []*candidate, ts *testutil.TCPServer) (time.Time, error) {
	if k == Restart {
		err := ts.Start()
		return time.Now(), err
	}
	for _, c := range cands {
		if err := c.proxy.SetMode(testutil.ProxyPass); err != nil {
			return time.Time{}, err
		}
	}
	return time.Now(), nil
}
