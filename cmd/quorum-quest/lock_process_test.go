package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// These tests run the built command as separate processes over loopback,
// against an in-process server, with testdata/child as the child. Every
// child binds the same loopback port, so two children alive at once is a
// failure the second one reports (world.next fails the test on it).

// eventually polls cond until it holds, failing the test after d.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not %s within %v", what, d)
		}
		time.Sleep(10 * time.Millisecond) // a poll interval, not a wait for the condition
	}
}

// leaderAndFollower starts r1, waits for its child, then starts r2 and
// waits until it campaigns.
func leaderAndFollower(t *testing.T, w *world, o1, o2 runnerOpts) (r1, r2 *proc, started event) {
	t.Helper()
	r1 = w.runner("r1", o1)
	started = w.next("start", "r1", 10*time.Second)
	r2 = w.runner("r2", o2)
	eventually(t, 10*time.Second, "r2 campaigning", func() bool { return strings.Contains(r2.output(), "campaigning for") })
	return r1, r2, started
}

// (a) SIGKILL the leading runner: its child dies with it (the parent-death
// signal) within a second, and the other replica's child starts only after
// the server's expiry of the dead runner's lease. It returns the gap
// between the old child's death and the new child's start.
func scenarioKillRunner(t *testing.T) gaps {
	w := newWorld(t)
	r1, _, _ := leaderAndFollower(t, w, runnerOpts{}, runnerOpts{})
	killed := r1.signal(t, syscall.SIGKILL)
	died := w.next("death", "r1", time.Second)
	started := w.next("start", "r2", testTTL+testRetry+slack)
	lease := w.tenure("r1")
	if !died.at.Before(lease.End) {
		t.Errorf("r1's child died at %v, after the server's expiry of its lease at %v", died.at, lease.End)
	}
	if !started.at.After(lease.End) {
		t.Errorf("r2's child started at %v, before the server's expiry of r1's lease at %v", started.at, lease.End)
	}
	t.Logf("(a) child died %v after SIGKILL of its runner; the next started %v after that, %v after the server's expiry",
		died.at.Sub(killed), started.at.Sub(died.at), started.at.Sub(lease.End))
	return gaps{handover: started.at.Sub(died.at), beforeExpiry: lease.End.Sub(died.at)}
}

// gaps are what one run of scenario (a) or (b) measured.
type gaps struct {
	handover     time.Duration // from the old child's death to the new child's start
	beforeExpiry time.Duration // from the old child's death to the server's expiry of its lease
}

func TestLockKillRunner(t *testing.T) {
	t.Parallel()
	scenarioKillRunner(t)
}

// (b) Cut the leading runner off the server (a proxy that swallows
// everything): its child, which ignores SIGTERM, is killed and dead before
// the server's lease ends, so before another child can start. It returns
// the gap between the old child's death and the new child's start.
func scenarioCutNetwork(t *testing.T) gaps {
	w := newWorld(t)
	px := newProxy(t, w.addr)
	ignore := []string{"QQT_IGNORE_TERM=1"}
	r1, _, _ := leaderAndFollower(t, w, runnerOpts{addr: px.addr(), env: ignore}, runnerOpts{env: ignore})
	cut := time.Now()
	px.silence()
	died := w.next("death", "r1", testTTL+slack)
	started := w.next("start", "r2", testTTL+testRetry+slack)
	lease := w.tenure("r1")
	if !died.at.Before(lease.End) {
		t.Errorf("r1's child died at %v, after the server's expiry of its lease at %v", died.at, lease.End)
	}
	if !started.at.After(died.at) {
		t.Errorf("r2's child started at %v, before r1's child died at %v", started.at, died.at)
	}
	if code := r1.wait(t, 2*testTTL); code != exitLost {
		t.Errorf("cut-off runner exited %d; want %d (leadership lost)", code, exitLost)
	}
	// The SIGTERM comes first unless the runner was scheduled too late for
	// it (a loaded machine); the SIGKILL must come either way.
	if out := r1.output(); !strings.Contains(out, "SIGKILL to the child") || strings.Contains(out, "WARNING") {
		t.Errorf("the runner did not SIGKILL the child that ignores SIGTERM, or reaped it late:\n%s", out)
	} else if !strings.Contains(out, "SIGTERM to the child") {
		t.Logf("the runner woke too late for the SIGTERM and went straight to SIGKILL")
	}
	t.Logf("(b) child died %v after the cut, %v before the server's expiry; the next started %v after the death",
		died.at.Sub(cut), lease.End.Sub(died.at), started.at.Sub(died.at))
	return gaps{handover: started.at.Sub(died.at), beforeExpiry: lease.End.Sub(died.at)}
}

