package client

import (
	"fmt"
	"log/slog"
	"sync"
)

// hookRunner hands transitions to one hook on a goroutine of its own, in
// order, through a queue without bound: push never blocks, so the machine's
// owner can never be stalled by a slow hook, and nothing is dropped. A
// panic in the hook is recovered and logged.
//
// The goroutine runs only while there are transitions to deliver, so an
// idle election costs no goroutine here (see docs/performance.md).
type hookRunner struct {
	hook   func(Transition)
	logger *slog.Logger

	mu      sync.Mutex
	queue   []Transition
	running bool
	idle    sync.WaitGroup // done while no goroutine runs
}

// newHookRunner returns the runner of hook; its goroutine starts with the
// first transition pushed.
func newHookRunner(hook func(Transition), logger *slog.Logger) *hookRunner {
	return &hookRunner{hook: hook, logger: logger}
}

// push queues t, starting the goroutine if it is not running; it never
// blocks.
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

// wait returns once every transition pushed so far has been delivered and
// the goroutine has exited. Callers must stop pushing first.
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
