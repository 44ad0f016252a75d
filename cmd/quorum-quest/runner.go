package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/quorum-quest/client-go/client"
)

// runner is one `quorum-quest lock`: a client campaigning for the lock and
// the child it runs while leading.
type runner struct {
	cfg    *lockConfig
	q      *client.QuorumQuestClient
	health *client.HealthCheck
	stderr io.Writer
	sigs   chan os.Signal
	// changed is signalled (without blocking) on every transition of the
	// client: the supervisor and the campaign re-read the client's state.
	changed chan struct{}
	// leading is true while the child runs under the lock with no stop
	// begun; /leader reports it.
	leading atomic.Bool

	mu      sync.Mutex
	lastErr error      // the latest failed call's error, for messages
	slot    *slotState // with -n above 1 (runSlots)
	reach   reach      // whether calls reach the server, with -n above 1
}

// runLock is `quorum-quest lock`.
func runLock(args []string, stderr io.Writer) int {
	cfg, err := parseLock(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "quorum-quest lock: %v\n", err)
		return exitUsage
	}
	// A command that cannot run is found out before the campaign: winning
	// the lock only to fail would pass the failure from replica to replica.
	// (It is looked up again when started: it may have gone meanwhile.)
	if _, err := exec.LookPath(cfg.command[0]); err != nil {
		fmt.Fprintf(stderr, "quorum-quest lock: cannot run %q: %v\n", cfg.command[0], err)
		return startError(err)
	}
	// Signals are caught before anything else, so that none is lost
	// between start-up and the campaign.
	r := &runner{cfg: cfg, stderr: stderr, sigs: make(chan os.Signal, 8), changed: make(chan struct{}, 1)}
	signal.Notify(r.sigs, append(stopSignals, syscall.SIGHUP, syscall.SIGUSR1, syscall.SIGUSR2)...)
	defer signal.Stop(r.sigs)
	// A signal the runner does not catch kills it with Go's default, and
	// with it the lease-keeping, while what the child started in its
	// group lives on: the next leader's child would run beside it. SIGPIPE
	// comes from writing to a stderr nobody reads any more (a pipe into a
	// log shipper that died); caught, such a write just fails. A caught
	// signal is reset to its default for the child, unlike an ignored one.
	pipes := make(chan os.Signal, 1)
	signal.Notify(pipes, syscall.SIGPIPE)
	defer signal.Stop(pipes)

	if cfg.slots > 1 {
		return r.runSlots()
	}
	if err := r.connect(); err != nil {
		fmt.Fprintf(stderr, "quorum-quest lock: %v\n", err)
		return exitUsage
	}
	defer r.q.Close()
	stop, ok := r.startHTTP()
	if !ok {
		return exitUsage
	}
	defer stop()
	for {
		if code, leading := r.campaign(); !leading {
			return code
		}
		if code, again := r.lead(); !again {
			return code
		}
	}
}

// connect makes the client, its health check and the hook that wakes the
// runner on every transition.
func (r *runner) connect() error {
	var err error
	if r.health, err = client.NewHealthCheck(r.cfg.unreachable); err != nil {
		return err
	}
	opts, err := r.clientOptions()
	if err != nil {
		return err
	}
	opts = append(opts, client.WithHealthCheck(r.health))
	r.q, err = client.NewQuorumQuestClient(r.cfg.service, r.cfg.domain, r.cfg.ttl, r.cfg.addr, opts...)
	return err
}

// clientOptions returns the options of every election the runner makes:
// the hook that wakes the runner on every transition, the logger, the
// timing, the ID and TLS.
func (r *runner) clientOptions() ([]client.Option, error) {
	cfg := r.cfg
	level := slog.LevelWarn
	if cfg.verbose {
		level = slog.LevelDebug
	}
	opts := []client.Option{
		client.WithTransitionHook(r.observe),
		client.WithLogger(slog.New(slog.NewTextHandler(r.stderr, &slog.HandlerOptions{Level: level}))),
	}
	opts = append(opts, cfg.timingOptions()...)
	if cfg.id != "" {
		opts = append(opts, client.WithClientID(cfg.id))
	}
	dial, err := cfg.tls.dialOptions()
	if err != nil {
		return nil, err
	}
	if len(dial) > 0 {
		opts = append(opts, client.WithDialOptions(dial...))
	}
	return opts, nil
}

