package throttle

import (
	"fmt"
	"iter"
	"path/filepath"
	"slices"
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
	return slices.Collect(podCgroupCandidates(kubeletRoot, uid))
}

// podCgroupCandidates yields PodCgroupCandidates one at a time, each made
// only when asked for: the pod lookup on the publish path stops at the
// first that exists, usually the first or second.
func podCgroupCandidates(kubeletRoot, uid string) iter.Seq[string] {
	return func(yield func(string) bool) {
		root := strings.Trim(kubeletRoot, "/")
		if root != "" {
			root = filepath.Clean(root) + "/"
		}
		u := "" // the UID with underscores, for the systemd slices
		for i := range 6 {
			var rel string
			switch i {
			case 0:
				rel = "kubepods/burstable/pod" + uid
			case 1:
				rel = "kubepods/besteffort/pod" + uid
			case 2:
				rel = "kubepods/pod" + uid
			case 3:
				u = strings.ReplaceAll(uid, "-", "_")
				rel = "kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + u + ".slice"
			case 4:
				rel = "kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + u + ".slice"
			case 5:
				rel = "kubepods.slice/kubepods-pod" + u + ".slice"
			}
			if !yield(root + rel) {
				return
			}
		}
	}
}

// KubepodsCandidates lists, relative to the hierarchy root, the common
// ancestor of all pods for each cgroup driver.
func KubepodsCandidates(kubeletRoot string) []string {
	root := strings.Trim(kubeletRoot, "/")
	return []string{filepath.Join(root, "kubepods"), filepath.Join(root, "kubepods.slice")}
}

// firstDir returns the first of rel (joined to the backend's hierarchy)
// that is a directory.
func firstDir(b Backend, rel iter.Seq[string]) (string, bool) {
	for p := range absolute(b, rel) {
		if fi, err := b.FS().Stat(p); err == nil && fi.IsDir() {
			return p, true
		}
	}
	return "", false
}

// absolute yields each of rel joined to the backend's hierarchy. The
// backends keep their hierarchy clean and the candidates are clean
// relative paths, so joining is concatenation, not filepath.Join's scan of
// both again on every publish.
func absolute(b Backend, rel iter.Seq[string]) iter.Seq[string] {
	h := b.Hierarchy()
	if h == "/" {
		h = "" // a hierarchy at the root: "/" + r, not "//" + r
	}
	return func(yield func(string) bool) {
		for r := range rel {
			if !yield(h + "/" + r) {
				return
			}
		}
	}
}

// FindPodCgroup returns the absolute path of pod uid's cgroup.
func FindPodCgroup(b Backend, kubeletRoot, uid string) (string, error) {
	if uid == "" {
		return "", fmt.Errorf("no pod UID (the CSIDriver needs podInfoOnMount: true)")
	}
	if !ValidPodUID(uid) {
		return "", fmt.Errorf("pod UID %q is not a kubelet pod UID", uid)
	}
	if p, ok := firstDir(b, podCgroupCandidates(kubeletRoot, uid)); ok {
		return p, nil
	}
	return "", podCgroupNotFound(b, kubeletRoot, uid)
}

func podCgroupNotFound(b Backend, kubeletRoot, uid string) error {
	return fmt.Errorf("no cgroup for pod %s under %s (looked for kubepods/[burstable/|besteffort/]pod%s and the systemd slices; is --kubelet-cgroup-root right?)",
		uid, filepath.Join(b.Hierarchy(), strings.Trim(kubeletRoot, "/")), uid)
}

// FindKubepods returns the absolute path of the cgroup above all pods.
func FindKubepods(b Backend, kubeletRoot string) (string, error) {
	if p, ok := firstDir(b, slices.Values(KubepodsCandidates(kubeletRoot))); ok {
		return p, nil
	}
	return "", fmt.Errorf("no kubepods cgroup (kubepods or kubepods.slice) under %s; is --kubelet-cgroup-root right?",
		filepath.Join(b.Hierarchy(), strings.Trim(kubeletRoot, "/")))
}
