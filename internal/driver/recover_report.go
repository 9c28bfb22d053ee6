package driver

import (
	"sort"
)

// What start-up recovery can do, one name per kind of action. The names are
// the label values of a counter (csi_blkio_recovery_actions_total{action});
// RecoveryActions lists them so that a metric can start each at zero.
const (
	// A publication's throttle group was placed again from its record.
	RecoveryGroupRestored = "group_restored"
	// A staged volume's loop device had another number than its record
	// said; the record now names the device bound to its backing file.
	RecoveryStagingDeviceUpdated = "staging_device_updated"
	// A staged volume has no loop device (the node rebooted, or someone
	// detached it): its groups are not placed until the kubelet re-stages.
	RecoveryLoopDeviceMissing = "loop_device_missing"
	// A loop device bound to a file in the state dir that no record says
	// is staged on it was detached.
	RecoveryOrphanLoopDetached = "orphan_loop_detached"
	// A mount of such a device, or a mount in the inline staging dir that
	// no record knows, was unmounted.
	RecoveryOrphanMountUnmounted = "orphan_mount_unmounted"
	// A kernel limit for one of the state dir's loop devices on a cgroup no
	// throttle group holds was lifted.
	RecoveryStaleLimitLifted = "stale_limit_lifted"
	// A file or directory left in the state dir by an interrupted call
	// (a record's temp file, a backing file without a record, an empty
	// inline staging dir) was removed.
	RecoveryOrphanFileRemoved = "orphan_file_removed"
	// A volume record could not be read; its volume was left untouched.
	RecoveryRecordUnreadable = "record_unreadable"
	// A step failed; the log says which and why. The plugin serves anyway
	// so that the volumes recovery could restore are usable.
	RecoveryFailed = "failed"
)

// RecoveryActions returns every action name.
func RecoveryActions() []string {
	return []string{
		RecoveryGroupRestored, RecoveryStagingDeviceUpdated, RecoveryLoopDeviceMissing,
		RecoveryOrphanLoopDetached, RecoveryOrphanMountUnmounted, RecoveryStaleLimitLifted,
		RecoveryOrphanFileRemoved, RecoveryRecordUnreadable, RecoveryFailed,
	}
}

// RecoveryReport counts what one start-up recovery did, by action. Recovery
// runs once per process start, so a metric can add the report to a counter
// vector once: for action, n := range report { c.WithLabelValues(action).Add(n) }.
type RecoveryReport map[string]int

// keyValues renders the report for a structured log line, in a fixed order.
func (r RecoveryReport) keyValues() []any {
	names := make([]string, 0, len(r))
	for a := range r {
		names = append(names, a)
	}
	sort.Strings(names)
	kv := make([]any, 0, 2*len(names))
	for _, a := range names {
		kv = append(kv, a, r[a])
	}
	return kv
}
