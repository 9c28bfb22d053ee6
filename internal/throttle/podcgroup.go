package throttle

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
)

// podUIDPattern accepts what kubelet uses as pod UIDs: UUIDs for API pods
// and hex config hashes for static pods. The UID comes from a CSI request
// (csi.storage.k8s.io/pod.uid), so it must never be able to name a path.
var podUIDPattern = regexp.MustCompile(`^[0-9A-Za-z-]{1,128}$`)

// ValidPodUID reports whether uid is safe to put into a cgroup path.
func ValidPodUID(uid string) bool { return podUIDPattern.MatchString(uid) }

// PodCgroupCandidates lists, relative to the hierarchy root, every place
// kubelet may have put the cgroup of pod uid: the cgroupfs driver's
// kubepods/[<qos>/]pod<UID> (Guaranteed pods have no QoS level) and the
// systemd driver's slices, whose names carry the UID with dashes turned into
// underscores. kubeletRoot is kubelet's --cgroup-root ("" or "/" = the
// hierarchy root). The list is fixed and short: resolving a pod is at most
// six stat calls, never a walk of the tree.
func PodCgroupCandidates(kubeletRoot, uid string) []string {
	root := strings.Trim(kubeletRoot, "/")
	u := strings.ReplaceAll(uid, "-", "_")
	rel := []string{
		"kubepods/burstable/pod" + uid,
		"kubepods/besteffort/pod" + uid,
		"kubepods/pod" + uid,
		"kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + u + ".slice",
		"kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + u + ".slice",
		"kubepods.slice/kubepods-pod" + u + ".slice",
	}
	for i := range rel {
		rel[i] = filepath.Join(root, rel[i])
	}
	return rel
}

// KubepodsCandidates lists, relative to the hierarchy root, the common
// ancestor of all pods for each cgroup driver.
func KubepodsCandidates(kubeletRoot string) []string {
	root := strings.Trim(kubeletRoot, "/")
	return []string{filepath.Join(root, "kubepods"), filepath.Join(root, "kubepods.slice")}
}

// firstDir returns the first of rel (joined to the backend's hierarchy)
// that is a directory.
func firstDir(b Backend, rel []string) (string, bool) {
	for _, r := range rel {
		p := filepath.Join(b.Hierarchy(), r)
		if fi, err := b.FS().Stat(p); err == nil && fi.IsDir() {
			return p, true
		}
	}
	return "", false
}

// FindPodCgroup returns the absolute path of pod uid's cgroup.
func FindPodCgroup(b Backend, kubeletRoot, uid string) (string, error) {
	if uid == "" {
		return "", fmt.Errorf("no pod UID (the CSIDriver needs podInfoOnMount: true)")
	}
	if !ValidPodUID(uid) {
		return "", fmt.Errorf("pod UID %q is not a kubelet pod UID", uid)
	}
	if p, ok := firstDir(b, PodCgroupCandidates(kubeletRoot, uid)); ok {
		return p, nil
	}
	return "", fmt.Errorf("no cgroup for pod %s under %s (looked for kubepods/[burstable/|besteffort/]pod%s and the systemd slices; is --kubelet-cgroup-root right?)",
		uid, filepath.Join(b.Hierarchy(), strings.Trim(kubeletRoot, "/")), uid)
}

// FindKubepods returns the absolute path of the cgroup above all pods.
func FindKubepods(b Backend, kubeletRoot string) (string, error) {
	if p, ok := firstDir(b, KubepodsCandidates(kubeletRoot)); ok {
		return p, nil
	}
	return "", fmt.Errorf("no kubepods cgroup (kubepods or kubepods.slice) under %s; is --kubelet-cgroup-root right?",
		filepath.Join(b.Hierarchy(), strings.Trim(kubeletRoot, "/")))
}
