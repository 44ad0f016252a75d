package checker

import (
	"time"

	"github.com/quorum-quest/client-go/internal/testutil"
)

// fleetSpan is a fleet episode as played: servers struck from from until
// to (zero while it lasts).
type fleetSpan struct {
	from, to time.Time
	servers  int
}

// playFleet sets the fleet mode up: the fleet over the store, and every
// candidate dialling its balancer.
func (r *netRun) playFleet(newCandidate NewNetCandidate) Report {
	f, err := testutil.NewFleet(r.store, r.ncfg.Servers, r.ncfg.Rotation)
	if err != nil {
		r.violate("setup", "starting the fleet: %v", err)
		return r.report()
	}
	r.fleet = f
	defer f.Close()
	if !r.buildAll(newCandidate, func(int) (string, error) { return f.Addr(), nil }) {
		return r.report()
	}
	return r.playSchedule()
}

// struckBy returns the servers episode e strikes.
func (r *netRun) struckBy(e netEpisode) []int {
	out := make([]int, e.servers)
	for k := range out {
		out[k] = (e.target + k) % r.ncfg.Servers
	}
	return out
}

// beginFleet starts the fleet episode e on each server it strikes.
func (r *netRun) beginFleet(e netEpisode) {
	r.lmu.Lock()
	r.struck = append(r.struck, fleetSpan{from: time.Now(), servers: e.servers})
	r.lmu.Unlock()
	for _, i := range r.struckBy(e) {
		var err error
		switch e.kind {
		case NetReset:
			r.count(func(c *FaultCounts) { c.ConnResets++ })
			err = r.fleet.Reset(i)
		case NetSilent:
			r.count(func(c *FaultCounts) { c.ConnSilences++ })
			err = r.fleet.Silence(i)
		case NetRestart:
			r.count(func(c *FaultCounts) { c.ServerRestarts++ })
			err = r.fleet.Stop(i)
		case NetKill:
			r.count(func(c *FaultCounts) { c.ServerKills++ })
			err = r.fleet.Kill(i)
		}
		if err != nil {
			r.violate("setup", "server %d: %v", i, err)
		}
	}
}

// endFleet heals the servers episode e struck.
func (r *netRun) endFleet(e netEpisode) {
	for _, i := range r.struckBy(e) {
		if err := r.fleet.Heal(i); err != nil {
			r.violate("setup", "healing server %d: %v", i, err)
		}
	}
	r.lmu.Lock()
	if n := len(r.struck); n > 0 && r.struck[n-1].to.IsZero() {
		r.struck[n-1].to = time.Now()
	}
	r.lmu.Unlock()
}

// healFleet heals every server (the episodes already did).
func (r *netRun) healFleet() {
	for i := range r.fleet.Size() {
		if err := r.fleet.Heal(i); err != nil {
			r.violate("setup", "healing server %d: %v", i, err)
		}
	}
}

// majorityDown reports whether a majority of the fleet was struck at some
// instant in [from, to].
func (r *netRun) majorityDown(from, to time.Time) bool {
	r.lmu.Lock()
	defer r.lmu.Unlock()
	for _, s := range r.struck {
		end := s.to
		if end.IsZero() {
			end = to
		}
		// Episodes never overlap, so one span is the whole of the fleet's
		// faults at its instants.
		if 2*(r.ncfg.Servers-s.servers) <= r.ncfg.Servers && !s.from.After(to) && !end.Before(from) {
			return true
		}
	}
	return false
}

// judgeStability checks (f), the fleet mode's: a candidate that led at
// one sample and not at the next had handed over (its lead function
// returned on its own) within the TTL before, or a majority of the fleet
// was down then, or the process was starved then; otherwise it is an
// unforced loss, counted, and a violation under StableLeadership.
func (r *netRun) judgeStability() {
	var unforced, forced int
	var prev []int
	for _, s := range r.samples {
		for _, l := range prev {
			from := s.at.Add(-r.ncfg.TTL)
			if containsInt(s.claimers, l) || r.handedOver(l, from, s.at) {
				continue
			}
			if r.majorityDown(from, s.at) {
				forced++
				continue
			}
			if _, pause := r.starvedIn(from, s.at); pause >= StarvationExcuse {
				r.excuse("f", "%s stopped leading at %v after a pause of the process of %v", r.incs[l].id, r.at(s.at), pause)
				continue
			}
			unforced++
			if r.ncfg.StableLeadership {
				r.violate("f", "%s stopped leading at %v while a majority of the fleet was up and it had not handed over", r.incs[l].id, r.at(s.at))
			} else {
				r.logf("(f) %s stopped leading at %v while a majority of the fleet was up", r.incs[l].id, r.at(s.at))
			}
		}
		prev = s.claimers
	}
	r.mu.Lock()
	r.rep.UnforcedLosses, r.rep.ForcedLosses = unforced, forced
	r.mu.Unlock()
}

// handedOver reports whether candidate l's lead function chose to return
// in [from, to]: Run then releases, and l stops leading by its own will.
func (r *netRun) handedOver(l int, from, to time.Time) bool {
	r.lmu.Lock()
	defer r.lmu.Unlock()
	for _, at := range r.handovers[l] {
		if !at.Before(from) && !at.After(to) {
			return true
		}
	}
	return false
}

func containsInt(xs []int, x int) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}
