// Package pb holds the Go code generated from proto/quorum/quest/api/v1 for
// the Quorum Quest LeaderElectionService. Regenerate it with `make proto`;
// every other file here is generated and must not be edited by hand.
package pb
