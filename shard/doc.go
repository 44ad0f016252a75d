// Package shard spreads many locks over the replicas that run a Set: shard
// i is the ordinary lock (service, domain + "/" + i), so any client can
// take part in or inspect one shard.
//
// Replicas find each other through member slots, locks (service, domain +
// "/members/" + k) each held by one replica as a renewing election. Every
// retry interval a replica probes the slots under a separate client ID: a
// denied probe is a member, a granted one a free slot, released at once.
// The sorted held slots are the view; a slot's rank in it decides which
// shards the replica campaigns for, once the view counts every slot it saw
// held. Ranks share the shards evenly, and a change of membership moves
// only the shards of the rank that comes or goes. Views may disagree for a probe period, but each shard is still one lock, so
// two replicas never own it at once; balance converges as views agree.
//
// With WithMaxOwned, a replica that leads no shard campaigns for all of
// them, whatever its rank, and keeps the one it wins: with a cap of 1 the
// set is a semaphore whose waiting replicas take a dead holder's shard
// within a retry interval of its lease's end, and whose holders never move.
//
// Each owned shard runs client.Run on a client of its own sharing one
// connection, so it keeps Run's guarantee: its context ends before its
// lease could pass to another replica. See docs/shards.md.
package shard
