package driver

import (
	"errors"
	"syscall"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/csi-blkio/csi-blkio/internal/throttle"
)

// placeError is the answer to a publish whose limits could not be placed.
// The publish fails (and is rolled back) rather than degrade: a volume is
// never published unthrottled (invariant 3), and the degraded fallback, a
// root-level entry, does not hold a container's direct IO on cgroup v1.
// A cgroup hierarchy the plugin may not write is a deployment problem the
// message names; docs/reliability.md has the decision.
func placeError(id string, err error) error {
	if errors.Is(err, throttle.ErrPodCgroupRequired) {
		return status.Errorf(codes.FailedPrecondition,
			"volume %s was not published: %v. On cgroup v1 only the pod's own cgroups can hold its containers' direct IO, "+
				"so without them the volume would run unthrottled. If the kubelet runs with --cgroup-root, set the plugin's "+
				"--kubelet-cgroup-root (chart value node.kubeletCgroupRoot) to the same value; to publish anyway with only "+
				"buffered writeback held, set --accept-degraded-v1-publish (chart value node.acceptDegradedV1Publish). The kubelet retries",
			id, err)
	}
	hint := "; the volume was not published (it would run unthrottled) and the kubelet retries"
	if errors.Is(err, syscall.EROFS) || errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.EPERM) {
		hint = "; the plugin needs write access to the cgroup hierarchy: run its container privileged with /sys/fs/cgroup mounted read-write" + hint
	}
	return status.Errorf(codes.Internal, "place throttle limits for volume %s: %v%s", id, err, hint)
}
