package driver

import "testing"

func TestCoarseCapacity(t *testing.T) {
	const (
		mib = int64(1) << 20
		gib = int64(1) << 30
		tib = int64(1) << 40
	)
	for _, c := range []struct {
		name        string
		free, total int64
		want        int64
	}{
		// The step is the largest power of two <= total/64.
		{"4 GiB disk: 64 MiB steps", 3*gib + 100*mib + 12345, 4 * gib, 3*gib + 64*mib},
		{"100 GiB disk: 1 GiB steps (1.56 GiB rounds down)", 57*gib + 1000*mib, 100 * gib, 57 * gib},
		{"1 TiB disk: 16 GiB steps", 715 * gib, tib, 704 * gib},
		{"10 TiB disk: 128 GiB steps", 5*tib + 200*gib, 10 * tib, 5*tib + 128*gib},
		{"exactly on a step stays", 3 * gib, 4 * gib, 3 * gib},
		{"64 MiB disk: the 1 MiB floor", 50*mib + 4096, 64 * mib, 50 * mib},
		{"tiny disk: still whole MiB", 3*mib + 1, 8 * mib, 3 * mib},
		{"less than a step free: full", 63 * mib, 4 * gib, 0},
		{"nothing free", 0, 4 * gib, 0},
		{"negative (cannot happen) is 0", -1, 4 * gib, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := coarseCapacity(c.free, c.total)
			if got != c.want {
				t.Errorf("coarseCapacity(%d, %d) = %d, want %d", c.free, c.total, got, c.want)
			}
			if got > c.free && c.free > 0 {
				t.Errorf("reported %d, more than the %d free", got, c.free)
			}
		})
	}
}

// Any write smaller than the distance to the step below leaves the figure
// unchanged; crossing the step moves it by exactly one step.
func TestCoarseCapacityStableUnderSmallWrites(t *testing.T) {
	const total = int64(200) << 30 // 200 GiB: 2 GiB steps
	const step = int64(2) << 30
	free := int64(123)<<30 + 1500<<20
	before := coarseCapacity(free, total)
	for _, written := range []int64{1, 4096, 1 << 20, 100 << 20, free - before} {
		if got := coarseCapacity(free-written, total); got != before {
			t.Errorf("after writing %d bytes: %d, before %d", written, got, before)
		}
	}
	if got := coarseCapacity(before-1, total); got != before-step {
		t.Errorf("one byte past the step: %d, want %d", got, before-step)
	}
}