// observe is the client's transition hook.
func (r *runner) observe(t client.Transition) {
	r.mu.Lock()
	if t.Err != nil && (t.Event == client.EventFailed || t.Event == client.EventDenied) {
		r.lastErr = t.Err
	}
	r.reach.observe(t)
	r.mu.Unlock()
	r.wake()
}

// wake signals changed without blocking: the supervisor and the loop
// waiting to lead re-read the state.
func (r *runner) wake() {
	select {
	case r.changed <- struct{}{}:
	default:
	}
}

func (r *runner) lastError() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lastErr
}

func (r *runner) logf(format string, args ...any) {
	fmt.Fprintf(r.stderr, "quorum-quest: "+format+"\n", args...)
}

// campaign waits until the client leads. It returns leading true then, and
// otherwise the exit code: --timeout ran out, the server was unreachable
// for --unreachable (without --restart), or a signal stopped the runner.
func (r *runner) campaign() (code int, leading bool) {
	ctx, cancel := context.WithCancel(context.Background())
	if r.cfg.timeout > 0 {
		ctx, cancel = context.WithTimeout(context.Background(), r.cfg.timeout)
	}
	defer cancel()
	r.logf("campaigning for %s/%s as %s", r.cfg.service, r.cfg.domain, r.q.ClientID())
	result := make(chan error, 1)
	go func() { result <- r.q.Campaign(ctx) }()
	// give up ends the campaign; if it won meanwhile, Close releases.
	giveUp := func(code int, format string, args ...any) (int, bool) {
		cancel()
		<-result
		r.logf(format, args...)
		return code, false
	}
	for {
		select {
		case err := <-result:
			switch {
			case err == nil:
				return 0, true
			case errors.Is(err, context.DeadlineExceeded):
				if herr := r.health.Check(); herr != nil {
					return exitUnreachable, r.say("not leading within --timeout %v: server unreachable: %v", r.cfg.timeout, herr)
				}
				if last := r.lastError(); last != nil {
					return exitTimeout, r.say("not leading within --timeout %v (last error: %v)", r.cfg.timeout, last)
				}
				return exitTimeout, r.say("not leading within --timeout %v", r.cfg.timeout)
			}
			return exitUnreachable, r.say("campaign ended: %v", err)
		case sig := <-r.sigs:
			if s := sig.(syscall.Signal); isStopSignal(s) {
				return giveUp(128+int(s), "%v while waiting to lead: exiting", s)
			}
		case <-r.changed:
			if r.cfg.restart {
				continue // a long-lived runner rides out outages; /healthz reports them
			}
			if err := r.health.Check(); err != nil {
				return giveUp(exitUnreachable, "giving up: %v", err)
			}
		}
	}
}

// say logs and returns false, for one-line returns.
func (r *runner) say(format string, args ...any) bool {
	r.logf(format, args...)
	return false
}

// stopSignals stop the runner: the child is stopped and the lock released
// (a second one skips the rest of the grace). SIGQUIT is one so that it,
// too, stops the child rather than kill the runner alone with Go's
// default (a stack dump).
var stopSignals = []os.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGQUIT}

func isStopSignal(s syscall.Signal) bool { return slices.Contains(stopSignals, os.Signal(s)) }

// stopCause is why the runner stopped its child.
type stopCause int

const (
	stopNone     stopCause = iota // the child ended by itself
	stopLease                     // the lease was running out: renewals failing
	stopLost                      // leadership ended: the server said the lock is not ours, or the lease ran out
	stopSignaled                  // the runner got one of stopSignals
)

