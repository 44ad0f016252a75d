package main

import (
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/quorum-quest/client-go/qqtest"
)

// lead is one replica's ownership of one shard, as its lead function saw
// it; end is zero while it lasts.
type lead struct {
	replica    string
	start, end time.Time
}

// recorder collects the leads every replica reports.
type recorder struct {
	mu    sync.Mutex
	leads map[int][]*lead
}

func (r *recorder) event(replica string, shard int, started bool, at time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if started {
		r.leads[shard] = append(r.leads[shard], &lead{replica: replica, start: at})
		return
	}
	ls := r.leads[shard]
	for k := len(ls) - 1; k >= 0; k-- {
		if ls[k].replica == replica && ls[k].end.IsZero() {
			ls[k].end = at
			return
		}
	}
}

// killed ends every lead of replica at at: its process is dead.
func (r *recorder) killed(replica string, at time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, ls := range r.leads {
		for _, l := range ls {
			if l.replica == replica && l.end.IsZero() {
				l.end = at
			}
		}
	}
}

// check judges the leads once every replica has stopped: no two replicas
// ever led one shard at once, and every lead lies inside a tenure the
// server granted that replica for that shard. It returns how many leads
// it judged.
func (r *recorder) check(history []qqtest.Tenure) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	type key struct{ domain, client string }
	tenures := map[key][]qqtest.Tenure{}
	for _, t := range history {
		k := key{t.Domain, t.ClientID}
		tenures[k] = append(tenures[k], t)
	}
	n := 0
	for i, ls := range r.leads {
		for a, x := range ls {
			n++
			if x.end.IsZero() {
				return n, fmt.Errorf("shard %d: %s's lead from %v never ended", i, x.replica, x.start)
			}
			for _, y := range ls[a+1:] {
				if x.replica != y.replica && x.start.Before(y.end) && y.start.Before(x.end) {
					return n, fmt.Errorf("shard %d: %s (%v to %v) and %s (%v to %v) led at once", i,
						x.replica, x.start, x.end, y.replica, y.start, y.end)
				}
			}
			inside := slices.ContainsFunc(tenures[key{domain + "/" + strconv.Itoa(i), x.replica}], func(t qqtest.Tenure) bool {
				return !x.start.Before(t.Start) && !x.end.After(t.End)
			})
			if !inside {
				return n, fmt.Errorf("shard %d: %s led from %v to %v outside any tenure the server granted it", i, x.replica, x.start, x.end)
			}
		}
	}
	return n, nil
}

// move is a shard passing from one replica to another: the previous
// lead's end and the next one's start.
type move struct {
	shard          int
	from, to       string
	ended, started time.Time
}

func (m move) gap() time.Duration { return m.started.Sub(m.ended) }

// moves returns, longest gap first, every move whose previous lead ended
// after since.
func (r *recorder) moves(since time.Time) []move {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []move
	for i, ls := range r.leads {
		for a := 1; a < len(ls); a++ {
			prev, next := ls[a-1], ls[a]
			if prev.end.IsZero() || prev.end.Before(since) || prev.replica == next.replica {
				continue
			}
			out = append(out, move{i, prev.replica, next.replica, prev.end, next.start})
		}
	}
	slices.SortFunc(out, func(a, b move) int { return int(b.gap() - a.gap()) })
	return out
}

// holders counts the shards each client holds now, by the server, and the
// shards nobody holds.
func holders(srv *qqtest.Server, shards int) (map[string]int, int) {
	held := map[string]int{}
	free := 0
	for i := range shards {
		if id, ok := srv.Holder(service, domain+"/"+strconv.Itoa(i)); ok {
			held[id]++
		} else {
			free++
		}
	}
	return held, free
}

// balanced reports whether, by the server, every shard is held and each
// of live holds ⌊M/N⌋ or ⌈M/N⌉ of them.
func balanced(held map[string]int, free, shards int, live []string) bool {
	if free > 0 {
		return false
	}
	lo := shards / len(live)
	hi := (shards + len(live) - 1) / len(live)
	for _, id := range live {
		if held[id] < lo || held[id] > hi {
			return false
		}
	}
	return true
}

// waitFor polls the server every 100 ms until ok holds or limit passes,
// and returns how long it took from since. It prints who holds what every
// second meanwhile.
func waitFor(srv *qqtest.Server, shards int, since time.Time, limit time.Duration, ok func(map[string]int, int) bool) (time.Duration, error) {
	last := time.Now()
	for {
		held, free := holders(srv, shards)
		if ok(held, free) {
			return time.Since(since), nil
		}
		if time.Since(since) > limit {
			return 0, fmt.Errorf("not reached within %v: held %v, %d free", limit, held, free)
		}
		if time.Since(last) >= time.Second {
			last = time.Now()
			progress("  %v: held %v, %d free", time.Since(since).Round(100*time.Millisecond), held, free)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// ledButNotNow counts the shards replica led at some time and leads no
// more.
func (r *recorder) ledButNotNow(replica string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, ls := range r.leads {
		led, now := false, false
		for _, l := range ls {
			if l.replica == replica {
				led = true
				now = now || l.end.IsZero()
			}
		}
		if led && !now {
			n++
		}
	}
	return n
}
