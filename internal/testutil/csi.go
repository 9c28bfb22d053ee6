package testutil

import "github.com/container-storage-interface/spec/lib/go/csi"

// MountCap is a single-node-writer filesystem capability; fsType "" is the
// driver's default (ext4). Tests of every tier ask for volumes with it, as
// the kubelet and external-provisioner do for a ReadWriteOnce PVC.
func MountCap(fsType string) *csi.VolumeCapability {
	return &csi.VolumeCapability{
		AccessType: &csi.VolumeCapability_Mount{Mount: &csi.VolumeCapability_MountVolume{FsType: fsType}},
		AccessMode: &csi.VolumeCapability_AccessMode{Mode: csi.VolumeCapability_AccessMode_SINGLE_NODE_WRITER},
	}
}

// BlockCap is a single-node-writer raw block capability.
func BlockCap() *csi.VolumeCapability {
	return &csi.VolumeCapability{
		AccessType: &csi.VolumeCapability_Block{Block: &csi.VolumeCapability_BlockVolume{}},
		AccessMode: &csi.VolumeCapability_AccessMode{Mode: csi.VolumeCapability_AccessMode_SINGLE_NODE_WRITER},
	}
}

// Cap is BlockCap when block is set, MountCap(fsType) otherwise.
func Cap(block bool, fsType string) *csi.VolumeCapability {
	if block {
		return BlockCap()
	}
	return MountCap(fsType)
}

// PodContext is the volume context the kubelet adds to NodePublishVolume
// with podInfoOnMount: the pod's UID (which the plugin resolves to the
// pod's cgroup), name and namespace.
func PodContext(uid, name, namespace string) map[string]string {
	return map[string]string{
		"csi.storage.k8s.io/pod.uid":       uid,
		"csi.storage.k8s.io/pod.name":      name,
		"csi.storage.k8s.io/pod.namespace": namespace,
	}
}