// lead runs the child while leading, stops it when it must, releases the
// lock, and returns the exit code, or again true to campaign anew
// (--restart).
func (r *runner) lead() (code int, again bool) {
	res := r.runChild(r.q, r.env(r.q.ClientID(), 0), r.sigs)
	switch {
	case res.late:
		r.release()
		if r.cfg.restart {
			return 0, true
		}
		return exitLost, false
	case res.startErr != nil:
		r.release()
		return startError(res.startErr), false
	}
	released := time.Now()
	r.release()
	switch res.cause {
	case stopSignaled:
		return 128 + int(res.sig), false
	case stopLease, stopLost:
		if r.cfg.restart {
			return 0, true
		}
		return exitLost, false
	}
	if r.cfg.restart {
		return r.standAside(time.Since(released))
	}
	return res.st.code, false
}

// env is the child's environment: the runner's, and who it runs as.
func (r *runner) env(id string, slot int) []string {
	return append(os.Environ(),
		"QUORUM_QUEST_CLIENT_ID="+id,
		"QUORUM_QUEST_SERVICE="+r.cfg.service,
		"QUORUM_QUEST_DOMAIN="+r.cfg.domain,
		"QUORUM_QUEST_SLOT="+strconv.Itoa(slot),
	)
}

// lease is what a child runs under: the lock's client, or one slot of a
// semaphore (slotLease).
type lease interface {
	GetRemainingLease() time.Duration
	IsLeader() bool
	State() client.State
}

// childResult is how one run of the child went.
type childResult struct {
	late     bool  // leadership ended before the child could start
	startErr error // the child could not be started
	cause    stopCause
	st       exitStatus
	sig      syscall.Signal // the stop signal the runner got, if any
}

// runChild starts the command under l with env, supervises it (stop
// signals come on sigs) until it has been reaped, and kills what it left
// in its group. The caller releases.
func (r *runner) runChild(l lease, env []string, sigs <-chan os.Signal) childResult {
	// Leadership may have ended between the win and now (a renewal
	// refused at once); a child started then would run without the right.
	if l.GetRemainingLease() <= r.cfg.grace+r.cfg.reapAllowance {
		r.logf("leadership ended before the command could start")
		return childResult{late: true}
	}
	ch, err := startChild(r.cfg.command, env)
	if err != nil {
		r.logf("cannot run %q: %v", r.cfg.command[0], err)
		return childResult{startErr: err}
	}
	r.leading.Store(true)
	r.logf("leading: started %s (pid %d), lease %v left", r.cfg.command[0], ch.pid, l.GetRemainingLease().Round(time.Millisecond))
	cause, st, sig := r.supervise(ch, l, sigs)
	r.leading.Store(false)
	if cause == stopNone {
		r.logf("child exited with %d", st.code)
	}
	// Whatever the child left in its group goes with it.
	_ = ch.signal(syscall.SIGKILL)
	if st.err != nil {
		r.logf("waiting for the child: %v", st.err)
	}
	return childResult{cause: cause, st: st, sig: sig}
}

// standAside waits, after the child ended by itself and the runner released
// a lock it still held, as long as the library's Run would
// (client.Timing.StandAside, from the release's round trip rtt) before
// campaigning again (--restart), so that another replica takes the lock
// first. A stop signal ends the wait; others are ignored, as while
// waiting to lead.
func (r *runner) standAside(rtt time.Duration) (code int, again bool) {
	wait := time.NewTimer(r.cfg.timing.StandAside(rtt))
	defer wait.Stop()
	for {
		select {
		case <-wait.C:
			return 0, true
		case sig := <-r.sigs:
			if s := sig.(syscall.Signal); isStopSignal(s) {
				r.logf("%v while standing aside for another replica: exiting", s)
				return 128 + int(s), false
			}
		}
	}
}

// release gives the lock up, bounded by the request timeout; a lock it
// cannot release runs out at its TTL.
func (r *runner) release() {
	ctx, cancel := context.WithTimeout(context.Background(), r.cfg.requestTimeout)
	defer cancel()
	if err := r.q.ReleaseLock(ctx); err != nil {
		r.logf("release failed (the lock frees itself at its TTL): %v", err)
		return
	}
	r.logf("released the lock")
}

