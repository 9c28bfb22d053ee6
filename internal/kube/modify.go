package kube

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"

	corev1 "k8s.io/api/core/v1"
)

// A VolumeAttributesClass change travels to the node that holds the volume
// on the volume's PersistentVolume (docs/architecture.md, "Changing limits
// through a VolumeAttributesClass"): csi-resizer runs once per cluster and
// calls the plugin of its own node, which writes the request on the PV and
// labels the PV with the owning node; that node's plugin watches its
// labelled PVs, applies the request and writes back what it did. The PV is
// the natural carrier: it exists exactly as long as the volume, every node
// can find it by the volume handle, and a request written on it survives
// any plugin being down.
const (
	// AnnotationModifyRequest holds the pending request (modifyRequest as
	// JSON).
	AnnotationModifyRequest = "blkio.csi.dev/modify-request"
	// AnnotationModifyApplied holds the ID of the last request the owning
	// node holds in its kernel.
	AnnotationModifyApplied = "blkio.csi.dev/modify-applied"
	// AnnotationModifyRefused holds the owning node's refusal of a request
	// (modifyRefusal as JSON): parameters that do not fit the volume.
	AnnotationModifyRefused = "blkio.csi.dev/modify-refused"
)

// modifyRequest is one VolumeAttributesClass change of a volume.
type modifyRequest struct {
	// ID is a digest of the parameters: the same change sent again (a
	// csi-resizer retry, another node's plugin) is the same request, so it
	// is applied once and its answer found again.
	ID         string            `json:"id"`
	Parameters map[string]string `json:"parameters"`
}

// modifyRefusal is the owning node's answer to a request it will not apply.
type modifyRefusal struct {
	ID      string `json:"id"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

func newModifyRequest(m map[string]string) modifyRequest {
	b, _ := json.Marshal(m) // map keys marshal sorted: the digest is stable
	sum := sha256.Sum256(b)
	return modifyRequest{ID: hex.EncodeToString(sum[:])[:16], Parameters: m}
}

// requestOf reads the pending request of pv; ok is false when there is none.
func requestOf(pv *corev1.PersistentVolume) (modifyRequest, bool, error) {
	s, ok := pv.Annotations[AnnotationModifyRequest]
	if !ok {
		return modifyRequest{}, false, nil
	}
	var r modifyRequest
	if err := json.Unmarshal([]byte(s), &r); err != nil || r.ID == "" {
		return modifyRequest{}, false, fmt.Errorf("annotation %s of PersistentVolume %s is not a request: %q", AnnotationModifyRequest, pv.Name, s)
	}
	return r, true, nil
}

// refusalOf reads the refusal on pv, if any.
func refusalOf(pv *corev1.PersistentVolume) (modifyRefusal, bool) {
	s, ok := pv.Annotations[AnnotationModifyRefused]
	if !ok {
		return modifyRefusal{}, false
	}
	var r modifyRefusal
	if err := json.Unmarshal([]byte(s), &r); err != nil {
		return modifyRefusal{}, false
	}
	return r, true
}

// ownerNode is the node a PV of driver lives on: its topology term names it.
func ownerNode(pv *corev1.PersistentVolume, topologyKey string) string {
	na := pv.Spec.NodeAffinity
	if na == nil || na.Required == nil {
		return ""
	}
	for _, term := range na.Required.NodeSelectorTerms {
		for _, e := range term.MatchExpressions {
			if e.Key == topologyKey && e.Operator == corev1.NodeSelectorOpIn && len(e.Values) == 1 {
				return e.Values[0]
			}
		}
	}
	return ""
}