func TestLockCutNetwork(t *testing.T) {
	t.Parallel()
	scenarioCutNetwork(t)
}

// (c) SIGTERM the leading runner: it stops its child, releases, and exits
// 128+15; the other replica's child starts within its retry interval (plus
// process start-up). SIGQUIT does the same rather than kill the runner
// alone (Go's default), which would leave what the child started running
// beside the next leader's child.
func TestLockSIGTERMHandsOver(t *testing.T) {
	t.Parallel()
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGQUIT} {
		t.Run(sig.String(), func(t *testing.T) {
			t.Parallel()
			w := newWorld(t)
			r1, _, _ := leaderAndFollower(t, w, runnerOpts{}, runnerOpts{})
			sent := r1.signal(t, sig)
			died := w.next("death", "r1", testGrace+slack)
			started := w.next("start", "r2", testRetry+slack)
			if code := r1.wait(t, slack); code != 128+int(sig) {
				t.Errorf("runner exited %d after %v; want %d", code, sig, 128+int(sig))
			}
			if !strings.Contains(r1.output(), "released the lock") {
				t.Errorf("the runner did not release the lock:\n%s", r1.output())
			}
			t.Logf("(c) child died %v after %v; the next started %v after that (retry interval %v)",
				died.at.Sub(sent), sig, started.at.Sub(died.at), testRetry)
		})
	}
}

// A runner whose standard error nobody reads any more (the pipe to a log
// shipper that died) goes on: its writes fail, and SIGPIPE, caught, does
// not kill it. Stopped, it stops its child and releases as usual.
func TestLockSurvivesABrokenStderr(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	r1 := w.runner("r1", runnerOpts{stderrPipe: true})
	w.next("start", "r1", 10*time.Second)
	r1.stderr.Close()
	r1.signal(t, syscall.SIGTERM) // the runner logs the stop to the broken pipe
	w.next("death", "r1", testGrace+slack)
	if code := r1.wait(t, slack); code != 128+int(syscall.SIGTERM) {
		t.Errorf("runner exited %d after SIGTERM with a broken stderr; want %d (141 is SIGPIPE's death)", code, 128+int(syscall.SIGTERM))
	}
	if tn := w.tenure("r1"); !tn.Ended {
		t.Errorf("the lock is still held after the runner exited: %+v", tn)
	}
}

// (d) The child exits 7 by itself: the runner releases and exits 7, and the
// other replica's child starts within its retry interval.
func TestLockChildExitCode(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	r1, _, _ := leaderAndFollower(t, w, runnerOpts{}, runnerOpts{})
	w.tell("r1", "exit 7")
	died := w.next("death", "r1", slack)
	started := w.next("start", "r2", testRetry+slack)
	if code := r1.wait(t, slack); code != 7 {
		t.Errorf("runner exited %d; want the child's 7", code)
	}
	t.Logf("(d) the next child started %v after the first exited (retry interval %v)", started.at.Sub(died.at), testRetry)
}

// (e) --timeout while another replica leads: exit 65 once it runs out.
func TestLockTimeout(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.runner("r1", runnerOpts{})
	w.next("start", "r1", 10*time.Second)
	const timeout = time.Second
	r2 := w.runner("r2", runnerOpts{flags: []string{"--timeout", timeout.String()}})
	code := r2.wait(t, timeout+slack)
	took := time.Since(r2.start)
	if code != exitTimeout {
		t.Fatalf("runner exited %d; want %d (not leading within --timeout)", code, exitTimeout)
	}
	if took < timeout {
		t.Errorf("runner gave up after %v, before its --timeout %v", took, timeout)
	}
	t.Logf("(e) exited %d after %v (--timeout %v)", code, took, timeout)
}

