package shard

import (
	"slices"
)

// assignment is which shards each rank owns with n members. It is built
// up one rank at a time: with k+1 ranks, the new rank k takes ⌊M/(k+1)⌋
// shards, each time the highest-numbered shard of the rank holding the
// most (the lowest rank on ties). Every rank then holds ⌊M/N⌋ or ⌈M/N⌉
// shards, and a member joining or leaving (which compaction turns into
// the top rank coming or going) moves only the shards of the top rank,
// where i mod N moved most of them: each move is a handover, so fewer
// moves mean fewer shards without an owner for a while.
func assignment(shards, n int) [][]int {
	ranks := make([][]int, 1, n)
	ranks[0] = make([]int, shards)
	for i := range shards {
		ranks[0][i] = i
	}
	for k := 1; k < n; k++ {
		var taken []int
		for range shards / (k + 1) {
			from := 0
			for r := range ranks {
				if len(ranks[r]) > len(ranks[from]) {
					from = r
				}
			}
			last := len(ranks[from]) - 1
			taken = append(taken, ranks[from][last])
			ranks[from] = ranks[from][:last]
		}
		slices.Sort(taken)
		ranks = append(ranks, taken)
	}
	return ranks
}