// supervise watches the child until it has been reaped, and stops it when
// it must. The stop is planned from the lease's local deadline D, read
// afresh at every wake-up: SIGTERM at D − grace − A, SIGKILL at D − A
// (A is --reap-allowance; or grace after a SIGTERM, if sooner). Every
// renewal moves D later, which is what cancels the plan while renewals
// succeed; maxGrace makes sure they succeed in time. When leadership ends
// (the server says the lock is not ours, or the lease ran out), another
// replica may already hold the lock: SIGKILL at once.
func (r *runner) supervise(ch *child, l lease, sigs <-chan os.Signal) (cause stopCause, st exitStatus, sig syscall.Signal) {
	grace := r.cfg.grace
	var termAt time.Time   // when SIGTERM was sent; zero before
	var deadline time.Time // the lease's local deadline, as last read
	killed := false
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	stop := func(c stopCause) {
		// The first reason stands, except that a signal to the runner
		// always wins: the runner must exit, even with --restart.
		if cause == stopNone || c == stopSignaled {
			cause = c
		}
		r.leading.Store(false)
	}
	kill := func(c stopCause, why string) {
		stop(c)
		if !killed {
			killed = true
			r.logf("%s: SIGKILL to the child", why)
			r.report(ch.signal(syscall.SIGKILL))
		}
	}
	term := func(c stopCause, why string) {
		stop(c)
		if termAt.IsZero() && !killed {
			termAt = time.Now()
			if grace == 0 {
				kill(c, why)
				return
			}
			r.logf("%s: SIGTERM to the child, SIGKILL in %v", why, grace)
			r.report(ch.signal(syscall.SIGTERM))
		}
	}
	for {
		now := time.Now()
		if !killed {
			remaining := l.GetRemainingLease()
			deadline = now.Add(remaining)
			killAt := deadline.Add(-r.cfg.reapAllowance)
			if !termAt.IsZero() && termAt.Add(grace).Before(killAt) {
				killAt = termAt.Add(grace)
			}
			switch stopAt := killAt.Add(-grace); {
			case !l.IsLeader():
				kill(stopLost, "leadership ended ("+l.State().String()+")")
			case !now.Before(killAt) && !termAt.IsZero() && !now.Before(termAt.Add(grace)):
				kill(stopLease, fmt.Sprintf("grace of %v over", grace))
			case !now.Before(killAt):
				kill(stopLease, fmt.Sprintf("lease ends in %v", remaining.Round(time.Millisecond)))
			case termAt.IsZero() && !now.Before(stopAt):
				term(stopLease, fmt.Sprintf("renewals failing, lease ends in %v", remaining.Round(time.Millisecond)))
				continue // plan the SIGKILL
			case termAt.IsZero():
				timer.Reset(stopAt.Sub(now))
			default:
				timer.Reset(killAt.Sub(now))
			}
		}
		select {
		case st = <-ch.done:
			if late := time.Since(deadline); cause == stopLease && late > 0 {
				// The assumption behind the guarantee failed: say so, loudly.
				r.logf("WARNING: the child was reaped %v after the lease's deadline; raise --reap-allowance", late)
			}
			return cause, st, sig
		case <-timer.C:
		case <-r.changed:
		case s := <-sigs:
			switch s := s.(syscall.Signal); {
			case isStopSignal(s):
				switch {
				case cause == stopSignaled:
					kill(stopSignaled, fmt.Sprintf("%v again", s)) // a second one does not wait out the grace
				case !termAt.IsZero() || killed:
					stop(stopSignaled) // the stop under way goes on
				default:
					term(stopSignaled, s.String())
				}
				if sig == 0 {
					sig = s
				}
			default:
				r.report(ch.signal(s)) // SIGHUP, SIGUSR1, SIGUSR2 are the child's
			}
		}
	}
}

func (r *runner) report(err error) {
	if err != nil {
		r.logf("signalling the child: %v", err)
	}
}
