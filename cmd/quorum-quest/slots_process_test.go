package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/quorum-quest/client-go/qqtest"
)

// The semaphore's process tests: runners of `lock -n 2` over loopback
// against the in-process server, each child binding its slot's port
// (QQT_SLOT_PORTS), so that two children of one slot alive at once fail
// physically, as in the lock's tests; a child outside slots 0 and 1 fails
// too (badslot). slotWatch counts the children alive from their start and
// death (the end of their control connection).

// startupAllowance covers, beyond TTL + R, the winning call's round trip,
// the new child's start-up and its report on a loaded 2-core machine.
const startupAllowance = 300 * time.Millisecond

// slotWatch follows a semaphore's children through the world's events.
type slotWatch struct {
	w    *world
	n    int
	opts runnerOpts     // -n and the slots' ports, for every runner
	live map[string]int // runner ID → its child's slot
	most int
}

func newSlotWatch(w *world, n int) *slotWatch {
	return &slotWatch{w: w, n: n, live: map[string]int{}, opts: runnerOpts{
		env:   []string{"QQT_SLOT_PORTS=" + slotPorts(w.t, n)},
		flags: []string{"-n", strconv.Itoa(n)},
	}}
}

// next returns the next event for which want holds, within d, checking
// every event on the way: never more than n children alive, each with a
// slot in [0, n) that no other live child has.
func (s *slotWatch) next(d time.Duration, what string, want func(event) bool) event {
	t := s.w.t
	t.Helper()
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for {
		select {
		case e := <-s.w.events:
			t.Logf("child event: %s %s at %s", e.kind, strings.TrimPrefix(e.text, e.kind+" "), e.at.Format("15:04:05.000"))
			s.w.checkOverlap(e)
			switch e.kind {
			case "start":
				f := strings.Fields(e.text)
				slot, err := strconv.Atoi(f[len(f)-1])
				if len(f) != 6 || err != nil || slot < 0 || slot >= s.n {
					t.Fatalf("child of %s started with slot %q; want 0 to %d", e.id, f[len(f)-1], s.n-1)
				}
				for id, other := range s.live {
					if other == slot {
						t.Fatalf("children of %s and %s both run in slot %d", id, e.id, slot)
					}
				}
				s.live[e.id] = slot
				s.most = max(s.most, len(s.live))
				if len(s.live) > s.n {
					t.Fatalf("%d children alive at once: %v; want at most %d", len(s.live), s.live, s.n)
				}
			case "death":
				delete(s.live, e.id)
			}
			if e.kind != "death" || e.id != "?" { // "?": a child that died before it reported
				if want(e) {
					return e
				}
			}
		case <-deadline.C:
			t.Fatalf("not %s within %v; alive: %v", what, d, s.live)
		}
	}
}

func (s *slotWatch) kind(kind, id string) func(event) bool {
	return func(e event) bool { return e.kind == kind && (id == "" || e.id == id) }
}

// slotPorts returns n distinct free loopback ports, comma-separated.
func slotPorts(t *testing.T, n int) string {
	var ports []string
	for len(ports) < n {
		p := strconv.Itoa(freePort(t))
		if !strings.Contains(","+strings.Join(ports, ",")+",", ","+p+",") {
			ports = append(ports, p)
		}
	}
	return strings.Join(ports, ",")
}

// slotRunners starts runners r1 to r<count> of `lock -n n` and waits until
// n children run and every other runner waits for a slot. It returns the
// runners by ID.
func slotRunners(t *testing.T, w *world, s *slotWatch, count int, flags ...string) map[string]*proc {
	t.Helper()
	o := s.opts
	o.flags = append(o.flags[:len(o.flags):len(o.flags)], flags...)
	runners := map[string]*proc{}
	for i := 1; i <= count; i++ {
		id := fmt.Sprintf("r%d", i)
		runners[id] = w.runner(id, o)
	}
	for len(s.live) < s.n {
		s.next(10*time.Second, fmt.Sprintf("%d children running", s.n), s.kind("start", ""))
	}
	for id, p := range runners {
		if _, ok := s.live[id]; !ok {
			eventually(t, 10*time.Second, id+" waiting", func() bool { return strings.Contains(p.output(), "waiting for one of") })
		}
	}
	return runners
}

// holderOf returns the runner whose child runs in slot.
func (s *slotWatch) holderOf(slot int) string {
	for id, sl := range s.live {
		if sl == slot {
			return id
		}
	}
	s.w.t.Fatalf("no child in slot %d: %v", slot, s.live)
	return ""
}

