package client

import (
	"sync/atomic"
	"time"
)

// snapshot is what the election publishes after every transition: readers
// never touch the machine.
type snapshot struct {
	state    State
	deadline time.Time // local end of the lease; meaningful while leading
}

// published holds the latest snapshot behind an atomic pointer: one
// allocation per transition, which no user-level figure can see.
type published struct {
	p atomic.Pointer[snapshot]
}

// init publishes s; it must come before any other use.
func (p *published) init(s snapshot) { p.Store(s) }

// Store publishes s. Only one goroutine at a time may store.
func (p *published) Store(s snapshot) { p.p.Store(&s) }

// Load returns the latest snapshot.
func (p *published) Load() snapshot { return *p.p.Load() }
