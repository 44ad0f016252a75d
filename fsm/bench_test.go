package fsm

import "testing"

// BenchmarkFire is what the machine costs per call the client makes: two
// transitions (leader -> refreshing -> leader). It allocates nothing: Fire
// drives looplab/fsm through Can and SetState, not Event
// (docs/performance.md).
func BenchmarkFire(b *testing.B) {
	m := New()
	for _, e := range []Event{Acquire, Granted} {
		if _, err := m.Fire(e, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Fire(Acquire, nil); err != nil {
			b.Fatal(err)
		}
		if _, err := m.Fire(Granted, nil); err != nil {
			b.Fatal(err)
		}
	}
}
