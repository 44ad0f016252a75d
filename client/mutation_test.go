package client_test

// Tests that kill what `make mutate` (gremlins) found alive in the client:
// each names the guarantee it protects. They use only the public API and
// the in-memory server, with their own constructor, so that they do not
// depend on the other test files' helpers.

import (
	"context"
	"encoding/hex"
	"errors"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/quorum-quest/client-go/client"
	"github.com/quorum-quest/client-go/qqtest"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// newMutantKiller returns a client of srv's lock "mutation"/"test" with a
// fixed ID (so its jitter is the same on every run), closed at the end of
// the test.
func newMutantKiller(t *testing.T, srv *qqtest.Server, id string, ttl time.Duration, opts ...client.Option) *client.QuorumQuestClient {
	t.Helper()
	base := []client.Option{client.WithServerStub(srv.Stub()), client.WithClientID(id)}
	c, err := client.NewQuorumQuestClient("mutation", "test", ttl, "in-process", append(base, opts...)...)
	if err != nil {
		t.Fatalf("NewQuorumQuestClient: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// callTimes records when the server saw each call of one method, and tells
// a test when it has seen n of them.
type callTimes struct {
	mu     sync.Mutex
	method qqtest.Method
	at     []time.Time
	n      int
	enough chan struct{}
	code   codes.Code // the fault every recorded call gets
}

func newCallTimes(method qqtest.Method, n int, code codes.Code) *callTimes {
	return &callTimes{method: method, n: n, enough: make(chan struct{}), code: code}
}

func (r *callTimes) fault(c qqtest.Call) qqtest.Fault {
	if c.Method != r.method {
		return qqtest.Fault{}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.at = append(r.at, time.Now())
	if len(r.at) == r.n {
		close(r.enough)
	}
	return qqtest.Fault{Code: r.code}
}

// gaps returns the time between consecutive recorded calls.
func (r *callTimes) gaps() []time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []time.Duration
	for i := 1; i < len(r.at); i++ {
		out = append(out, r.at[i].Sub(r.at[i-1]))
	}
	return out
}

func leadOnce(t *testing.T, c *client.QuorumQuestClient) {
	t.Helper()
	if ok, err := c.TryAcquireLock(context.Background()); !ok || err != nil {
		t.Fatalf("TryAcquireLock = %v, %v; want the lock", ok, err)
	}
}

// Keep-alive renews every interval jittered by ±10% (WithKeepAliveInterval):
// never sooner than 90% of it, never later than 110%, and spread across
// that range so that clients started together drift apart.
func TestRenewalsComeWithinTenPercentOfTheInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const renewals = 200
		interval := 5 * time.Second // a third of the 15 s TTL
		rec := newCallTimes(qqtest.MethodKeepAlive, renewals, codes.OK)
		srv := qqtest.NewUnstartedServer()
		srv.SetFaultFunc(rec.fault)
		c := newMutantKiller(t, srv, "renewal-jitter", 15*time.Second)
		leadOnce(t, c)
		if err := c.StartKeepAlive(context.Background()); err != nil {
			t.Fatal(err)
		}
		<-rec.enough
		c.StopKeepAlive()

		lo, hi := interval*9/10, interval*11/10
		minGap, maxGap := time.Duration(1<<62), time.Duration(0)
		for i, g := range rec.gaps() {
			if g < lo || g > hi {
				t.Errorf("renewal %d came %v after the previous one, outside [%v, %v]", i+1, g, lo, hi)
			}
			minGap, maxGap = min(minGap, g), max(maxGap, g)
		}
		// 199 uniform draws: the extremes lie within 2% of the ends.
		if minGap > interval*92/100 || maxGap < interval*108/100 {
			t.Errorf("renewal gaps span only [%v, %v]: the jitter does not cover ±10%%", minGap, maxGap)
		}
		if !c.IsLeader() {
			t.Error("not leading after successful renewals")
		}
	})
}

// A failed renewal is retried after a backoff step that starts at a tenth
// of the keep-alive interval, grows by half at each failure and stops
// growing at half the interval; each wait is jittered to between half and
// all of the step. So retries are never a busy loop, and never so far apart
// that one outage eats the lease.
func TestFailedRenewalsRetryWithinTheBackoffSteps(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		interval := time.Second
		rec := newCallTimes(qqtest.MethodKeepAlive, -1, codes.Unavailable)
		srv := qqtest.NewUnstartedServer()
		srv.SetFaultFunc(rec.fault)
		lost := make(chan struct{})
		var once sync.Once
		c := newMutantKiller(t, srv, "renewal-backoff", time.Minute,
			client.WithKeepAliveInterval(interval),
			client.WithTransitionHook(func(tr client.Transition) {
				if tr.To == client.StateLost {
					once.Do(func() { close(lost) })
				}
			}))
		leadOnce(t, c)
		if err := c.StartKeepAlive(context.Background()); err != nil {
			t.Fatal(err)
		}
		<-lost // the lease ran out while every renewal failed

		gaps := rec.gaps()
		if len(gaps) < 100 {
			t.Fatalf("only %d retries in a one-minute lease", len(gaps))
		}
		step, maxStep := interval/10, interval/2
		var longest time.Duration
		for i, g := range gaps {
			if g < step/2 || g > step {
				t.Errorf("retry %d came %v after the failure, outside [%v, %v]", i+1, g, step/2, step)
			}
			longest = max(longest, g)
			step = min(time.Duration(float64(step)*1.5), maxStep)
		}
		if longest < maxStep*9/10 {
			t.Errorf("the longest wait between retries is %v: the steps never reached %v", longest, maxStep)
		}
	})
}

