package shard

import (
	"context"
	"slices"
	"strconv"

	"github.com/quorum-quest/client-go/client"
)

// members keeps this replica's member slot and its view of the others'.
// Only Run's loop uses it.
type members struct {
	s      *Set
	slot   int // -1: not a member
	held   *client.QuorumQuestClient
	probes map[int]*client.QuorumQuestClient // per slot, under the probe ID
	// seen is the slots denied in the previous round: another replica's
	// probe holds a free slot for a round trip, so a slot counts as a
	// member only when denied in two rounds running.
	seen map[int]bool
	// settled is false until the second round that reached the server,
	// and after a round that saw a slot denied for the first time: a
	// member the view does not count yet. A replica's first round counts
	// nobody else, and replicas started together may join after another's
	// first probes: assigning from such a view would make each campaign
	// for every shard at once.
	settled bool
	rounds  int
	ranks   [][]int // the assignment for the last view's length
}

func (m *members) slotLock(k int) string { return m.s.domain + "/members/" + strconv.Itoa(k) }

func (m *members) newClient(k int, id string) (*client.QuorumQuestClient, error) {
	return client.NewQuorumQuestClient(m.s.service, m.slotLock(k), m.s.ttl, "",
		append(slices.Clip(m.s.opts), client.WithClientID(id))...)
}

// take campaigns once for slot k under the replica's ID and keeps it
// renewing when granted.
func (m *members) take(ctx context.Context, k int) (*client.QuorumQuestClient, bool, error) {
	c, err := m.newClient(k, m.s.id)
	if err != nil {
		return nil, false, err
	}
	ok, err := c.TryAcquireLock(ctx)
	if ok {
		if kerr := c.StartKeepAlive(context.WithoutCancel(ctx)); kerr == nil {
			return c, true, nil
		}
	}
	_ = c.Close()
	return nil, false, err
}

// join takes the lowest free slot.
func (m *members) join(ctx context.Context) bool {
	for k := 0; ctx.Err() == nil; k++ {
		c, ok, err := m.take(ctx, k)
		if err != nil {
			return false
		}
		if ok {
			m.held, m.slot = c, k
			return true
		}
	}
	return false
}

// probe reports whether slot k is held by another member: a denied
// TryAcquireLock under the probe ID says so; a granted one is released at
// once.
func (m *members) probe(ctx context.Context, k int) (bool, error) {
	c := m.probes[k]
	if c == nil {
		var err error
		if c, err = m.newClient(k, m.s.id+"/probe"); err != nil {
			return false, err
		}
		m.probes[k] = c
	}
	ok, err := c.TryAcquireLock(ctx)
	if err != nil {
		// A later call would share a call still hung in this client:
		// probe with a new one next round.
		delete(m.probes, k)
		go func() { _ = c.Close() }()
		return false, err
	}
	if ok {
		return false, c.ReleaseLock(ctx)
	}
	return true, nil
}

// refresh makes sure this replica holds a slot, probes the others up to
// the first free slot above the slots it knows (the second while its view
// has not settled) and compacts: a member whose slot lies
// beyond the view's length moves into the hole its rank stands for, so that
// slots stay dense and joining stays cheap. ok is false when the server
// could not be asked; the caller keeps its shards as they are.
func (m *members) refresh(ctx context.Context) (view []int, ok bool) {
	if m.held != nil && !m.held.IsLeader() {
		_ = m.held.Close()
		m.held, m.slot = nil, -1
	}
	if m.held == nil && !m.join(ctx) {
		return nil, false
	}
	seen := map[int]bool{}
	defer func() {
		if ok {
			m.rounds++
			m.settled = m.rounds >= 2
			for k := range seen {
				m.settled = m.settled && m.seen[k]
			}
			m.seen = seen
		}
	}()
	// Probing stops at the first free slot above its own and above every
	// slot held in the last round; until the view settles, at the second
	// free slot in a row. A joiner denied a free slot that a probe held
	// for a round trip takes the next one, beyond a gap, until it
	// compacts: a view that stopped at the gap would settle without it and
	// claim its shards. Once seen, it is probed for as long as it is held.
	stopAt, beyond := 1, -1
	if !m.settled {
		stopAt = 2
	}
	for k := range m.seen {
		beyond = max(beyond, k)
	}
	for k, freeAbove := 0, 0; k <= m.slot || k <= beyond || freeAbove < stopAt; k++ {
		if k == m.slot {
			view = append(view, k)
			continue
		}
		held, err := m.probe(ctx, k)
		if err != nil {
			return nil, false
		}
		switch {
		case held:
			seen[k] = true
			if m.seen[k] {
				view = append(view, k)
			}
			freeAbove = 0
		case k > m.slot:
			freeAbove++
		}
	}
	if r := rank(view, m.slot); r != m.slot {
		if c, got, _ := m.take(ctx, r); got {
			_ = m.held.ReleaseLock(ctx)
			_ = m.held.Close()
			m.held = c
			view[slices.Index(view, m.slot)] = r
			m.slot = r
			slices.Sort(view)
		}
	}
	return view, true
}

// rank is slot's place in view: its own number when below len(view), else
// the hole below len(view) that compaction will move it into, so that a
// compaction changes nobody's rank.
func rank(view []int, slot int) int {
	n := len(view)
	if slot < n {
		return slot
	}
	var holes []int
	for k := 0; k < n; k++ {
		if _, found := slices.BinarySearch(view, k); !found {
			holes = append(holes, k)
		}
	}
	high := 0
	for _, v := range view {
		if v >= n {
			if v == slot {
				return holes[high]
			}
			high++
		}
	}
	return -1
}

// assigned is the shards this replica should own for view: its rank's in
// the assignment for the view's length, at most maxOwned of them.
func (m *members) assigned(view []int) []int {
	r := rank(view, m.slot)
	if r < 0 {
		return nil
	}
	if m.ranks == nil || len(m.ranks) != len(view) {
		m.ranks = assignment(m.s.shards, len(view))
	}
	out := m.ranks[r]
	if m.s.maxOwned > 0 && len(out) > m.s.maxOwned {
		out = out[:m.s.maxOwned]
	}
	return out
}

// close gives up the slot and closes the probes.
func (m *members) close() {
	if m.held != nil {
		_ = m.held.Close()
	}
	for _, c := range m.probes {
		_ = c.Close()
	}
}