// slotTenures returns the server's last tenure of id on slot's lock and
// the first one after it of anybody else.
func slotTenures(t *testing.T, srv *qqtest.Server, slot int, id string) (old, next qqtest.Tenure) {
	t.Helper()
	domain := testDomain + "/" + strconv.Itoa(slot)
	found := false
	for _, tn := range srv.History() {
		switch {
		case tn.Domain != domain:
		case tn.ClientID == id:
			old, found = tn, true
		case found && next.ClientID == "":
			next = tn
		}
	}
	if !found || next.ClientID == "" {
		t.Fatalf("slot %d: no tenure of %s followed by another's: %+v", slot, id, srv.History())
	}
	return old, next
}

// checkSlotHistory fails the test when the server's history shows two
// clients holding one slot's lock at once.
func checkSlotHistory(t *testing.T, srv *qqtest.Server, n int) {
	t.Helper()
	history := srv.History()
	for slot := range n {
		domain := testDomain + "/" + strconv.Itoa(slot)
		for a, x := range history {
			for _, y := range history[a+1:] {
				if x.Domain == domain && y.Domain == domain && x.ClientID != y.ClientID &&
					x.Start.Before(y.End) && y.Start.Before(x.End) {
					t.Errorf("slot %d held by %s and %s at once: %+v and %+v", slot, x.ClientID, y.ClientID, x, y)
				}
			}
		}
	}
}

// slotTakeover is one SIGKILL of a runner holding a slot.
type slotTakeover struct {
	killToStart time.Duration // SIGKILL of the holder to the next child's start in its slot
	expiryToWin time.Duration // the server's expiry of its lease to its grant to the next holder
}

// scenarioSlotKill: four runners of `lock -n 2`; SIGKILL the holder of
// slot 0: its child dies with it, and a waiting runner's child starts in
// slot 0 within TTL + R (+ start-up), its grant coming within R of the
// server's expiry of the dead runner's lease.
func scenarioSlotKill(t *testing.T) slotTakeover {
	w := newWorld(t)
	s := newSlotWatch(w, 2)
	runners := slotRunners(t, w, s, 4)
	victim := s.holderOf(0)
	killed := runners[victim].signal(t, syscall.SIGKILL)
	died := s.next(time.Second, "the killed runner's child dead", s.kind("death", victim))
	started := s.next(testTTL+testRetry+slack, "slot 0 taken", func(e event) bool { return e.kind == "start" && s.live[e.id] == 0 })
	old, next := slotTenures(t, w.srv, 0, victim)
	if next.ClientID != started.id {
		t.Errorf("the server granted slot 0 to %s after %s; %s's child started in it", next.ClientID, victim, started.id)
	}
	if !died.at.Before(old.End) {
		t.Errorf("%s's child died at %v, after the server's expiry of its lease at %v", victim, died.at, old.End)
	}
	took := slotTakeover{killToStart: started.at.Sub(killed), expiryToWin: next.Start.Sub(old.End)}
	if took.killToStart > testTTL+testRetry+startupAllowance {
		t.Errorf("slot 0 taken %v after the SIGKILL; want within TTL + R (%v) + %v", took.killToStart, testTTL+testRetry, startupAllowance)
	}
	if took.expiryToWin > testRetry+50*time.Millisecond {
		t.Errorf("slot 0 granted %v after the server's expiry; want within R (%v) + 50ms", took.expiryToWin, testRetry)
	}
	if s.most != 2 {
		t.Errorf("at most %d children alive at once; want 2", s.most)
	}
	checkSlotHistory(t, w.srv, 2)
	t.Logf("slot 0: %s's child died %v after its SIGKILL; %s's child started %v after the SIGKILL; granted %v after the server's expiry",
		victim, died.at.Sub(killed), started.id, took.killToStart, took.expiryToWin)
	return took
}

// `lock -n 2` with four runners: never more than two children alive, each
// in slot 0 or 1, no two in one slot; a SIGKILLed holder's slot is taken
// within TTL + R.
func TestLockSlotsKilledHolder(t *testing.T) {
	t.Parallel()
	scenarioSlotKill(t)
}

