package transport

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

// The defaults docs/safety.md and the README state: 1% of each lease for
// drift, 100 ms of margin, 14.75 s of a 15 s lease. Every safety figure in
// the docs is computed from them.
func TestDefaultLeasePolicyIsTheDocumentedOne(t *testing.T) {
	if DefaultLeasePolicy != (LeasePolicy{Drift: 0.01, Margin: 100 * time.Millisecond}) {
		t.Fatalf("DefaultLeasePolicy = %+v, want 1%% drift and 100ms margin", DefaultLeasePolicy)
	}
	if got := DefaultLeasePolicy.Usable(15 * time.Second); got != 14750*time.Millisecond {
		t.Fatalf("default policy trusts %v of a 15s lease, want 14.75s", got)
	}
}

// The edges of a valid policy are valid: a user who trusts the clocks
// completely (drift 0) or acts at once on IsLeader (margin 0) may say so,
// and gets exactly the lease's length.
func TestLeasePolicyAcceptsZeroDriftAndZeroMargin(t *testing.T) {
	for _, p := range []LeasePolicy{{}, {Drift: 0}, {Margin: 0, Drift: 0.5}, {Drift: 0, Margin: time.Millisecond}} {
		if err := p.Validate(time.Second); err != nil {
			t.Errorf("Validate(%+v, 1s) = %v, want nil", p, err)
		}
	}
	if got := (LeasePolicy{}).Usable(time.Second); got != time.Second {
		t.Errorf("a policy with no drift and no margin trusts %v of 1s", got)
	}
}

// A policy that leaves a lease of exactly zero is refused: a zero lease
// would make every grant expire as it arrives, a client that can never lead.
func TestLeasePolicyRefusesAnEmptyLease(t *testing.T) {
	for _, p := range []LeasePolicy{
		{Margin: time.Second},                             // 1s - 0 - 1s
		{Drift: 0.5, Margin: 500 * time.Millisecond},      // 1s - 0.5s - 0.5s
		{Drift: 0.75, Margin: 250 * time.Millisecond},     // 1s - 0.75s - 0.25s
		{Drift: 0.999, Margin: 2 * time.Millisecond},      // below zero
		{Drift: 0, Margin: time.Second + time.Nanosecond}, // below zero
	} {
		err := p.Validate(time.Second)
		if !errors.Is(err, ErrLeasePolicy) || !strings.Contains(err.Error(), "leave nothing") {
			t.Errorf("Validate(%+v, 1s) = %v, want ErrLeasePolicy: leave nothing", p, err)
		}
	}
	// One nanosecond of lease left is a (short) lease.
	if err := (LeasePolicy{Margin: time.Second - 1}).Validate(time.Second); err != nil {
		t.Errorf("a policy leaving 1ns refused: %v", err)
	}
}

// Each refusal names what is wrong with the policy, so that a user who set
// a drift of 1 (100%) is told about the drift, not about the margin or the
// TTL.
func TestLeasePolicyErrorNamesTheBadField(t *testing.T) {
	for _, tc := range []struct {
		p    LeasePolicy
		want string
	}{
		{LeasePolicy{Drift: 1}, "drift 1 is outside [0, 1)"},
		{LeasePolicy{Drift: 1.5}, "drift 1.5 is outside [0, 1)"},
		{LeasePolicy{Drift: -0.01}, "drift -0.01 is outside [0, 1)"},
		{LeasePolicy{Drift: math.NaN()}, "drift NaN is outside [0, 1)"},
		{LeasePolicy{Drift: 0.01, Margin: -time.Nanosecond}, "margin -1ns is negative"},
	} {
		err := tc.p.Validate(time.Hour)
		if !errors.Is(err, ErrLeasePolicy) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Validate(%+v) = %v, want ErrLeasePolicy saying %q", tc.p, err, tc.want)
		}
	}
}
