package checker

import (
	"time"

	"github.com/quorum-quest/client-go/client"
)

// ClientNetConfig describes a client with default options at ttl, from the
// library's own timing (client.TimingFor), so that the checker's bounds
// follow the library when its arithmetic changes: calls bounded by the call
// timeout, releases by the request timeout, retries every retry interval,
// and the slack the lease policy takes off the lease. Callers add the rest
// (Servers, StableLeadership, ...) and apply WithDefaults.
func ClientNetConfig(ttl time.Duration) (NetConfig, error) {
	t, err := client.TimingFor(ttl)
	if err != nil {
		return NetConfig{}, err
	}
	return NetConfig{
		TTL:            ttl,
		CallTimeout:    t.CallTimeout,
		ReleaseTimeout: client.DefaultRequestTimeout,
		RetryInterval:  t.RetryInterval,
		Slack:          ttl - t.UsableLease,
	}, nil
}
