package client

import (
	"errors"

	"github.com/quorum-quest/client-go/transport"
)

// Errors returned by the client. Compare with errors.Is: the returned errors
// wrap these with details.
var (
	// ErrClosed is returned by every call made after Close.
	ErrClosed = errors.New("quorumquest: client is closed")
	// ErrNotLeader is returned by StartKeepAlive when the client holds no
	// valid lease.
	ErrNotLeader = errors.New("quorumquest: not the leader")
	// ErrKeepAliveRunning is returned by StartKeepAlive when keep-alive is
	// already running.
	ErrKeepAliveRunning = errors.New("quorumquest: keep-alive already running")

	// ErrInvalidConfig is matched by every error NewQuorumQuestClient
	// returns for bad arguments or options; the more specific errors below
	// match it too.
	ErrInvalidConfig = errors.New("quorumquest: invalid configuration")
	// ErrEmptyService: the service name is empty.
	ErrEmptyService = configError("quorumquest: service must not be empty")
	// ErrEmptyDomain: the domain is empty.
	ErrEmptyDomain = configError("quorumquest: domain must not be empty")
	// ErrEmptyAddress: the address is empty and neither WithServerStub nor
	// WithConn was given.
	ErrEmptyAddress = configError("quorumquest: address must not be empty")
	// ErrInvalidTTL: the TTL is under one second or beyond what the wire's
	// int32 seconds hold.
	ErrInvalidTTL = configError("quorumquest: invalid ttl")
	// ErrInvalidOption: an option was given a value it cannot use.
	ErrInvalidOption = configError("quorumquest: invalid option")
)

// configError is a sentinel that also matches ErrInvalidConfig, so callers
// can test for "any configuration problem" or for one in particular.
type configError string

func (e configError) Error() string { return string(e) }

func (e configError) Is(target error) bool { return target == ErrInvalidConfig }

// ErrLeaseExpired is the cause recorded on the transition to lost when the
// lease's local deadline passed without a renewal.
var ErrLeaseExpired = errors.New("quorumquest: lease expired before it was renewed")

// ErrInvalidArgument is returned for a bad argument to a method, such as a
// nil function given to Run.
var ErrInvalidArgument = errors.New("quorumquest: invalid argument")

// ErrLateGrant is returned by TryAcquireLock, and recorded on the
// transition back to follower, when the server granted the lock but its
// answer arrived after the lease it granted had run out locally. It is a
// failed acquisition: the client never leads on such a grant, and
// Campaign and Run simply try again.
var ErrLateGrant = transport.ErrLateGrant
