// Package transport makes the Quorum Quest client's calls to
// LeaderElectionService and turns their outcomes into events for the
// election machine.
//
// It owns the facts of the wire: the TTL travels in whole seconds, every call
// has a deadline of its own, a lease is measured from the moment its request
// was sent, and a gRPC error is either worth retrying or not. A Transport
// keeps no state between calls and never changes the machine itself; a
// Conn keeps two connections to a fleet of servers, hedges calls over
// them, holds a client's calls back while its release may still land,
// and replaces a connection that went silent.
package transport
