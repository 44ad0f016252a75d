package otelmetrics

import "go.opentelemetry.io/otel/attribute"

// ScopeName is the instrumentation scope (the meter's name) of every
// instrument of this package.
const ScopeName = "github.com/quorum-quest/client-go/otelmetrics"

// The instruments' names; the package documentation says what each
// measures.
const (
	LeaderName              = "quorumquest.election.leader"
	TransitionsName         = "quorumquest.election.transitions"
	AcquisitionsName        = "quorumquest.election.acquisitions"
	LossesName              = "quorumquest.election.losses"
	FailedRenewalsName      = "quorumquest.election.failed_renewals"
	AcquisitionDurationName = "quorumquest.election.acquisition.duration"
	LeaseRemainingName      = "quorumquest.election.lease.remaining"
)

// The attribute keys.
const (
	// ServiceKey, DomainKey and ClientIDKey name the client's lock and
	// identity; every measurement carries them.
	ServiceKey  = attribute.Key("quorumquest.service")
	DomainKey   = attribute.Key("quorumquest.domain")
	ClientIDKey = attribute.Key("quorumquest.client.id")
	// FromKey, ToKey and EventKey describe a transition: the states it
	// left and entered, and the event that caused it (the names of
	// docs/state-diagram.md).
	FromKey  = attribute.Key("quorumquest.transition.from")
	ToKey    = attribute.Key("quorumquest.transition.to")
	EventKey = attribute.Key("quorumquest.transition.event")
)

// Advised histogram bucket boundaries, in seconds.
var (
	// acquisitionBuckets span a grant on the first attempt (milliseconds)
	// to a standby replica's wait of an hour.
	acquisitionBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600}
	// remainingBuckets start at 0, the bucket of renewals applied after the
	// old lease had run out, and reach past common TTLs.
	remainingBuckets = []float64{0, 0.1, 0.25, 0.5, 1, 2, 3, 4, 5, 7.5, 10, 15, 20, 30, 60, 120}
)
