package main

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/quorum-quest/client-go/client"
	"github.com/quorum-quest/client-go/qqtest"
)

type config struct {
	shards               int
	ttl, window, timeout time.Duration
	baselines            bool
	heapProfile          string // prefix of the heap profiles the replicas write after the window and the rejoin
	killSlot             int    // the member slot whose holder is killed
}

type row struct{ what, figure, verdict string }

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "MISSED"
}

func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05.000")}, args...)...)
}

// run plays the scenario: three replicas start cold, hold steady for a
// window, one is killed, it comes back; then the baselines run alone.
func run(c config) error {
	if c.shards <= 0 || c.ttl <= 0 || c.window <= 0 {
		return errors.New("-shards, -ttl and -window must be positive")
	}
	timing, err := client.TimingFor(c.ttl)
	if err != nil {
		return err
	}
	retry := timing.RetryInterval
	progress("machine: %s/%s, %d CPUs, %s; %d shards, TTL %v, retry interval %v", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version(), c.shards, c.ttl, retry)
	deadline := time.AfterFunc(c.timeout, func() {
		fmt.Fprintf(os.Stderr, "shardbench: not done within -timeout %v\n", c.timeout)
		os.Exit(2)
	})
	defer deadline.Stop()

	srv := qqtest.NewUnstartedServer()
	if err := srv.Start(); err != nil {
		return err
	}
	defer srv.Close()
	rec := &recorder{leads: map[int][]*lead{}}
	var reps []*replica
	defer func() {
		for _, r := range reps {
			r.kill()
		}
	}()
	for k := range 3 {
		r, err := startReplica("r"+strconv.Itoa(k), srv.Addr(), c, rec)
		if err != nil {
			return err
		}
		reps = append(reps, r)
	}
	var rows []row
	bound := 3 * c.ttl
	limit := 2 * bound // how long to wait before giving up

	// Cold start.
	base := make([]memory, 3)
	for k, r := range reps {
		if base[k], err = r.memory(); err != nil {
			return err
		}
	}
	start := time.Now()
	for _, r := range reps {
		if err := r.run(); err != nil {
			return err
		}
	}
	live := []string{"r0", "r1", "r2"}
	isBalanced := func(ids []string) func(map[string]int, int) bool {
		return func(held map[string]int, free int) bool { return balanced(held, free, c.shards, ids) }
	}
	d, err := waitFor(srv, c.shards, start, limit, isBalanced(live))
	if err != nil {
		return fmt.Errorf("cold start: %w", err)
	}
	held, _ := holders(srv, c.shards)
	progress("balanced from a cold start after %v: %v", d, held)
	rows = append(rows, row{fmt.Sprintf("balanced from a cold start (3 replicas, by the server): <= 3 x TTL = %v", bound),
		fmt.Sprintf("%v (%d/%d/%d; the replicas' own Owned() just after: %s)", d.Round(time.Millisecond), held["r0"], held["r1"], held["r2"], believed(reps)), verdict(d <= bound)})

	// Steady state: let every renewal settle into its schedule, then CPU
	// and calls, then memory (its garbage collections outside the window).
	time.Sleep(timing.KeepAliveInterval)
	cpu0, err := cpuOf(reps)
	if err != nil {
		return err
	}
	calls0 := srv.Calls()
	time.Sleep(c.window)
	cpu1, err := cpuOf(reps)
	if err != nil {
		return err
	}
	calls1 := srv.Calls()
	mem := make([]memory, 3)
	for k, r := range reps {
		if mem[k], err = r.memory(); err != nil {
			return err
		}
	}
	if c.heapProfile != "" {
		for _, r := range reps {
			if _, err := r.ask("heap "+c.heapProfile+"."+r.id, "H"); err != nil {
				return err
			}
		}
	}
	cpu := cpu1 - cpu0
	perShardMinute := time.Duration(float64(cpu) / float64(c.shards) / c.window.Minutes())
	total := calls1.Total() - calls0.Total()
	renewals := calls1.KeepAlive - calls0.KeepAlive
	secs := c.window.Seconds()
	shardRenewals := float64(c.shards) * secs / timing.KeepAliveInterval.Seconds()
	progress("steady state over %v: %d calls (%+v), replicas' CPU %v", c.window, total, diff(calls0, calls1), cpu)
	rows = append(rows,
		row{"steady state: server calls <= 2 x renewals",
			fmt.Sprintf("%.1f calls/s against %.1f renewals/s (%.3fx; the shards' renewals alone at one per TTL/3: %.1f/s); TryAcquireLock %.1f/s, ReleaseLock %.1f/s",
				float64(total)/secs, float64(renewals)/secs, float64(total)/float64(renewals), shardRenewals/secs,
				float64(calls1.TryAcquireLock-calls0.TryAcquireLock)/secs, float64(calls1.ReleaseLock-calls0.ReleaseLock)/secs),
			verdict(total <= 2*renewals)},
		row{"CPU per shard-minute (the 3 replicas' user + system CPU / shards / minutes)",
			fmt.Sprintf("%.3f ms (%v over %v)", ms(perShardMinute), cpu.Round(time.Millisecond), c.window), ""},
	)
	steadyMem := map[string]memory{}
	for k := range reps {
		rows = append(rows, memRow(reps[k].id, base[k], mem[k]))
		steadyMem[reps[k].id] = mem[k]
	}

	// One replica killed: the holder of member slot c.killSlot. Below the
	// top slot, the top member then takes the dead one's rank and hands
	// over its own shards as well (docs/shards.md).
	victim := -1
	for k, r := range reps {
		if id, ok := srv.Holder(service, domain+"/members/"+strconv.Itoa(c.killSlot)); ok && id == r.id {
			victim = k
		}
	}
	if victim < 0 {
		return fmt.Errorf("nobody holds member slot %d", c.killSlot)
	}
	dead := reps[victim].id
	killedAt := reps[victim].kill()
	rec.killed(dead, killedAt)
	reps = slices.Delete(reps, victim, victim+1)
	live = []string{reps[0].id, reps[1].id}
	progress("%s, holder of member slot %d, killed", dead, c.killSlot)
	ownedAgain := 0 * time.Second
	if ownedAgain, err = waitFor(srv, c.shards, killedAt, limit, func(held map[string]int, free int) bool {
		return free == 0 && held[live[0]]+held[live[1]] == c.shards
	}); err != nil {
		return fmt.Errorf("after the kill: %w", err)
	}
	if d, err = waitFor(srv, c.shards, killedAt, limit, isBalanced(live)); err != nil {
		return fmt.Errorf("after the kill: %w", err)
	}
	held, _ = holders(srv, c.shards)
	progress("after the kill: all owned %v, balanced %v: %v", ownedAgain, d, held)
	rows = append(rows,
		row{fmt.Sprintf("%s (member slot %d of 0-2) SIGKILLed: every shard owned again within TTL + 2R = %v", dead, c.killSlot, c.ttl+2*retry),
			ownedAgain.Round(time.Millisecond).String(), verdict(ownedAgain <= c.ttl+2*retry)},
		row{fmt.Sprintf("balanced again (2 replicas) within 3 x TTL = %v", bound),
			fmt.Sprintf("%v (%d/%d)", d.Round(time.Millisecond), held[live[0]], held[live[1]]), verdict(d <= bound)})

	// It comes back, as a new process with a new ID.
	back, err := startReplica("r3", srv.Addr(), c, rec)
	if err != nil {
		return err
	}
	reps = append(reps, back)
	live = append(live, "r3")
	rejoined := time.Now()
	if err := back.run(); err != nil {
		return err
	}
	if d, err = waitFor(srv, c.shards, rejoined, limit, isBalanced(live)); err != nil {
		return fmt.Errorf("after the rejoin: %w", err)
	}
	held, _ = holders(srv, c.shards)
	time.Sleep(retry) // the last moves' leads reported
	moves := rec.moves(rejoined)
	progress("after the rejoin: balanced %v: %v; %s", d, held, gaps(moves))
	for _, m := range moves[:min(5, len(moves))] {
		progress("  shard %d from %s to %s: ended %v and started %v after the rejoin", m.shard, m.from, m.to,
			m.ended.Sub(rejoined).Round(time.Millisecond), m.started.Sub(rejoined).Round(time.Millisecond))
	}
	rows = append(rows,
		row{fmt.Sprintf("a replica comes back: balanced (3 replicas) within 3 x TTL = %v", bound),
			fmt.Sprintf("%v (%d/%d/%d; the replicas' own Owned() just after: %s)", d.Round(time.Millisecond), held[live[0]], held[live[1]], held["r3"], believed(reps)), verdict(d <= bound)},
		row{fmt.Sprintf("a moved shard without an owner: <= R + 2 RTT (%v + 2 RTT)", retry), gaps(moves), ""})
	for _, r := range reps[:2] {
		if c.heapProfile != "" {
			if _, err := r.ask("heap "+c.heapProfile+"."+r.id+".rejoined", "H"); err != nil {
				return err
			}
		}
		m, err := r.memory()
		if err != nil {
			return err
		}
		before := steadyMem[r.id]
		idle := rec.ledButNotNow(r.id)
		grew := m.heap + m.stacks - before.heap - before.stacks
		rows = append(rows, row{fmt.Sprintf("%s after the rejoin against before the kill: memory per shard it once owned and owns no more", r.id),
			fmt.Sprintf("heap + stacks %+.1f MiB over %d such shards: %.0f B each (owns %d now, %d before; heap %.1f MiB, RSS %.1f MiB)",
				mib(grew), idle, float64(grew)/float64(max(idle, 1)), m.owned, before.owned, mib(m.heap), mib(m.rss)), ""})
	}

	// Every replica stops and releases; then judge ownership.
	for _, r := range reps {
		if err := r.stop(); err != nil {
			return fmt.Errorf("replica %s: %w", r.id, err)
		}
	}
	reps = nil
	n, err := rec.check(srv.History())
	rows = append(rows, row{"never two owners: leads of one shard by two replicas never overlap, and each lies in a tenure the server granted",
		fmt.Sprintf("%d leads judged against %d tenures; %v", n, len(srv.History()), errOrNone(err)), verdict(err == nil)})

	if c.baselines {
		progress("bare baseline")
		f, err := runChild("bare", srv.Addr(), c)
		if err != nil {
			return err
		}
		bare, _ := strconv.ParseInt(f[1], 10, 64)
		rows = append(rows, row{fmt.Sprintf("bare baseline: %d bare-stub elections renewing on the client's schedule, one process", c.shards),
			fmt.Sprintf("%.3f ms CPU per election-minute; shards / bare %.2f", ms(time.Duration(bare)), float64(perShardMinute)/float64(bare)), ""})
		progress("client baseline")
		f, err = runChild("clients", srv.Addr(), c)
		if err != nil {
			return err
		}
		cl, _ := strconv.ParseInt(f[1], 10, 64)
		bytes, _ := strconv.ParseFloat(f[2], 64)
		rows = append(rows, row{fmt.Sprintf("client baseline: %d client elections held, one process", c.shards),
			fmt.Sprintf("%.3f ms CPU per election-minute (shards / clients %.2f); %.1f KiB per held election (heap + stacks)",
				ms(time.Duration(cl)), float64(perShardMinute)/float64(cl), bytes/1024), ""})
	}
	fmt.Println("| what | figure | |")
	fmt.Println("|---|---|---|")
	for _, r := range rows {
		fmt.Printf("| %s | %s | %s |\n", r.what, r.figure, r.verdict)
	}
	return nil
}