// Intervals of a few nanoseconds are valid options; the jitter drawn from
// them must never panic (math/rand's Int64N panics on a bound of 0 or
// less), in Campaign's retries or in keep-alive's backoff.
func TestTinyIntervalsNeverPanic(t *testing.T) {
	t.Run("campaign retry", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			srv := qqtest.NewUnstartedServer()
			holder := newMutantKiller(t, srv, "holder", time.Minute)
			leadOnce(t, holder)
			c := newMutantKiller(t, srv, "tiny-retry", time.Minute, client.WithRetryInterval(time.Nanosecond))
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Nanosecond)
			defer cancel()
			if err := c.Campaign(ctx); !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("Campaign = %v, want DeadlineExceeded while another client leads", err)
			}
			if n := srv.Calls().TryAcquireLock; n < 10 {
				t.Fatalf("%d TryAcquireLock calls in 100ns of 1ns retries", n)
			}
		})
	})
	t.Run("keep-alive backoff", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			rec := newCallTimes(qqtest.MethodKeepAlive, 10, codes.Unavailable)
			srv := qqtest.NewUnstartedServer()
			srv.SetFaultFunc(rec.fault)
			// Backoff steps of 2 to 10 ns: half a step is 1 ns.
			c := newMutantKiller(t, srv, "tiny-keepalive", time.Minute, client.WithKeepAliveInterval(20*time.Nanosecond))
			leadOnce(t, c)
			ctx, cancel := context.WithCancel(context.Background())
			if err := c.StartKeepAlive(ctx); err != nil {
				t.Fatal(err)
			}
			<-rec.enough
			cancel()
			if !c.IsLeader() {
				t.Fatal("failed renewals ended a lease that still runs")
			}
		})
	})
}

// The context Run gives lead is cancelled when leadership ends, and its
// cause says why: it matches ErrNotLeader and wraps the reason, here the
// lease expiring while every renewal failed.
func TestLeadershipContextCauseWrapsTheReason(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := qqtest.NewUnstartedServer()
		srv.SetFaultFunc(func(c qqtest.Call) qqtest.Fault {
			if c.Method == qqtest.MethodKeepAlive {
				return qqtest.Fault{Code: codes.Unavailable}
			}
			return qqtest.Fault{}
		})
		c := newMutantKiller(t, srv, "cause", 15*time.Second)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		causes := make(chan error, 1)
		err := c.Run(ctx, func(lead context.Context) {
			<-lead.Done()
			select {
			case causes <- context.Cause(lead):
				cancel() // one tenure is enough
			default:
			}
		})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Run = %v, want context.Canceled", err)
		}
		cause := <-causes
		if !errors.Is(cause, client.ErrNotLeader) || !errors.Is(cause, client.ErrLeaseExpired) {
			t.Fatalf("cause %v; want ErrNotLeader wrapping ErrLeaseExpired", cause)
		}
	})
}

// logRecords is a slog.Handler that keeps every record.
type logRecords struct {
	mu      sync.Mutex
	records []slog.Record
}

func (h *logRecords) Enabled(context.Context, slog.Level) bool { return true }
func (h *logRecords) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *logRecords) WithGroup(string) slog.Handler            { return h }
func (h *logRecords) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.records = append(h.records, r.Clone())
	return nil
}

