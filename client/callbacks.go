package client

import (
	"fmt"

	"github.com/quorum-quest/client-go/internal/nilness"
)

// Callbacks is the two-method interface of the earlier Quorum Quest Go
// client, so that its users can switch without rewriting their handlers.
type Callbacks interface {
	// OnLeaderElected is called with the outcome of every attempt to
	// acquire the lock: true when this client became leader, false when
	// the attempt ended without leadership. Renewals do not call it.
	OnLeaderElected(isLeader bool)
	// OnLeaderLost is called once each time leadership ends: lost, released
	// or closed while leading.
	OnLeaderLost()
}

// WithCallbacks calls cb's methods on the transitions they describe, as a
// transition hook is called (WithTransitionHook).
func WithCallbacks(cb Callbacks) Option {
	return func(c *config) error {
		if nilness.IsNil(cb) {
			return fmt.Errorf("%w: WithCallbacks: nil callbacks", ErrInvalidOption)
		}
		return WithTransitionHook(func(t Transition) {
			switch {
			case t.From == StateAcquiring:
				cb.OnLeaderElected(t.To.Leading())
			case t.From.Leading() && !t.To.Leading():
				cb.OnLeaderLost()
			}
		})(c)
	}
}
