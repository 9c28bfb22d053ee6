package iobench

import (
	"slices"
	"testing"
)

func TestMirroredCentresEveryCandidate(t *testing.T) {
	for n := 1; n <= 4; n++ {
		starts := map[int]bool{}
		for block := range n {
			order := Mirrored(n, block)
			if len(order) != 2*n-1 {
				t.Fatalf("Mirrored(%d, %d) = %v: want %d runs", n, block, order, 2*n-1)
			}
			backwards := slices.Clone(order)
			slices.Reverse(backwards)
			if !slices.Equal(backwards, order) {
				t.Errorf("Mirrored(%d, %d) = %v: not the same backwards", n, block, order)
			}
			// The mean position of each candidate's runs is the centre.
			sum, count := make([]int, n), make([]int, n)
			for pos, c := range order {
				sum[c] += pos
				count[c]++
			}
			for c := range n {
				if count[c] == 0 || sum[c] != (n-1)*count[c] {
					t.Errorf("Mirrored(%d, %d) = %v: candidate %d runs %d times at mean position %v, want the centre %d",
						n, block, order, c, count[c], float64(sum[c])/float64(max(count[c], 1)), n-1)
				}
			}
			starts[order[0]] = true
		}
		if len(starts) != n {
			t.Errorf("Mirrored(%d, 0..%d) starts with %v: want every candidate first once", n, n-1, starts)
		}
	}
}