// warnings returns the err attribute of every record at Warn or above.
func (h *logRecords) warnings() []error {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []error
	for _, r := range h.records {
		if r.Level < slog.LevelWarn {
			continue
		}
		var err error
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "err" {
				err, _ = a.Value.Any().(error)
			}
			return true
		})
		out = append(out, err)
	}
	return out
}

// When Run's context ends, Run releases the lock; a release that fails is
// reported in the log with its error, and one that succeeds is not.
func TestRunLogsOnlyAFailedReleaseOnShutdown(t *testing.T) {
	for _, tc := range []struct {
		name    string
		release codes.Code
	}{{"release succeeds", codes.OK}, {"release fails", codes.Unavailable}} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				srv := qqtest.NewUnstartedServer()
				srv.SetFaultFunc(func(c qqtest.Call) qqtest.Fault {
					if c.Method == qqtest.MethodReleaseLock {
						return qqtest.Fault{Code: tc.release}
					}
					return qqtest.Fault{}
				})
				logs := &logRecords{}
				c := newMutantKiller(t, srv, "shutdown", 15*time.Second, client.WithLogger(slog.New(logs)))
				ctx, cancel := context.WithCancel(context.Background())
				if err := c.Run(ctx, func(context.Context) { cancel() }); !errors.Is(err, context.Canceled) {
					t.Fatalf("Run = %v, want context.Canceled", err)
				}
				warned := logs.warnings()
				if tc.release == codes.OK {
					if len(warned) != 0 {
						t.Fatalf("a successful release logged warnings: %v", warned)
					}
					if _, held := srv.Holder("mutation", "test"); held {
						t.Fatal("the lock is still held after Run returned")
					}
					return
				}
				if len(warned) != 1 || status.Code(warned[0]) != tc.release {
					t.Fatalf("warnings %v; want one carrying the failed release's %v", warned, tc.release)
				}
			})
		})
	}
}

// A zero duration is not a valid timeout or interval: each option refuses
// it with ErrInvalidOption rather than letting the client run with no time
// at all.
func TestZeroDurationsAreRefused(t *testing.T) {
	for name, opt := range map[string]client.Option{
		"WithCloseTimeout":      client.WithCloseTimeout(0),
		"WithRequestTimeout":    client.WithRequestTimeout(0),
		"WithRetryInterval":     client.WithRetryInterval(0),
		"WithKeepAliveInterval": client.WithKeepAliveInterval(0),
	} {
		_, err := client.NewQuorumQuestClient("mutation", "test", 15*time.Second, "localhost:1", opt)
		if !errors.Is(err, client.ErrInvalidOption) {
			t.Errorf("%s(0): %v, want ErrInvalidOption", name, err)
		}
	}
	// The smallest positive duration is accepted.
	_, err := client.NewQuorumQuestClient("mutation", "test", 15*time.Second, "localhost:1",
		client.WithServerStub(qqtest.NewUnstartedServer().Stub()), client.WithCloseTimeout(time.Nanosecond))
	if err != nil {
		t.Errorf("WithCloseTimeout(1ns): %v", err)
	}
}

// A keep-alive interval must fit in the usable lease even when the jitter
// stretches it by a tenth: a renewal due exactly at the deadline is too
// late, since the lease is gone the instant it is sent.
func TestKeepAliveIntervalJitterMustEndBeforeTheDeadline(t *testing.T) {
	stub := qqtest.NewUnstartedServer().Stub()
	// No drift, a 1.2 s margin: 8.8 s of a 10 s lease are usable.
	policy := []client.Option{client.WithServerStub(stub), client.WithClockDrift(0), client.WithSafetyMargin(1200 * time.Millisecond)}
	newWith := func(interval time.Duration) error {
		c, err := client.NewQuorumQuestClient("mutation", "test", 10*time.Second, "", append(policy, client.WithKeepAliveInterval(interval))...)
		if err == nil {
			_ = c.Close()
		}
		return err
	}
	// 8 s + 10% = 8.8 s: the latest renewal would be sent at the deadline.
	if err := newWith(8 * time.Second); !errors.Is(err, client.ErrInvalidOption) {
		t.Errorf("an interval whose jitter reaches the deadline: %v, want ErrInvalidOption", err)
	}
	if err := newWith(8*time.Second - time.Nanosecond); err != nil {
		t.Errorf("an interval whose jitter ends just before the deadline: %v", err)
	}
}

