//go:build chart

package helm

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/equality"

	"github.com/csi-blkio/csi-blkio/internal/params"
)

func TestThrottledStandardStorageClass(t *testing.T) {
	scs := newHelm(t).render(t, "").storageClasses
	if len(scs) != 1 {
		t.Fatalf("%d StorageClasses, want throttled-standard only", len(scs))
	}
	sc := scs[0]
	if sc.Name != "throttled-standard" || sc.Provisioner != "blkio.csi.dev" {
		t.Errorf("StorageClass %s provisioner %s", sc.Name, sc.Provisioner)
	}
	want := map[string]string{
		"readBytesPerSecond":        "50Mi",
		"writeBytesPerSecond":       "20Mi",
		"readIOPS":                  "1000",
		"writeIOPS":                 "500",
		"scope":                     "pod",
		"csi.storage.k8s.io/fstype": "ext4",
	}
	if !equality.Semantic.DeepEqual(sc.Parameters, want) {
		t.Errorf("parameters %v, want %v", sc.Parameters, want)
	}
	if _, err := params.Parse(sc.Parameters, params.ModeStorageClass); err != nil {
		t.Errorf("the plugin refuses the chart's StorageClass: %v", err)
	}
	if sc.VolumeBindingMode == nil || *sc.VolumeBindingMode != storagev1.VolumeBindingWaitForFirstConsumer {
		t.Errorf("volumeBindingMode %v", sc.VolumeBindingMode)
	}
	if sc.AllowVolumeExpansion == nil || !*sc.AllowVolumeExpansion {
		t.Error("expansion not allowed")
	}
	if sc.ReclaimPolicy == nil || *sc.ReclaimPolicy != corev1.PersistentVolumeReclaimDelete {
		t.Errorf("reclaimPolicy %v", sc.ReclaimPolicy)
	}
	if _, isDefault := sc.Annotations["storageclass.kubernetes.io/is-default-class"]; isDefault {
		t.Error("throttled-standard is the default class without being asked to")
	}
}

func TestStorageClassOptions(t *testing.T) {
	scs := newHelm(t).render(t, everythingOn).storageClasses
	if len(scs) != 2 {
		t.Fatalf("%d StorageClasses, want 2", len(scs))
	}
	gold, plain := scs[0], scs[1]
	if gold.Annotations["storageclass.kubernetes.io/is-default-class"] != "true" || gold.Annotations["note"] != "x" {
		t.Errorf("annotations %v", gold.Annotations)
	}
	if gold.Labels["tier"] != "gold" || *gold.ReclaimPolicy != corev1.PersistentVolumeReclaimRetain {
		t.Errorf("labels %v reclaim %v", gold.Labels, *gold.ReclaimPolicy)
	}
	if gold.Parameters["readBytesPerSecond"] != "1048576" || gold.Parameters["writeIOPS"] != "100" {
		t.Errorf("integer parameters rendered as %v", gold.Parameters)
	}
	if !equality.Semantic.DeepEqual(gold.MountOptions, []string{"noatime"}) {
		t.Errorf("mountOptions %v", gold.MountOptions)
	}
	// An entry with a name only gets the safe defaults.
	if plain.Name != "unthrottled" || *plain.VolumeBindingMode != storagev1.VolumeBindingWaitForFirstConsumer ||
		*plain.ReclaimPolicy != corev1.PersistentVolumeReclaimDelete || *plain.AllowVolumeExpansion || len(plain.Parameters) != 0 {
		t.Errorf("minimal StorageClass %+v", plain)
	}
}
