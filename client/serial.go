package client

import "sync"

// serial hands items to a goroutine of its own, one at a time and in order,
// through a queue without bound: push never blocks, so the machine's owner
// can never be stalled by whoever consumes the items. Each transition hook
// runs on one.
//
// The goroutine runs only while there are items: an idle election then
// costs no goroutine and no stack here (see docs/performance.md).
type serial[T any] struct {
	consume func(T)

	mu      sync.Mutex
	queue   []T
	running bool
	idle    sync.WaitGroup // done while no goroutine runs
}

func newSerial[T any](consume func(T)) *serial[T] {
	return &serial[T]{consume: consume}
}

// push queues an item, starting the goroutine if it is not running; it
// never blocks.
func (s *serial[T]) push(item T) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.queue = append(s.queue, item)
	if !s.running {
		s.running = true
		s.idle.Add(1)
		go s.run()
	}
}

// wait returns once every item pushed so far has been consumed and the
// goroutine has exited. Callers must stop pushing first.
func (s *serial[T]) wait() { s.idle.Wait() }

func (s *serial[T]) run() {
	defer s.idle.Done()
	for {
		s.mu.Lock()
		batch := s.queue
		s.queue = nil
		if len(batch) == 0 {
			s.running = false
			s.mu.Unlock()
			return
		}
		s.mu.Unlock()
		for _, item := range batch {
			s.consume(item)
		}
	}
}
