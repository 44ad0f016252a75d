package client

import (
	"sync/atomic"
	"time"
)

// snapshot is what the machine publishes after every transition, for
// readers that take no lock.
type snapshot struct {
	state    State
	deadline time.Time // the lease's local end, while leading
}

// published is the latest snapshot behind an atomic pointer: one
// allocation per transition, which no figure users feel can see.
type published struct {
	p atomic.Pointer[snapshot]
}

func (p *published) init(s snapshot) { p.Store(s) }

// Store publishes s; one goroutine at a time may store.
func (p *published) Store(s snapshot) { p.p.Store(&s) }

func (p *published) Load() snapshot { return *p.p.Load() }