func memRow(id string, base, m memory) row {
	per := func(v int64) float64 { return float64(v) / float64(m.owned) }
	heap, stacks := m.heap-base.heap, m.stacks-base.stacks
	return row{fmt.Sprintf("%s balanced: memory per owned shard (in use after GC, less before Run, / owned)", id),
		fmt.Sprintf("%.1f KiB: heap %.0f B + stacks %.0f B, %.2f goroutines, for %d shards; RSS %.1f KiB per shard (%.1f MiB in all)",
			per(heap+stacks)/1024, per(heap), per(stacks), per(int64(m.goroutines-base.goroutines)), m.owned, per(m.rss-base.rss)/1024, mib(m.rss)), ""}
}

// gaps summarises how long moved shards went without an owner.
func gaps(moves []move) string {
	if len(moves) == 0 {
		return "no shard moved"
	}
	at := func(q float64) time.Duration {
		return moves[int(float64(len(moves)-1)*(1-q))].gap().Round(time.Millisecond)
	}
	return fmt.Sprintf("%d moves: median %v, p99 %v, max %v", len(moves), at(0.5), at(0.99), at(1))
}

// believed is how many shards each replica says it owns, in order.
func believed(reps []*replica) string {
	var out []string
	for _, r := range reps {
		_, owned, err := r.stat()
		if err != nil {
			return err.Error()
		}
		out = append(out, strconv.Itoa(owned))
	}
	return strings.Join(out, "/")
}

func cpuOf(reps []*replica) (time.Duration, error) {
	var sum time.Duration
	for _, r := range reps {
		cpu, _, err := r.stat()
		if err != nil {
			return 0, err
		}
		sum += cpu
	}
	return sum, nil
}

func diff(a, b qqtest.CallCounts) qqtest.CallCounts {
	return qqtest.CallCounts{TryAcquireLock: b.TryAcquireLock - a.TryAcquireLock, KeepAlive: b.KeepAlive - a.KeepAlive, ReleaseLock: b.ReleaseLock - a.ReleaseLock}
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }

func mib(b int64) float64 { return float64(b) / (1 << 20) }

func errOrNone(err error) string {
	if err == nil {
		return "no violation"
	}
	return err.Error()
}
