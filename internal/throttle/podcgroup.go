package throttle

import (
	"fmt"
	"path/filepath"
	"strings"
)

// ValidPodUID reports whether uid is safe to put into a cgroup path: 1 to
// 128 ASCII letters, digits and dashes, which covers what kubelet uses as
// pod UIDs (UUIDs for API pods, hex config hashes for static pods). The
// UID comes from a CSI request (csi.storage.k8s.io/pod.uid), so it must
// never be able to name a path. A loop rather than a regular expression:
// every publish checks it up to three times, and the expression cost more
// than a microsecond each time, a tenth of the throttle table's own work
// in Ensure.
func ValidPodUID(uid string) bool {
	if len(uid) == 0 || len(uid) > 128 {
		return false
	}
	for i := 0; i < len(uid); i++ {
		switch c := uid[i]; {
		case '0' <= c && c <= '9', 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', c == '-':
		default:
			return false
		}
	}
	return true
}

// PodCgroupCandidates lists, relative to the hierarchy root, every place
// kubelet may have put the cgroup of pod uid: the cgroupfs driver's
// kubepods/[<qos>/]pod<UID> (Guaranteed pods have no QoS level) and the
// systemd driver's slices, whose names carry the UID with dashes turned into
// underscores. kubeletRoot is kubelet's --cgroup-root ("" or "/" = the
// hierarchy root). The list is fixed and short: resolving a pod is at most
// six stat calls, never a walk of the tree.
func PodCgroupCandidates(kubeletRoot, uid string) []string {
	prefix := kubeletPrefix(kubeletRoot)
	out := make([]string, podCgroupCandidates)
	for i := range out {
		out[i] = podCgroupCandidate(prefix, uid, i)
	}
	return out
}

// podCgroupCandidates is how many places PodCgroupCandidates lists.
const podCgroupCandidates = 6

// podCgroupCandidate returns the i-th of PodCgroupCandidates with prefix
// in front of it, in one string: the pod lookup on the publish path makes
// only the candidates it tries (usually the first or second), and each in
// one allocation. prefix is kubeletPrefix's, or a hierarchy's root with a
// slash and that (podPrefix).
func podCgroupCandidate(prefix, uid string, i int) string {
	switch i {
	case 0:
		return prefix + "kubepods/burstable/pod" + uid
	case 1:
		return prefix + "kubepods/besteffort/pod" + uid
	case 2:
		return prefix + "kubepods/pod" + uid
	}
	u := strings.ReplaceAll(uid, "-", "_") // the systemd slices' spelling
	switch i {
	case 3:
		return prefix + "kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + u + ".slice"
	case 4:
		return prefix + "kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + u + ".slice"
	}
	return prefix + "kubepods.slice/kubepods-pod" + u + ".slice"
}

// kubeletPrefix is kubelet's --cgroup-root as a clean relative path with a
// trailing slash, or "" for the hierarchy root.
func kubeletPrefix(kubeletRoot string) string {
	root := strings.Trim(kubeletRoot, "/")
	if root == "" {
		return ""
	}
	return filepath.Clean(root) + "/"
}

// podPrefix is what the absolute paths of b's pod cgroup candidates start
// with: the hierarchy's root, a slash and kubeletPrefix. The backends keep
// their root clean, so joining is concatenation, not filepath.Join's scan
// of both again on every publish.
func podPrefix(b Backend, kubeletRoot string) string {
	h := b.Hierarchy()
	if h == "/" {
		h = "" // a hierarchy at the root: "/" + r, not "//" + r
	}
	return h + "/" + kubeletPrefix(kubeletRoot)
}

// KubepodsCandidates lists, relative to the hierarchy root, the common
// ancestor of all pods for each cgroup driver.
func KubepodsCandidates(kubeletRoot string) []string {
	root := strings.Trim(kubeletRoot, "/")
	return []string{filepath.Join(root, "kubepods"), filepath.Join(root, "kubepods.slice")}
}

// isDir reports whether path is a directory of b's filesystem.
func isDir(b Backend, path string) bool {
	fi, err := b.FS().Stat(path)
	return err == nil && fi.IsDir()
}

// FindPodCgroup returns the absolute path of pod uid's cgroup.
func FindPodCgroup(b Backend, kubeletRoot, uid string) (string, error) {
	if uid == "" {
		return "", fmt.Errorf("no pod UID (the CSIDriver needs podInfoOnMount: true)")
	}
	if !ValidPodUID(uid) {
		return "", fmt.Errorf("pod UID %q is not a kubelet pod UID", uid)
	}
	prefix := podPrefix(b, kubeletRoot)
	for i := range podCgroupCandidates {
		if p := podCgroupCandidate(prefix, uid, i); isDir(b, p) {
			return p, nil
		}
	}
	return "", podCgroupNotFound(b, kubeletRoot, uid)
}

func podCgroupNotFound(b Backend, kubeletRoot, uid string) error {
	return fmt.Errorf("no cgroup for pod %s under %s (looked for kubepods/[burstable/|besteffort/]pod%s and the systemd slices; is --kubelet-cgroup-root right?)",
		uid, filepath.Join(b.Hierarchy(), strings.Trim(kubeletRoot, "/")), uid)
}

// FindKubepods returns the absolute path of the cgroup above all pods.
func FindKubepods(b Backend, kubeletRoot string) (string, error) {
	for _, rel := range KubepodsCandidates(kubeletRoot) {
		if p := filepath.Join(b.Hierarchy(), rel); isDir(b, p) {
			return p, nil
		}
	}
	return "", fmt.Errorf("no kubepods cgroup (kubepods or kubepods.slice) under %s; is --kubelet-cgroup-root right?",
		filepath.Join(b.Hierarchy(), strings.Trim(kubeletRoot, "/")))
}
