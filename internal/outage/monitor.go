package outage

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/quorum-quest/client-go/qqtest"
)

// sampleEvery is how often the monitor asks every candidate IsLeader. It
// is the resolution of the recovery figures.
const sampleEvery = time.Millisecond

// gapWorthNoting is a pause of the monitor long enough to say the process
// was starved of CPU: it asks for a sample every millisecond.
const gapWorthNoting = 100 * time.Millisecond

// errNoLeader is returned when no candidate leads within the limit.
var errNoLeader = errors.New("no candidate led")

// run is a stretch of time during which a candidate reported leadership
// at every sample. The first true reading happened between from and
// firstAfter, the last between lastBefore and to.
type run struct {
	id               string
	from, firstAfter time.Time
	lastBefore, to   time.Time
	// ongoing is set for a run still going when the monitor stopped.
	ongoing bool
}

// monitor samples every candidate's IsLeader and keeps the runs of true.
type monitor struct {
	cands []*candidate
	quit  chan struct{}
	done  chan struct{}
	once  sync.Once

	mu      sync.Mutex
	gaps    []run // stretches longer than gapWorthNoting between samples (id unused)
	closed  []run
	open    map[string]*run
	changed chan struct{} // closed and replaced when a run opens
}

func startMonitor(cands []*candidate) *monitor {
	m := &monitor{cands: cands, quit: make(chan struct{}), done: make(chan struct{}), open: map[string]*run{}, changed: make(chan struct{})}
	go m.loop()
	return m
}

func (m *monitor) loop() {
	defer close(m.done)
	tick := time.NewTicker(sampleEvery)
	defer tick.Stop()
	var last time.Time
	for {
		if now := time.Now(); !last.IsZero() && now.Sub(last) > gapWorthNoting {
			m.mu.Lock()
			m.gaps = append(m.gaps, run{from: last, to: now})
			m.mu.Unlock()
		}
		last = time.Now()
		for _, c := range m.cands {
			before := time.Now()
			leading := c.q.IsLeader()
			after := time.Now()
			m.record(c.id, leading, before, after)
		}
		select {
		case <-tick.C:
		case <-m.quit:
			m.mu.Lock()
			for id, r := range m.open {
				r.ongoing = true
				m.closed = append(m.closed, *r)
				delete(m.open, id)
			}
			m.mu.Unlock()
			return
		}
	}
}

func (m *monitor) record(id string, leading bool, before, after time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r := m.open[id]
	switch {
	case leading && r == nil:
		m.open[id] = &run{id: id, from: before, firstAfter: after, lastBefore: before, to: after}
		close(m.changed)
		m.changed = make(chan struct{})
	case leading:
		r.lastBefore, r.to = before, after
	case r != nil:
		m.closed = append(m.closed, *r)
		delete(m.open, id)
	}
}

func (m *monitor) stop() {
	m.once.Do(func() { close(m.quit) })
	<-m.done
}

// waitLeader waits until some candidate's run started at or after since,
// for at most limit, and returns the first such candidate and when.
func (m *monitor) waitLeader(ctx context.Context, since time.Time, limit time.Duration) (string, time.Time, error) {
	deadline := time.NewTimer(limit)
	defer deadline.Stop()
	for {
		m.mu.Lock()
		var first *run
		for _, r := range m.open {
			if !r.from.Before(since) && (first == nil || r.from.Before(first.from)) {
				first = r
			}
		}
		changed := m.changed
		m.mu.Unlock()
		if first != nil {
			return first.id, first.from, nil
		}
		select {
		case <-changed:
		case <-deadline.C:
			return "", time.Time{}, fmt.Errorf("%w within %v", errNoLeader, limit)
		case <-ctx.Done():
			return "", time.Time{}, ctx.Err()
		}
	}
}

// runs returns every run, ordered by start. Call after stop.
func (m *monitor) runs() []run {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := append([]run(nil), m.closed...)
	sort.Slice(out, func(i, j int) bool { return out[i].from.Before(out[j].from) })
	return out
}

// longestGap returns the longest time the monitor went without sampling
// between from and to: how long the process may have been starved.
func (m *monitor) longestGap(from, to time.Time) time.Duration {
	m.mu.Lock()
	defer m.mu.Unlock()
	var longest time.Duration
	for _, g := range m.gaps {
		if g.to.After(from) && g.from.Before(to) {
			longest = max(longest, g.to.Sub(g.from))
		}
	}
	return longest
}

// moves describes every run that started or ended between from and to,
// other than the one starting at from: leadership that did not stay put.
func (m *monitor) moves(from, to time.Time) []string {
	var out []string
	for _, r := range m.runs() {
		switch {
		case r.from.Equal(from):
			if !r.ongoing && r.to.Before(to) {
				out = append(out, fmt.Sprintf("%s stopped leading %v after it started", r.id, r.to.Sub(from)))
			}
		case r.from.After(from) && r.from.Before(to):
			out = append(out, fmt.Sprintf("%s led %v after the first leader", r.id, r.from.Sub(from)))
		}
	}
	return out
}

// check compares the server's record with what the candidates reported:
// no two tenures overlap, and every run of leadership lies inside a
// tenure of that candidate.
func check(history []qqtest.Tenure, runs []run) []string {
	var out []string
	for i := 1; i < len(history); i++ {
		if prev, cur := history[i-1], history[i]; cur.Start.Before(prev.End) {
			out = append(out, fmt.Sprintf("tenures overlap: %s until %v, %s from %v", prev.ClientID, prev.End, cur.ClientID, cur.Start))
		}
	}
	for _, r := range runs {
		if !covered(history, r) {
			out = append(out, fmt.Sprintf("%s reported leadership from %v to %v outside its tenures on the server", r.id, r.from.Format(time.StampMicro), r.to.Format(time.StampMicro)))
		}
	}
	return out
}

// covered reports whether one tenure of r.id holds every true sample of
// r: it began before the first was read and ended after the last was.
// (Two tenures in a row cannot hold a run between them: the lock lapsed
// in between, or was released, and the candidate reported leadership
// across.)
func covered(history []qqtest.Tenure, r run) bool {
	for _, t := range history {
		if t.ClientID == r.id && !t.Start.After(r.firstAfter) && !t.End.Before(r.lastBefore) {
			return true
		}
	}
	return false
}
