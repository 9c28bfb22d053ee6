package driver

import (
	"errors"
	"fmt"
	"io/fs"

	"github.com/csi-blkio/csi-blkio/internal/throttle"
	"github.com/csi-blkio/csi-blkio/internal/volume"
)

// throttleProblems says, per publication, what is wrong with its throttle
// group: no group at all (limits not in the kernel), a degraded placement,
// a condition the worker raised, or a cgroup whose kernel limits differ
// from the group's. Targets are visited in order so messages are stable.
func (d *Driver) throttleProblems(r *volume.Record) []string {
	var out []string
	for t, key := range r.Groups() {
		st, ok := d.deps.Throttler.Get(key)
		if !ok {
			out = append(out, fmt.Sprintf("no throttle group %s: the limits for the publication at %s are not in the kernel; republish the volume", key, t))
			continue
		}
		if st.Phase == throttle.PhaseDegraded {
			out = append(out, fmt.Sprintf("throttle group %s is degraded: %s", key, st.Placement))
		}
		for _, c := range st.Conditions {
			out = append(out, fmt.Sprintf("throttle group %s: %s: %s", key, c.Type, c.Message))
		}
		for _, c := range st.Readback.Failed {
			out = append(out, fmt.Sprintf("throttle group %s: the stats worker's readback could not restore %s", key, c))
		}
		out = append(out, d.kernelMismatches(key, st)...)
	}
	return out
}

// kernelMismatches reads the limits back from every cgroup of the group.
func (d *Driver) kernelMismatches(key throttle.Key, st throttle.GroupStatus) []string {
	if d.deps.Kernel == nil {
		return nil
	}
	var out []string
	for _, cg := range st.Cgroups {
		got, err := d.deps.Kernel.ReadLimits(cg, st.Spec.Device)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			// A container cgroup went away with its container.
		case err != nil:
			out = append(out, fmt.Sprintf("throttle group %s: read limits of %s: %v", key, cg, err))
		case got != st.KernelLimits():
			out = append(out, fmt.Sprintf("throttle group %s: cgroup %s holds %s for %s, want %s", key, cg, got, st.Spec.Device, st.KernelLimits()))
		}
	}
	return out
}
