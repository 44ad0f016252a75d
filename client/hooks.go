package client

import (
	"fmt"
	"log/slog"
	"sync"
)

// hookRunner hands transitions to one hook, in order, on a goroutine that
// runs only while there are some to deliver. Its queue has no bound: a slow
// hook never stalls the machine, and nothing is dropped.
type hookRunner struct {
	hook   func(Transition)
	logger *slog.Logger

	mu      sync.Mutex
	queue   []Transition
	running bool
	idle    sync.WaitGroup // done while no goroutine runs
}

func newHookRunner(hook func(Transition), logger *slog.Logger) *hookRunner {
	return &hookRunner{hook: hook, logger: logger}
}

func (h *hookRunner) push(t Transition) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.queue = append(h.queue, t)
	if !h.running {
		h.running = true
		h.idle.Add(1)
		go h.run()
	}
}

// wait returns once everything pushed has been delivered; stop pushing first.
func (h *hookRunner) wait() { h.idle.Wait() }

func (h *hookRunner) run() {
	defer h.idle.Done()
	for {
		h.mu.Lock()
		batch := h.queue
		h.queue = nil
		if len(batch) == 0 {
			h.running = false
			h.mu.Unlock()
			return
		}
		h.mu.Unlock()
		for _, t := range batch {
			h.call(t)
		}
	}
}

func (h *hookRunner) call(t Transition) {
	defer func() {
		if r := recover(); r != nil {
			h.logger.Error("quorumquest: transition hook panicked", "from", t.From, "to", t.To, "panic", fmt.Sprint(r))
		}
	}()
	h.hook(t)
}
