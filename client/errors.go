package client

import (
	"errors"

	"github.com/quorum-quest/client-go/transport"
)

// Errors returned by the client, wrapped with details: use errors.Is.
var (
	// ErrClosed is returned by every call made after Close.
	ErrClosed = errors.New("quorumquest: client is closed")
	// ErrNotLeader: StartKeepAlive found no valid lease.
	ErrNotLeader = errors.New("quorumquest: not the leader")
	// ErrKeepAliveRunning: StartKeepAlive found keep-alive running.
	ErrKeepAliveRunning = errors.New("quorumquest: keep-alive already running")

	// ErrInvalidConfig matches every error NewQuorumQuestClient returns
	// for bad arguments or options, as the errors below do.
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

// configError is a sentinel that also matches ErrInvalidConfig.
type configError string

func (e configError) Error() string { return string(e) }

func (e configError) Is(target error) bool { return target == ErrInvalidConfig }

// ErrLeaseExpired is the cause recorded on the transition to lost when the
// lease's local deadline passed without a renewal.
var ErrLeaseExpired = errors.New("quorumquest: lease expired before it was renewed")

// ErrInvalidArgument is returned for a bad argument, such as a nil lead.
var ErrInvalidArgument = errors.New("quorumquest: invalid argument")

// ErrLateGrant is a grant that arrived after its lease had run out
// locally. The client never leads on it; TryAcquireLock returns it, the
// transition back to follower records it, Campaign and Run try again.
var ErrLateGrant = transport.ErrLateGrant
