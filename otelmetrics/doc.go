// Package otelmetrics turns one Quorum Quest client's transitions into
// OpenTelemetry metrics: whether it leads, its transitions, acquisitions,
// losses and failed renewals, how long it waited for the lock and how much
// lease was left at each renewal.
//
// It uses only the OpenTelemetry metric API: bring the SDK and the
// exporter of your choice, and pass the MeterProvider in. Nothing is
// global: each client records through the provider given to its own
// Option, so two elections in one process can report to different
// providers, or to one.
//
//	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
//	c, err := client.NewQuorumQuestClient("billing", "production", 15*time.Second, addr,
//		client.WithClientID(podName),
//		otelmetrics.Option(provider))
//
// # Instruments
//
// The instrumentation scope is [ScopeName]. Every measurement carries the
// attributes quorumquest.service, quorumquest.domain and
// quorumquest.client.id (the client's lock and identity), plus those given
// with [WithAttributes]. OpenTelemetry has no conventions for leader
// election yet; the names follow its general rules: a lowercase, dotted
// namespace, UCUM units, counts of things in curly-brace units, durations
// in seconds.
//
//	name                                       instrument   unit           meaning
//	quorumquest.election.leader                gauge        {leader}       1 while the client leads (leader or refreshing), 0 otherwise
//	quorumquest.election.transitions           counter      {transition}   transitions of the state machine, by quorumquest.transition.from, .to and .event
//	quorumquest.election.acquisitions          counter      {acquisition}  times the client became leader (acquiring -> leader)
//	quorumquest.election.losses                counter      {loss}         times leadership ended without the client asking (-> lost), by quorumquest.transition.event: denied or expire
//	quorumquest.election.failed_renewals       counter      {renewal}      renewals that did not renew, by quorumquest.transition.event: failed (retried) or denied (leadership lost)
//	quorumquest.election.acquisition.duration  histogram    s              time from the first attempt to acquire the lock to holding it
//	quorumquest.election.lease.remaining       histogram    s              time left on the old lease when a renewal succeeded
//
// Details:
//
//   - The gauge is observed at each collection while the client is open (0
//     from its creation). A closed client has no leadership to report, so
//     its gauge series ends with Close; its counters and histograms keep
//     their totals, the last ones included.
//   - A renewal is any call sent while leading: keep-alive's KeepAlive, or
//     TryAcquireLock while leading. A refused renewal (the server said the
//     lock is not ours) counts both as a failed renewal and as a loss; a
//     lease that runs out while its renewal is in flight counts as a loss
//     with event expire, not as a failed renewal.
//   - Releasing the lock or closing the client is not a loss.
//   - Acquisition duration runs from the TryAcquireLock that started trying
//     (the first one after the client was made, after a loss, or after a
//     release) to the grant, across every denied or failed attempt in
//     between: for a standby replica it includes the time another client
//     led. Attempts given up with ReleaseLock or Close record nothing.
//   - Remaining lease is measured when the renewal's answer is applied,
//     against the local deadline the client trusted until then; 0 means the
//     old lease had already run out locally.
//
// The histograms advise bucket boundaries fit for seconds-long leases;
// change them, or drop attributes, with the SDK's views.
//
// # Cardinality
//
// Each client makes its own series. The default client ID is random per
// process, so a restarted replica starts new series: give clients a stable
// ID with client.WithClientID (a pod or host name), or drop
// quorumquest.client.id with a view.
//
// # Cost
//
// On the client's call path a transition is only counted, in memory of the
// client's own, under its lock: about 0.1µs per renewal. The provider is
// called when it collects (one callback per Option gathers every open
// client) and when a client closes, never on a call. The histograms' values
// wait in memory between collections, at most 4096 per histogram and
// client; a provider never collected for longer loses the newer ones.
// docs/performance.md has the measured overhead.
package otelmetrics