// (f) GET /leader: 200 and leader true on the leader, 503 and leader false
// on a follower; /healthz 200 on both. Also: the child's environment, and
// SIGHUP, SIGUSR1 and SIGUSR2 reaching it.
func TestLockHTTPSignalsAndEnvironment(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	h1, h2 := "127.0.0.1:"+strconv.Itoa(freePort(t)), "127.0.0.1:"+strconv.Itoa(freePort(t))
	r1, _, started := leaderAndFollower(t, w,
		runnerOpts{flags: []string{"--http", h1}}, runnerOpts{flags: []string{"--http", h2}})
	if want := fmt.Sprintf("r1 %d %s %s 0", r1.childPID(t, started), testService, testDomain); !strings.HasSuffix(started.text, want) {
		t.Errorf("child reported %q; want its environment to give %q", started.text, want)
	}

	for _, c := range []struct {
		addr   string
		code   int
		leader bool
		id     string
	}{{h1, http.StatusOK, true, "r1"}, {h2, http.StatusServiceUnavailable, false, "r2"}} {
		eventually(t, 5*time.Second, "serving http on "+c.addr, func() bool {
			conn, err := net.Dial("tcp", c.addr)
			if err == nil {
				conn.Close()
			}
			return err == nil
		})
		resp, err := http.Get("http://" + c.addr + "/leader")
		if err != nil {
			t.Fatal(err)
		}
		var st leaderStatus
		err = json.NewDecoder(resp.Body).Decode(&st)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("/leader of %s: %v", c.id, err)
		}
		if resp.StatusCode != c.code || st.Leader != c.leader || st.ClientID != c.id {
			t.Errorf("/leader of %s: %d %+v; want %d, leader %v", c.id, resp.StatusCode, st, c.code, c.leader)
		}
		if c.leader && (st.RemainingLeaseMS <= 0 || st.RemainingLeaseMS > testTTL.Milliseconds()) {
			t.Errorf("/leader of %s: remaining_lease_ms %d; want in (0, %d]", c.id, st.RemainingLeaseMS, testTTL.Milliseconds())
		}
		if !c.leader && st.RemainingLeaseMS != 0 {
			t.Errorf("/leader of follower %s: remaining_lease_ms %d; want 0", c.id, st.RemainingLeaseMS)
		}
		resp, err = http.Get("http://" + c.addr + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("/healthz of %s: %d; want 200", c.id, resp.StatusCode)
		}
	}

	for _, sig := range []syscall.Signal{syscall.SIGHUP, syscall.SIGUSR1, syscall.SIGUSR2} {
		r1.signal(t, sig)
		if e := w.next("signal", "r1", slack); !strings.HasSuffix(e.text, sig.String()) {
			t.Errorf("child got %q; want %v", e.text, sig)
		}
	}
}

// childPID is the pid in a start event.
func (p *proc) childPID(t *testing.T, e event) int {
	t.Helper()
	f := strings.Fields(e.text)
	pid, err := strconv.Atoi(f[2])
	if err != nil {
		t.Fatalf("start event %q: %v", e.text, err)
	}
	return pid
}

// A runner that cannot reach the server gives up with 67 once
// --unreachable has passed, naming the error.
func TestLockUnreachableServer(t *testing.T) {
	t.Parallel()
	checkUnreachable(t, newWorld(t), runnerOpts{})
}

// checkUnreachable starts a runner with o against a closed port and checks
// that it gives up with 67 once --unreachable has passed, naming the error.
func checkUnreachable(t *testing.T, w *world, o runnerOpts) {
	t.Helper()
	o.addr = "127.0.0.1:" + strconv.Itoa(freePort(t))
	const unreachable = time.Second
	o.flags = append(o.flags[:len(o.flags):len(o.flags)], "--unreachable", unreachable.String())
	r := w.runner("r1", o)
	code := r.wait(t, unreachable+testRetry+slack)
	if code != exitUnreachable {
		t.Fatalf("runner exited %d; want %d (server unreachable)", code, exitUnreachable)
	}
	if took := time.Since(r.start); took < unreachable {
		t.Errorf("gave up after %v, before --unreachable %v", took, unreachable)
	}
	if out := r.output(); !strings.Contains(out, "connection refused") {
		t.Errorf("the runner did not say why:\n%s", out)
	}
}