// The other endings of a slot's child, in turn: a child that exits 7 makes
// its runner release and exit 7, and a waiting runner takes the slot
// within the retry interval; SIGTERM to a holder stops its child and hands
// the slot over the same way (exit 143); SIGTERM to a waiting runner ends
// it (exit 143) with no child started.
func TestLockSlotsHandOver(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	s := newSlotWatch(w, 2)
	runners := slotRunners(t, w, s, 4)
	fromSlot := func(slot int) func(event) bool {
		return func(e event) bool { return e.kind == "start" && s.live[e.id] == slot }
	}

	exiting := s.holderOf(0)
	w.tell(exiting, "exit 7")
	died := s.next(slack, "the child that exits 7 dead", s.kind("death", exiting))
	started := s.next(testRetry+slack, "slot 0 taken after the exit", fromSlot(0))
	if code := runners[exiting].wait(t, slack); code != 7 {
		t.Errorf("%s exited %d; want its child's 7", exiting, code)
	}
	t.Logf("slot 0 taken %v after the child exited", started.at.Sub(died.at))

	stopped := s.holderOf(1)
	sent := runners[stopped].signal(t, syscall.SIGTERM)
	died = s.next(testGrace+slack, "the SIGTERMed holder's child dead", s.kind("death", stopped))
	started = s.next(testRetry+slack, "slot 1 taken after the SIGTERM", fromSlot(1))
	if code := runners[stopped].wait(t, slack); code != 128+int(syscall.SIGTERM) {
		t.Errorf("%s exited %d after SIGTERM; want %d", stopped, code, 128+int(syscall.SIGTERM))
	}
	t.Logf("slot 1: child died %v after SIGTERM; the next started %v after that", died.at.Sub(sent), started.at.Sub(died.at))

	// Nobody waits now; a fifth runner does, until SIGTERM.
	r5 := w.runner("r5", s.opts)
	eventually(t, 10*time.Second, "r5 waiting", func() bool { return strings.Contains(r5.output(), "waiting for one of") })
	r5.signal(t, syscall.SIGTERM)
	if code := r5.wait(t, slack); code != 128+int(syscall.SIGTERM) {
		t.Errorf("waiting runner exited %d after SIGTERM; want %d", code, 128+int(syscall.SIGTERM))
	}
	// --timeout while both slots are held: exit 65 once it runs out.
	const timeout = time.Second
	o := s.opts
	o.flags = append(o.flags[:len(o.flags):len(o.flags)], "--timeout", timeout.String())
	r6 := w.runner("r6", o)
	code := r6.wait(t, timeout+slack)
	if took := time.Since(r6.start); code != exitTimeout || took < timeout {
		t.Errorf("runner with --timeout %v exited %d after %v; want %d once it ran out", timeout, code, took, exitTimeout)
	}
	if s.most != 2 {
		t.Errorf("at most %d children alive at once; want 2", s.most)
	}
}

