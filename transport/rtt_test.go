package transport

import (
	"testing"
	"time"
)

// The hedge delay of docs/connections.md: C/4 until 16 answers, then
// clamp(3 × p99 of the last 128 round trips, C/50, C/4), recomputed every
// 16 answers.
func TestHedgeDelayDerivation(t *testing.T) {
	const silence = 5 * time.Second // floor 100 ms, cap 1.25 s
	r := newRTTs(silence)
	if r.delay != silence/4 {
		t.Fatalf("before any answer: %v, want the cap %v", r.delay, silence/4)
	}
	for range 15 {
		r.add(time.Millisecond)
	}
	if r.delay != silence/4 {
		t.Fatalf("after 15 answers: %v, want the cap until 16", r.delay)
	}
	r.add(time.Millisecond)
	if r.delay != silence/50 {
		t.Fatalf("16 answers of 1 ms: %v, want the floor %v", r.delay, silence/50)
	}

	// 100 samples of 40 ms and one of 60 ms among 112: p99 by nearest
	// rank is the 111th smallest (ceil(112 × 0.99)), 40 ms, so 120 ms.
	r = newRTTs(silence)
	for i := range 112 {
		d := 40 * time.Millisecond
		if i == 50 {
			d = 60 * time.Millisecond
		}
		r.add(d)
	}
	if want := 3 * 40 * time.Millisecond; r.delay != want {
		t.Fatalf("112 answers, one slow: %v, want 3 × p99 = %v", r.delay, want)
	}
	// Two slow among 128: the 127th smallest is slow.
	for i := range 16 {
		d := 40 * time.Millisecond
		if i == 3 {
			d = 60 * time.Millisecond
		}
		r.add(d)
	}
	if want := 3 * 60 * time.Millisecond; r.delay != want {
		t.Fatalf("128 answers, two slow: %v, want 3 × p99 = %v", r.delay, want)
	}
	// Recomputed only every 16 answers.
	for range 15 {
		r.add(time.Second)
	}
	if want := 3 * 60 * time.Millisecond; r.delay != want {
		t.Fatalf("15 answers after a recompute: %v, want it unchanged at %v", r.delay, want)
	}
	// The window holds the last 128: once the 40 ms ones are gone the
	// 1 s answers rule, capped.
	for range 128 {
		r.add(time.Second)
	}
	if r.delay != silence/4 {
		t.Fatalf("128 answers of 1 s: %v, want the cap %v", r.delay, silence/4)
	}
	// 144 of 50 ms: at the last recompute the window holds only them.
	for range 144 {
		r.add(50 * time.Millisecond)
	}
	if want := 150 * time.Millisecond; r.delay != want {
		t.Fatalf("the last 128 answers of 50 ms: %v, want %v (older samples out of the window)", r.delay, want)
	}
}
