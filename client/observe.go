package client

import (
	"fmt"

	"github.com/quorum-quest/client-go/internal/observe"
)

// The module's own packages (otelmetrics) install synchronous observers
// through internal/observe, which cannot import this package.
func init() {
	observe.ClientOption = func(f observe.Factory) any {
		return Option(func(c *config) error {
			if f == nil {
				return fmt.Errorf("%w: nil observer", ErrInvalidOption)
			}
			c.observerFactories = append(c.observerFactories, f)
			return nil
		})
	}
}

// buildObservers makes the observers of a client whose construction can
// no longer fail.
func (c *config) buildObservers() error {
	id := observe.Identity{Service: c.service, Domain: c.domain, ClientID: c.clientID, Client: c}
	for i, f := range c.observerFactories {
		o, err := f(id)
		if err != nil {
			for _, built := range c.observers {
				built.Close()
			}
			c.observers = nil
			return fmt.Errorf("%w: %w", ErrInvalidOption, err)
		}
		if o != nil {
			c.observers = append(c.observers, o)
		}
		c.observerFactories[i] = nil
	}
	return nil
}

// closeObservers tells the observers the client has closed.
func (c *config) closeObservers() {
	for _, o := range c.observers {
		o.Close()
	}
}
