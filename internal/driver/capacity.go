package driver

import (
	"math/bits"

	"golang.org/x/sys/unix"
)

// capacityStepFraction sets how coarse GetCapacity's answer is: the step is
// the largest power of two not above 1/capacityStepFraction of the state
// dir's filesystem, so the figure is at most ~1.6% (1/64) below the real free
// space and moves only when that much space is taken or freed.
//
// Why round at all: every node's csi-provisioner polls GetCapacity and
// writes a CSIStorageCapacity object whenever the answer differs from the
// last one. Exact free bytes change with every log line and block a pod
// writes, so each poll of each node became an apiserver write, and a new
// StorageClass's objects queued behind them. A step relative to the size
// fits every disk from a few GiB (64 MiB steps on 4 GiB) to many TiB
// (16 GiB steps on 1 TiB): small enough that the scheduler's fit decision
// stays honest, large enough that ordinary writes do not cross it. A power
// of two keeps the figure a round number of MiB or GiB in kubectl output.
//
// Only the published figure is coarse: CreateVolume and the expansions
// check the exact free space (freeBytes) before they claim any.
const (
	capacityStepFraction = 64
	minCapacityStep      = 1 << 20 // 1 MiB: tiny filesystems still get whole MiB
)

// coarseCapacity rounds free down to the capacity step of a filesystem of
// total bytes (see capacityStepFraction). It never reports more than free.
func coarseCapacity(free, total int64) int64 {
	if free <= 0 {
		return 0
	}
	step := int64(minCapacityStep)
	if share := total / capacityStepFraction; share > step {
		step = int64(1) << (bits.Len64(uint64(share)) - 1)
	}
	return free - free%step
}

// stateDirSpace is the exact free space of the state dir's filesystem (what
// an unprivileged writer may still use) and its total size.
func (d *Driver) stateDirSpace() (free, total int64, err error) {
	var st unix.Statfs_t
	if err := unix.Statfs(d.deps.Store.Dir(), &st); err != nil {
		return 0, 0, failure(err, "statfs state dir")
	}
	return int64(st.Bavail) * st.Bsize, int64(st.Blocks) * st.Bsize, nil
}

// freeBytes is the exact free space new backing files and growth draw on.
func (d *Driver) freeBytes() (int64, error) {
	free, _, err := d.stateDirSpace()
	return free, err
}
