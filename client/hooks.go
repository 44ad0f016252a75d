package client

import (
	"fmt"
	"log/slog"
	"sync"
)

// hookRunner delivers transitions to one hook on its own goroutine, through
// a queue without bound: the machine's goroutine only appends, so a slow
// hook delays nothing but itself, and nothing is dropped.
type hookRunner struct {
	hook   func(Transition)
	logger *slog.Logger

	mu      sync.Mutex
	queue   []Transition
	closing bool
	wake    chan struct{} // buffered 1: "the queue changed"
	done    chan struct{}
}

func startHook(hook func(Transition), logger *slog.Logger) *hookRunner {
	h := &hookRunner{hook: hook, logger: logger, wake: make(chan struct{}, 1), done: make(chan struct{})}
	go h.run()
	return h
}

// deliver queues t; it never blocks.
func (h *hookRunner) deliver(t Transition) {
	h.mu.Lock()
	h.queue = append(h.queue, t)
	h.mu.Unlock()
	h.signal()
}

// finish lets the runner exit once its queue is empty, and waits for it.
func (h *hookRunner) finish() {
	h.mu.Lock()
	h.closing = true
	h.mu.Unlock()
	h.signal()
	<-h.done
}

func (h *hookRunner) signal() {
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

func (h *hookRunner) run() {
	defer close(h.done)
	for {
		h.mu.Lock()
		batch, closing := h.queue, h.closing
		h.queue = nil
		h.mu.Unlock()
		for _, t := range batch {
			h.call(t)
		}
		if len(batch) == 0 {
			if closing {
				return
			}
			<-h.wake
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
