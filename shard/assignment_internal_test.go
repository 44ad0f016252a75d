package shard

import (
	"slices"
	"testing"
)

// Every shard has one rank, every rank ⌊M/N⌋ or ⌈M/N⌉ shards, and going
// from N to N+1 ranks moves only the shards the new rank takes.
func TestAssignmentBalancesAndMovesOnlyTheTopRanksShards(t *testing.T) {
	for _, shards := range []int{1, 2, 3, 7, 40, 120, 1001, 10000} {
		prev := assignment(shards, 1)
		for n := 2; n <= min(shards+2, 12); n++ {
			ranks := assignment(shards, n)
			if len(ranks) != n {
				t.Fatalf("M=%d N=%d: %d ranks", shards, n, len(ranks))
			}
			owner := make([]int, shards)
			for i := range owner {
				owner[i] = -1
			}
			for r, own := range ranks {
				if c := len(own); c < shards/n || c > (shards+n-1)/n {
					t.Errorf("M=%d N=%d: rank %d owns %d shards", shards, n, r, c)
				}
				if !slices.IsSorted(own) {
					t.Errorf("M=%d N=%d: rank %d's shards are not sorted", shards, n, r)
				}
				for _, i := range own {
					if owner[i] != -1 {
						t.Fatalf("M=%d N=%d: shard %d owned by ranks %d and %d", shards, n, i, owner[i], r)
					}
					owner[i] = r
				}
			}
			if i := slices.Index(owner, -1); i >= 0 {
				t.Fatalf("M=%d N=%d: shard %d has no rank", shards, n, i)
			}
			for r, own := range ranks[:n-1] {
				for _, i := range own {
					if _, found := slices.BinarySearch(prev[r], i); !found {
						t.Errorf("M=%d N=%d: shard %d moved to rank %d, not to the new rank", shards, n, i, r)
					}
				}
			}
			prev = ranks
		}
	}
}
