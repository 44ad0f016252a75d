package shard

import (
	"fmt"

	"github.com/quorum-quest/client-go/client"
)

// Option configures a Set; New reports a bad one as ErrInvalidArgument.
type Option func(*config) error

type config struct {
	clientOpts []client.Option
	maxOwned   int // 0: no cap
}

// WithClientOptions applies opts to every election of the set (shards and
// member slots): client ID, TLS, logger, metrics, timing. Unless they give
// a stub or connection of their own, the set dials one connection for all.
func WithClientOptions(opts ...client.Option) Option {
	return func(c *config) error {
		for i, o := range opts {
			if o == nil {
				return fmt.Errorf("%w: WithClientOptions: option %d is nil", ErrInvalidArgument, i)
			}
		}
		c.clientOpts = append(c.clientOpts, opts...)
		return nil
	}
}

// WithMaxOwned caps the shards this replica owns at k; with k = 1 the set
// is a semaphore of as many slots as shards. A capped replica that leads
// no shard campaigns for every shard, so a shard whose owner died is taken
// within TTL + the retry interval, and keeps the one it wins while it
// leads none of those assigned to it (docs/shards.md).
func WithMaxOwned(k int) Option {
	return func(c *config) error {
		if k <= 0 {
			return fmt.Errorf("%w: WithMaxOwned(%d): must be positive", ErrInvalidArgument, k)
		}
		c.maxOwned = k
		return nil
	}
}