// A random client ID names the host, so that the server's logs say which
// machine holds the lock, followed by 16 hex digits of randomness. A
// machine without a hostname is named "client".
func TestRandomClientIDNamesTheHost(t *testing.T) {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "client"
	}
	c, err := client.NewQuorumQuestClient("mutation", "test", 15*time.Second, "", client.WithServerStub(qqtest.NewUnstartedServer().Stub()))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	id := c.ClientID()
	random, ok := strings.CutPrefix(id, host+"-")
	if _, herr := hex.DecodeString(random); !ok || len(random) != 16 || herr != nil {
		t.Fatalf("client ID %q; want %q followed by 16 hex digits", id, host+"-")
	}
}

// errorsAtOrAbove returns the err attribute of every record at level or
// above that has one.
func (h *logRecords) errorsAtOrAbove(level slog.Level) []error {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []error
	for _, r := range h.records {
		if r.Level < level {
			continue
		}
		r.Attrs(func(a slog.Attr) bool {
			if err, ok := a.Value.Any().(error); ok && a.Key == "err" {
				out = append(out, err)
			}
			return true
		})
	}
	return out
}

// atOrAbove counts the records at level or above.
func (h *logRecords) atOrAbove(level slog.Level) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, r := range h.records {
		if r.Level >= level {
			n++
		}
	}
	return n
}

// Campaign logs an attempt that failed (Info, with the error), and nothing
// for an attempt the server answered, nor for one cut short because the
// caller's context ended: that is the caller's doing, returned to it.
func TestCampaignLogsOnlyFailedAttempts(t *testing.T) {
	t.Run("failed then granted", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			srv := qqtest.NewUnstartedServer()
			srv.SetFaultFunc(firstCallOf(qqtest.MethodTryAcquireLock, qqtest.Fault{Code: codes.Unavailable}))
			logs := &logRecords{}
			c := newMutantKiller(t, srv, "campaign-log", 15*time.Second, client.WithLogger(slog.New(logs)))
			if err := c.Campaign(context.Background()); err != nil {
				t.Fatal(err)
			}
			if errs := logs.errorsAtOrAbove(slog.LevelInfo); len(errs) != 1 || logs.atOrAbove(slog.LevelInfo) != 1 || status.Code(errs[0]) != codes.Unavailable {
				t.Fatalf("%d records, errors %v; want one, of the Unavailable attempt", logs.atOrAbove(slog.LevelInfo), errs)
			}
		})
	})
	t.Run("denied, then cut short by the context", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			srv := qqtest.NewUnstartedServer()
			holder := newMutantKiller(t, srv, "holder", time.Minute)
			leadOnce(t, holder)
			logs := &logRecords{}
			c := newMutantKiller(t, srv, "campaign-quiet", 15*time.Second, client.WithLogger(slog.New(logs)))
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			// Denied for 4 s, then the server stalls: the attempt in flight
			// at 5 s ends with ctx.
			time.AfterFunc(4*time.Second, srv.Pause)
			defer srv.Resume()
			if err := c.Campaign(ctx); !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("Campaign = %v, want DeadlineExceeded", err)
			}
			if n := logs.atOrAbove(slog.LevelInfo); n != 0 {
				t.Fatalf("%d records logged (errors %v); want nothing for denied attempts and one ended by ctx", n, logs.errorsAtOrAbove(slog.LevelInfo))
			}
		})
	})
}

// When lead returns on its own, Run releases the lock and campaigns again;
// a release that fails is logged (Warn, with the error), one that succeeds
// is not.
func TestRunLogsOnlyAFailedReleaseAfterLeadReturns(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := qqtest.NewUnstartedServer()
		srv.SetFaultFunc(firstCallOf(qqtest.MethodReleaseLock, qqtest.Fault{Code: codes.Unavailable}))
		logs := &logRecords{}
		c := newMutantKiller(t, srv, "run-release", 15*time.Second, client.WithLogger(slog.New(logs)))
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		tenures := 0
		err := c.Run(ctx, func(context.Context) {
			// The first two tenures end on their own (the first release
			// fails, the second succeeds); the third ends Run.
			if tenures++; tenures == 3 {
				cancel()
			}
		})
		if !errors.Is(err, context.Canceled) || tenures != 3 {
			t.Fatalf("Run = %v after %d tenures, want context.Canceled after 3", err, tenures)
		}
		if errs := logs.errorsAtOrAbove(slog.LevelWarn); len(errs) != 1 || logs.atOrAbove(slog.LevelWarn) != 1 || status.Code(errs[0]) != codes.Unavailable {
			t.Fatalf("%d warnings, errors %v; want one, of the failed release", logs.atOrAbove(slog.LevelWarn), errs)
		}
	})
}

