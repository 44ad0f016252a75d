package client

import "sync"

// serial hands items to one goroutine of its own, in order, through a queue
// without bound: push never blocks, so the loop can never be stalled by
// whoever consumes the items. Hooks and calls to the server both run on
// one.
type serial[T any] struct {
	consume func(T)

	mu      sync.Mutex
	queue   []T
	closing bool
	wake    chan struct{} // buffered 1: "the queue changed"
	done    chan struct{}
}

func startSerial[T any](consume func(T)) *serial[T] {
	s := &serial[T]{consume: consume, wake: make(chan struct{}, 1), done: make(chan struct{})}
	go s.run()
	return s
}

// push queues an item; it never blocks.
func (s *serial[T]) push(item T) {
	s.mu.Lock()
	s.queue = append(s.queue, item)
	s.mu.Unlock()
	s.signal()
}

// finish lets the goroutine exit once the queue is empty, and waits for it.
func (s *serial[T]) finish() {
	s.mu.Lock()
	s.closing = true
	s.mu.Unlock()
	s.signal()
	<-s.done
}

func (s *serial[T]) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *serial[T]) run() {
	defer close(s.done)
	for {
		s.mu.Lock()
		batch, closing := s.queue, s.closing
		s.queue = nil
		s.mu.Unlock()
		for _, item := range batch {
			s.consume(item)
		}
		if len(batch) == 0 {
			if closing {
				return
			}
			<-s.wake
		}
	}
}
