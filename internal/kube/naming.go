package kube

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/csi-blkio/csi-blkio/internal/throttle"
)

// Labels every ThrottleGroup carries.
const (
	// LabelNode selects the ThrottleGroups of one node: each plugin's
	// informer watches only its own (a field selector on spec.nodeName is
	// not available for custom resources).
	LabelNode = "blkio.csi.dev/node"
	// LabelManagedBy marks objects csi-blkio created.
	LabelManagedBy = "app.kubernetes.io/managed-by"
	// ManagedBy is LabelManagedBy's value.
	ManagedBy = "csi-blkio"
)

// maxNameLen keeps names to a DNS label (63), although custom resources
// allow 253: short names fit kubectl's columns and label values.
const maxNameLen = 63

// hashLen hex digits of sha256 make names unique: 40 bits, so a node would
// need around a million groups in a namespace for a likely collision.
const hashLen = 10

// ObjectName is the deterministic name of the ThrottleGroup of key for the
// pod podName: "<pod>-<volume ID>" made a DNS label and cut so that a hash
// of the pod UID and the volume ID fits after it. Deterministic, so that a
// restarted plugin finds its objects again; the UID in the hash, so that a
// pod re-created under the same name (a StatefulSet's) gets a new object
// while the old one waits for garbage collection.
func ObjectName(podName string, key throttle.Key) string {
	sum := sha256.Sum256([]byte(key.PodUID + "\x00" + key.VolumeID))
	suffix := "-" + hex.EncodeToString(sum[:])[:hashLen]
	base := dnsLabel(podName + "-" + key.VolumeID)
	if max := maxNameLen - len(suffix); len(base) > max {
		base = strings.TrimRight(base[:max], "-")
	}
	if base == "" {
		return "tg" + suffix
	}
	return base + suffix
}

// dnsLabel lowercases s and replaces what a DNS label cannot hold with '-',
// without leading or repeated dashes.
func dnsLabel(s string) string {
	var b strings.Builder
	dash := true // no leading dash
	for _, r := range strings.ToLower(s) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
			dash = false
		} else if !dash {
			b.WriteByte('-')
			dash = true
		}
	}
	return strings.TrimRight(b.String(), "-")
}

// NodeLabelValue is the LabelNode value of a node: its name when that is a
// valid label value (node names are DNS subdomains up to 253 characters,
// label values at most 63), else a hash of it. The plugin and its selector
// compute it the same way, so either form selects the node's objects.
func NodeLabelValue(node string) string {
	if len(validation.IsValidLabelValue(node)) == 0 {
		return node
	}
	sum := sha256.Sum256([]byte(node))
	return "sha256-" + hex.EncodeToString(sum[:])[:32]
}
