package driver

import (
	"context"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"k8s.io/klog/v2"
)

// expandElsewhere answers ControllerExpandVolume for a volume of another
// node. csi-resizer runs once per cluster and calls the plugin of its own
// node, but the backing file is on the volume's node and only that node can
// grow it. So the controller step here only checks that the volume exists
// (its PersistentVolume) and asks for node expansion: the kubelet of the
// volume's node then calls NodeExpandVolume there, which grows the backing
// file, the loop device and the filesystem in one step.
func (d *Driver) expandElsewhere(ctx context.Context, id string, cr *csi.CapacityRange) (*csi.ControllerExpandVolumeResponse, error) {
	node, err := d.deps.Carrier.VolumeNode(ctx, id)
	if err != nil {
		return nil, err
	}
	size, err := capacityOf(cr, false)
	if err != nil {
		return nil, err
	}
	klog.FromContext(ctx).V(2).Info("Volume of another node: its node grows it in NodeExpandVolume", "volumeID", id, "node", node, "bytes", size)
	return &csi.ControllerExpandVolumeResponse{CapacityBytes: size, NodeExpansionRequired: true}, nil
}
