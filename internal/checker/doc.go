// Package checker is the randomized safety checker of docs/safety.md.
//
// [RunSchedule] plays one seeded schedule inside a testing/synctest bubble:
// candidates built by a [NewCandidate] campaign for one lock on the
// in-memory test server while faults are injected (delays, lost requests
// and answers, partitions, pauses, restarts, clock jumps), and every sample
// of their IsLeader is checked against what the server granted. The same
// seed always plays the same schedule, so a failure replays exactly.
package checker