// SIGINT while waiting: the runner exits at once with 130.
func TestLockSignalWhileWaiting(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	_, r2, _ := leaderAndFollower(t, w, runnerOpts{}, runnerOpts{})
	r2.signal(t, syscall.SIGINT)
	if code := r2.wait(t, slack); code != 128+int(syscall.SIGINT) {
		t.Errorf("waiting runner exited %d after SIGINT; want %d", code, 128+int(syscall.SIGINT))
	}
}

// A command that does not exist: exit 127 before the runner campaigns, so
// that no replica takes the lock only to fail.
func TestLockCommandNotFound(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	r := w.start("r1", nil, "lock", "--addr", w.addr, "--id", "r1", "--ttl", "2s", "--", "/nonexistent/command")
	if code := r.wait(t, 5*time.Second); code != exitNotFound {
		t.Errorf("exit %d; want %d", code, exitNotFound)
	}
	if calls := w.srv.Calls(); calls.TryAcquireLock != 0 {
		t.Errorf("the runner campaigned (%d TryAcquireLock calls) for a command that cannot run", calls.TryAcquireLock)
	}
}

// The server says the lock is not ours (it lost the lock; the next renewal
// answers -1s): SIGKILL at once, no SIGTERM and grace, then exit 66.
func TestLockNotOursKillsAtOnce(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	r1 := w.runner("r1", runnerOpts{env: []string{"QQT_IGNORE_TERM=1"}})
	w.next("start", "r1", 10*time.Second)
	dropped := time.Now()
	w.srv.DropLock(testService, testDomain)
	// The next renewal comes within 1.1 keep-alive intervals.
	died := w.next("death", "r1", testTTL*11/30+slack)
	if code := r1.wait(t, slack); code != exitLost {
		t.Errorf("runner exited %d; want %d", code, exitLost)
	}
	out := r1.output()
	if !strings.Contains(out, "leadership ended") || strings.Contains(out, "SIGTERM") {
		t.Errorf("want an immediate SIGKILL on the server's refusal, without SIGTERM:\n%s", out)
	}
	t.Logf("child died %v after the server lost the lock", died.at.Sub(dropped))
}

// --restart: a child that exits is run anew on the next win, and the
// runner stays until signalled.
// With --restart, a child that exits by itself hands the lock over: the
// runner stands aside a retry interval, so the other replica's child runs
// next, and the first runner's after that.
func TestLockRestartHandsOver(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	restart := runnerOpts{flags: []string{"--restart"}}
	r1, r2, _ := leaderAndFollower(t, w, restart, restart)
	w.tell("r1", "exit 0")
	w.next("death", "r1", slack)
	w.next("start", "r2", testRetry+slack)
	w.tell("r2", "exit 0")
	w.next("death", "r2", slack)
	w.next("start", "r1", testRetry+slack)
	for _, r := range []*proc{r1, r2} {
		r.signal(t, syscall.SIGTERM)
		if code := r.wait(t, testGrace+slack); code != 128+int(syscall.SIGTERM) {
			t.Errorf("%s exited %d; want %d", r.id, code, 128+int(syscall.SIGTERM))
		}
	}
}

func TestLockRestart(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	r1 := w.runner("r1", runnerOpts{flags: []string{"--restart"}})
	w.next("start", "r1", 10*time.Second)
	w.tell("r1", "exit 3")
	w.next("death", "r1", slack)
	w.next("start", "r1", testRetry+slack)
	r1.signal(t, syscall.SIGTERM)
	if code := r1.wait(t, testGrace+slack); code != 128+int(syscall.SIGTERM) {
		t.Errorf("runner exited %d; want %d", code, 128+int(syscall.SIGTERM))
	}
}
