//go:build chart

package helm

import (
	"testing"

	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/utils/ptr"
)

func TestCSIDriverFields(t *testing.T) {
	d := newHelm(t).render(t, "").csiDriver
	if d == nil {
		t.Fatal("no CSIDriver rendered")
	}
	if d.Name != "blkio.csi.dev" {
		t.Errorf("CSIDriver name %q, want blkio.csi.dev (the driver name the plugin registers)", d.Name)
	}
	fsGroupFile := storagev1.FileFSGroupPolicy
	want := storagev1.CSIDriverSpec{
		AttachRequired:                ptr.To(false),
		PodInfoOnMount:                ptr.To(true),
		VolumeLifecycleModes:          []storagev1.VolumeLifecycleMode{storagev1.VolumeLifecyclePersistent, storagev1.VolumeLifecycleEphemeral},
		StorageCapacity:               ptr.To(true),
		FSGroupPolicy:                 &fsGroupFile,
		TokenRequests:                 []storagev1.TokenRequest{},
		RequiresRepublish:             ptr.To(false),
		SELinuxMount:                  ptr.To(false),
		PreventPodSchedulingIfMissing: ptr.To(true),
	}
	if !equality.Semantic.DeepEqual(d.Spec, want) {
		t.Errorf("CSIDriver spec\n got %+v\nwant %+v", d.Spec, want)
	}
	// Written out means present in the manifest, not just defaulted by the
	// apiserver: a nil pointer here is a field the template left out.
	if d.Spec.TokenRequests == nil {
		t.Error("tokenRequests is not written out")
	}
}

func TestCSIDriverFollowsDriverName(t *testing.T) {
	o := newHelm(t).render(t, "driverName: blkio-b.example.com\n")
	if o.csiDriver.Name != "blkio-b.example.com" {
		t.Errorf("CSIDriver name %q", o.csiDriver.Name)
	}
	for _, sc := range o.storageClasses {
		if sc.Provisioner != "blkio-b.example.com" {
			t.Errorf("StorageClass %s provisioner %q", sc.Name, sc.Provisioner)
		}
	}
	args := container(t, o.daemonSet, "csi-blkio").Args
	if !contains(args, "--driver-name=blkio-b.example.com") {
		t.Errorf("plugin args lack the driver name: %v", args)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
