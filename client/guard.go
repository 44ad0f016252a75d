package client

import "sync"

// guard is the election's mutex: whoever holds it owns the machine, the
// calls, the keep-alive and the observers. unlock is the only way out, so
// that what was noted for the user's logger under it is always written,
// and never under it (a logger is user code and may block).
type guard struct {
	mu  sync.Mutex
	log logbook
}

func (g *guard) lock() { g.mu.Lock() }

func (g *guard) unlock() {
	entries := g.log.take()
	g.mu.Unlock()
	g.log.emit(entries)
}