// The guarantee per slot: a holder cut off from the server (a proxy that
// swallows everything), whose child ignores SIGTERM, kills that child
// before the server's expiry of its slot's lease, and a waiting runner
// then takes the slot.
func TestLockSlotsCutNetwork(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	s := newSlotWatch(w, 2)
	px := newProxy(t, w.addr)
	o := s.opts
	o.addr, o.env = px.addr(), append(o.env[:len(o.env):len(o.env)], "QQT_IGNORE_TERM=1")
	r1 := w.runner("r1", o)
	first := s.next(10*time.Second, "r1's child running", s.kind("start", "r1"))
	slot := s.live["r1"]
	w.runner("r2", s.opts)
	s.next(10*time.Second, "r2's child running", s.kind("start", "r2"))
	r3 := w.runner("r3", s.opts)
	eventually(t, 10*time.Second, "r3 waiting", func() bool { return strings.Contains(r3.output(), "waiting for one of") })
	px.silence()
	died := s.next(testTTL+slack, "r1's child dead", s.kind("death", "r1"))
	started := s.next(testTTL+testRetry+slack, "r1's slot taken", s.kind("start", "r3"))
	old, next := slotTenures(t, w.srv, slot, "r1")
	// The lease's local deadline D comes TTL − U before the server's
	// expiry at the latest (the server counts from receiving the renewal,
	// D from sending it): the child must be dead by D, not merely by the
	// expiry, which the end of leadership alone would meet.
	cfg, err := parseLock([]string{"--addr", "h:1", "--ttl", testTTL.String(), "--retry", testRetry.String(), "--", "x"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if margin := testTTL - cfg.timing.UsableLease; old.End.Sub(died.at) < margin {
		t.Errorf("r1's child died %v before the server's expiry of its slot's lease; want at least TTL − usable lease = %v (dead by the local deadline)",
			old.End.Sub(died.at), margin)
	}
	if next.ClientID != "r3" || s.live["r3"] != slot {
		t.Errorf("slot %d went to %s, r3's child runs in slot %d", slot, next.ClientID, s.live["r3"])
	}
	if code := r1.wait(t, 2*testTTL); code != exitLost {
		t.Errorf("cut-off runner exited %d; want %d (leadership lost)", code, exitLost)
	}
	if out := r1.output(); !strings.Contains(out, "SIGKILL to the child") || strings.Contains(out, "WARNING") {
		t.Errorf("the runner did not SIGKILL the child that ignores SIGTERM, or reaped it late:\n%s", out)
	}
	t.Logf("slot %d: r1's child (started %s) died %v before the server's expiry; r3's started %v after the death",
		slot, first.at.Format("15:04:05.000"), old.End.Sub(died.at), started.at.Sub(died.at))
}

// A runner of `lock -n 2` that cannot reach the server gives up with 67
// once --unreachable has passed, naming the error.
func TestLockSlotsUnreachableServer(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	checkUnreachable(t, w, newSlotWatch(w, 2).opts)
}

// GET /leader and /healthz under -n 2: each holder answers 200 with its
// slot and that slot's lock, a waiting runner 503 with slot -1; SIGHUP to
// a holder reaches its child.
func TestLockSlotsHTTPAndSignals(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	s := newSlotWatch(w, 2)
	addrs, procs := map[string]string{}, map[string]*proc{}
	for i := 1; i <= 3; i++ {
		id := fmt.Sprintf("r%d", i)
		addrs[id] = "127.0.0.1:" + strconv.Itoa(freePort(t))
		o := s.opts
		o.flags = append(o.flags[:len(o.flags):len(o.flags)], "--http", addrs[id])
		procs[id] = w.runner(id, o)
	}
	for len(s.live) < 2 {
		s.next(10*time.Second, "2 children running", s.kind("start", ""))
	}
	for id, addr := range addrs {
		var st leaderStatus
		var code int
		eventually(t, 5*time.Second, "/leader of "+id, func() bool {
			resp, err := http.Get("http://" + addr + "/leader")
			if err != nil {
				return false
			}
			defer resp.Body.Close()
			code = resp.StatusCode
			return json.NewDecoder(resp.Body).Decode(&st) == nil
		})
		slot, holding := s.live[id]
		if !holding {
			slot = -1
		}
		wantCode, wantDomain := http.StatusServiceUnavailable, testDomain
		if holding {
			wantCode, wantDomain = http.StatusOK, testDomain+"/"+strconv.Itoa(slot)
		}
		if code != wantCode || st.Leader != holding || st.ClientID != id || st.Slot == nil || *st.Slot != slot || st.Domain != wantDomain {
			t.Errorf("/leader of %s: %d %+v (slot %v); want %d, leader %v, slot %d, domain %s", id, code, st, st.Slot, wantCode, holding, slot, wantDomain)
		}
		if holding && (st.RemainingLeaseMS <= 0 || st.RemainingLeaseMS > testTTL.Milliseconds()) {
			t.Errorf("/leader of %s: remaining_lease_ms %d; want in (0, %d]", id, st.RemainingLeaseMS, testTTL.Milliseconds())
		}
		resp, err := http.Get("http://" + addr + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("/healthz of %s: %d; want 200", id, resp.StatusCode)
		}
	}
	holder := s.holderOf(0)
	procs[holder].signal(t, syscall.SIGHUP)
	if e := s.next(slack, "SIGHUP at the child", s.kind("signal", holder)); !strings.HasSuffix(e.text, "hangup") {
		t.Errorf("child got %q; want SIGHUP", e.text)
	}
}

// --restart under -n 2: a child that exits by itself hands its slot to the
// waiting runner (its own runner stands aside a retry interval), and its
// runner stays, waiting for a slot again, until signalled.
func TestLockSlotsRestart(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	s := newSlotWatch(w, 2)
	runners := slotRunners(t, w, s, 3, "--restart")
	first := s.holderOf(0)
	w.tell(first, "exit 0")
	s.next(slack, "the exiting child dead", s.kind("death", first))
	next := s.next(testRetry+slack, "slot 0 taken", func(e event) bool { return e.kind == "start" && s.live[e.id] == 0 })
	if next.id == first {
		t.Errorf("%s ran the command again at once; want the waiting runner first", first)
	}
	eventually(t, 5*time.Second, first+" waiting again", func() bool {
		return strings.Count(runners[first].output(), "to campaign again") == 1
	})
	runners[first].signal(t, syscall.SIGTERM)
	if code := runners[first].wait(t, slack); code != 128+int(syscall.SIGTERM) {
		t.Errorf("%s exited %d after SIGTERM while waiting again; want %d", first, code, 128+int(syscall.SIGTERM))
	}
}
