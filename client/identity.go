package client

import "fmt"

// Identity names one client's election: the lock it campaigns for (service
// and domain) and the identity it campaigns with.
type Identity struct {
	Service, Domain, ClientID string
}

// WithTransitionHookFor is WithTransitionHook for hooks that must know
// whose transitions they see, such as metrics labelled with the lock and
// the client ID (see package otelmetrics). NewQuorumQuestClient calls
// newHook once, after it has settled the client ID (the random default
// included) and before any transition; the hook it returns then receives
// every transition exactly as WithTransitionHook describes. An error from
// newHook fails NewQuorumQuestClient with an error matching both
// ErrInvalidOption and that error. newHook may return a nil hook to observe
// nothing.
func WithTransitionHookFor(newHook func(Identity) (func(Transition), error)) Option {
	return func(c *config) error {
		if newHook == nil {
			return fmt.Errorf("%w: WithTransitionHookFor: nil function", ErrInvalidOption)
		}
		c.hookFactories = append(c.hookFactories, newHook)
		return nil
	}
}

// buildHooks turns the WithTransitionHookFor factories into hooks, once
// the configuration, the client ID included, is final.
func (c *config) buildHooks() error {
	id := Identity{Service: c.service, Domain: c.domain, ClientID: c.clientID}
	for _, newHook := range c.hookFactories {
		hook, err := newHook(id)
		if err != nil {
			return fmt.Errorf("%w: WithTransitionHookFor: %w", ErrInvalidOption, err)
		}
		if hook != nil {
			c.hooks = append(c.hooks, hook)
		}
	}
	c.hookFactories = nil
	return nil
}
