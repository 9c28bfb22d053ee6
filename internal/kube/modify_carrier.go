package kube

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/klog/v2"
)

// ModifyCarrierOptions configure the carrier of VolumeAttributesClass changes.
type ModifyCarrierOptions struct {
	// Driver is the CSI driver name: only its PVs are considered.
	Driver string
	// TopologyKey is the topology segment that names a volume's node.
	TopologyKey string
	// Kube reads and patches PVs (requests time-limited).
	Kube CoreAPI
	// WatchKube watches the PV while waiting (no client-side timeout).
	WatchKube CoreAPI
	// Wait bounds how long one call waits for the owning node: below
	// csi-resizer's own timeout (10s by default), so that the call answers
	// Unavailable and csi-resizer retries, rather than csi-resizer giving
	// up on a call still running. Default 5s.
	Wait time.Duration
}

// ModifyCarrier carries a ControllerModifyVolume to the volume's node
// through the volume's PersistentVolume and waits for that node's answer;
// it implements driver.ModifyCarrier.
type ModifyCarrier struct{ o ModifyCarrierOptions }

// NewModifyCarrier checks o.
func NewModifyCarrier(o ModifyCarrierOptions) (*ModifyCarrier, error) {
	if o.Driver == "" || o.TopologyKey == "" || o.Kube == nil || o.WatchKube == nil {
		return nil, errors.New("kube.NewModifyCarrier: Driver, TopologyKey, Kube and WatchKube are required")
	}
	if o.Wait <= 0 {
		o.Wait = 5 * time.Second
	}
	return &ModifyCarrier{o: o}, nil
}

// CarryModify writes the request on the volume's PV (once: the same request
// again only waits) and returns nil once the owning node applied it, the
// node's refusal (InvalidArgument) if it refused, and Unavailable when the
// node did not answer within Wait: the request stays on the PV, the node
// applies it when it runs again, and csi-resizer's retry then finds the
// answer.
func (c *ModifyCarrier) CarryModify(ctx context.Context, volumeID string, m map[string]string) error {
	pv, err := c.findPV(ctx, volumeID)
	if err != nil {
		return err
	}
	node := ownerNode(pv, c.o.TopologyKey)
	if node == "" {
		_, err := c.VolumeNode(ctx, volumeID)
		return err
	}
	req := newModifyRequest(m)
	logger := klog.FromContext(ctx).WithValues("pv", pv.Name, "node", node, "request", req.ID)
	if done, err := answer(pv, req.ID); done {
		return err
	}
	if cur, ok, _ := requestOf(pv); !ok || cur.ID != req.ID || pv.Labels[LabelNode] != NodeLabelValue(node) {
		written, err := c.writeRequest(ctx, pv.Name, node, req)
		if err != nil {
			return status.Errorf(codes.Unavailable, "write the change request on PersistentVolume %s: %v; retry", pv.Name, err)
		}
		pv = written
		logger.V(2).Info("VolumeAttributesClass change written for the volume's node", "parameters", m)
	}
	return c.wait(ctx, pv, node, req.ID)
}

// VolumeNode names the node of the volume's PV.
func (c *ModifyCarrier) VolumeNode(ctx context.Context, volumeID string) (string, error) {
	pv, err := c.findPV(ctx, volumeID)
	if err != nil {
		return "", err
	}
	node := ownerNode(pv, c.o.TopologyKey)
	if node == "" {
		return "", status.Errorf(codes.FailedPrecondition,
			"PersistentVolume %s has no node affinity on %s; it was not provisioned by csi-blkio's provisioner", pv.Name, c.o.TopologyKey)
	}
	return node, nil
}

// answer reports whether pv holds the owning node's answer to request id.
func answer(pv *corev1.PersistentVolume, id string) (bool, error) {
	if pv.Annotations[AnnotationModifyApplied] == id {
		return true, nil
	}
	if r, ok := refusalOf(pv); ok && r.ID == id {
		return true, status.Error(codeNamed(r.Code), r.Message)
	}
	return false, nil
}

// findPV finds the PV whose CSI volume handle is id. PVs cannot be selected
// by handle, so this lists them; ResourceVersion "0" lets the apiserver
// answer from its watch cache. It runs once per class change of a volume.
func (c *ModifyCarrier) findPV(ctx context.Context, id string) (*corev1.PersistentVolume, error) {
	list, err := c.o.Kube.ListPersistentVolumes(ctx, metav1.ListOptions{ResourceVersion: "0"})
	if err != nil {
		return nil, status.Errorf(codes.Unavailable, "list PersistentVolumes to find volume %s: %v; retry", id, err)
	}
	for i := range list.Items {
		pv := &list.Items[i]
		if csi := pv.Spec.CSI; csi != nil && csi.Driver == c.o.Driver && csi.VolumeHandle == id {
			return pv, nil
		}
	}
	return nil, status.Errorf(codes.NotFound, "no PersistentVolume of driver %s has volume handle %s", c.o.Driver, id)
}

func (c *ModifyCarrier) writeRequest(ctx context.Context, name, node string, req modifyRequest) (*corev1.PersistentVolume, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{
		"labels":      map[string]string{LabelNode: NodeLabelValue(node)},
		"annotations": map[string]string{AnnotationModifyRequest: string(body)},
	}})
	if err != nil {
		return nil, err
	}
	return c.o.Kube.PatchPersistentVolume(ctx, name, types.MergePatchType, patch)
}

// wait watches the PV from the version that carries the request until the
// node answers or Wait runs out.
func (c *ModifyCarrier) wait(ctx context.Context, pv *corev1.PersistentVolume, node, id string) error {
	ctx, cancel := context.WithTimeout(ctx, c.o.Wait)
	defer cancel()
	pending := status.Errorf(codes.Unavailable,
		"node %s has not applied the change (request %s on PersistentVolume %s) yet; it applies it when its csi-blkio runs, and a retry then succeeds",
		node, id, pv.Name)
	w, err := c.o.WatchKube.WatchPersistentVolumes(ctx, metav1.ListOptions{
		FieldSelector: fields.OneTermEqualSelector("metadata.name", pv.Name).String(), ResourceVersion: pv.ResourceVersion,
	})
	if err != nil {
		return pending
	}
	defer w.Stop()
	for {
		select {
		case <-ctx.Done():
			return pending
		case ev, ok := <-w.ResultChan():
			if !ok {
				return pending
			}
			if ev.Type == watch.Deleted {
				return status.Errorf(codes.NotFound, "PersistentVolume %s was deleted", pv.Name)
			}
			got, isPV := ev.Object.(*corev1.PersistentVolume)
			if !isPV {
				continue
			}
			if done, err := answer(got, id); done {
				return err
			}
		}
	}
}

// codeNamed reads back a code written with Code.String(); a refusal is
// InvalidArgument unless it says otherwise.
func codeNamed(name string) codes.Code {
	for c := codes.OK; c <= codes.Unauthenticated; c++ {
		if c.String() == name {
			return c
		}
	}
	return codes.InvalidArgument
}