// After a lease ran out while renewals were failing, the health check's
// error wraps the failed renewal's own error, so that status.Code of it
// names what went wrong (here Unavailable), not a generic message.
func TestHealthAfterExpiryWrapsTheFailedRenewal(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := qqtest.NewUnstartedServer()
		srv.SetFaultFunc(func(c qqtest.Call) qqtest.Fault {
			if c.Method == qqtest.MethodKeepAlive {
				return qqtest.Fault{Code: codes.Unavailable}
			}
			return qqtest.Fault{}
		})
		h, err := client.NewHealthCheck(time.Hour) // only the expiry can trip it
		if err != nil {
			t.Fatal(err)
		}
		lost := make(chan struct{})
		var once sync.Once
		c := newMutantKiller(t, srv, "health", 15*time.Second, client.WithHealthCheck(h),
			client.WithTransitionHook(func(tr client.Transition) {
				if tr.To == client.StateLost {
					once.Do(func() { close(lost) })
				}
			}))
		leadOnce(t, c)
		if err := c.StartKeepAlive(context.Background()); err != nil {
			t.Fatal(err)
		}
		<-lost
		synctest.Wait() // the health check's hook has seen the expiry too
		err = h.Check()
		if !errors.Is(err, client.ErrUnhealthy) || !strings.Contains(err.Error(), "lease ran out") || status.Code(err) != codes.Unavailable {
			t.Fatalf("Check = %v; want ErrUnhealthy, the lease ran out, wrapping the Unavailable renewal", err)
		}
	})
}

// The health check turns unhealthy once calls have failed for the
// tolerance: at exactly the tolerance, not a moment later.
func TestHealthTurnsUnhealthyAtExactlyTheTolerance(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := qqtest.NewUnstartedServer()
		srv.SetFaultFunc(func(qqtest.Call) qqtest.Fault { return qqtest.Fault{Code: codes.Unavailable} })
		const tolerance = 10 * time.Second
		h, err := client.NewHealthCheck(tolerance)
		if err != nil {
			t.Fatal(err)
		}
		c := newMutantKiller(t, srv, "health-edge", 15*time.Second, client.WithHealthCheck(h))
		if _, err := c.TryAcquireLock(context.Background()); status.Code(err) != codes.Unavailable {
			t.Fatalf("TryAcquireLock = %v, want Unavailable", err)
		}
		synctest.Wait() // the health check's hook has seen the failure
		time.Sleep(tolerance - time.Nanosecond)
		if err := h.Check(); err != nil {
			t.Fatalf("unhealthy 1ns before the tolerance: %v", err)
		}
		time.Sleep(time.Nanosecond)
		if err := h.Check(); !errors.Is(err, client.ErrUnhealthy) || status.Code(err) != codes.Unavailable {
			t.Fatalf("Check at the tolerance = %v, want ErrUnhealthy wrapping Unavailable", err)
		}
	})
}

// Every transition reaches a logger enabled at Debug as a record of its
// own, "quorumquest: transition", with from, to and event.
func TestTransitionsAreLoggedAtDebug(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		logs := &logRecords{}
		c := newMutantKiller(t, qqtest.NewUnstartedServer(), "debug-log", 15*time.Second, client.WithLogger(slog.New(logs)))
		leadOnce(t, c)
		logs.mu.Lock()
		defer logs.mu.Unlock()
		var got []string
		for _, r := range logs.records {
			if r.Level != slog.LevelDebug || r.Message != "quorumquest: transition" {
				continue
			}
			attrs := map[string]string{}
			r.Attrs(func(a slog.Attr) bool { attrs[a.Key] = a.Value.String(); return true })
			got = append(got, attrs["from"]+" -"+attrs["event"]+"-> "+attrs["to"])
		}
		want := []string{"follower -acquire-> acquiring", "acquiring -granted-> leader"}
		if strings.Join(got, "; ") != strings.Join(want, "; ") {
			t.Fatalf("transition records %q, want %q", got, want)
		}
	})
}
