package kube

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/csi-blkio/csi-blkio/internal/throttle"
)

func TestObjectName(t *testing.T) {
	key := throttle.Key{VolumeID: "blkio-3fa2c9d8e1aa0b7c6d5e4f30291817161514131211", PodUID: "0b6c7a2e-1111-4222-8333-944455556666"}
	long := strings.Repeat("a", 70)
	for _, tc := range []struct {
		name, pod string
		key       throttle.Key
		prefix    string
	}{
		{"pod and volume readable", "writer", key, "writer-blkio-3fa2c9d8e1aa0b7c6d5e4f30291817161514131-"},
		{"long pod name cut", long, key, strings.Repeat("a", 52) + "-"},
		{"invalid characters", "Web_Server.0", throttle.Key{VolumeID: "Vol_1", PodUID: "u"}, "web-server-0-vol-1-"},
		{"nothing usable", "", throttle.Key{VolumeID: "___", PodUID: "u"}, "tg-"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := ObjectName(tc.pod, tc.key)
			if errs := validation.IsDNS1123Label(got); len(errs) != 0 {
				t.Fatalf("ObjectName = %q is not a DNS label: %v", got, errs)
			}
			if !strings.HasPrefix(got, tc.prefix) || len(got) != len(tc.prefix)+hashLen {
				t.Errorf("ObjectName = %q, want %q + %d hash digits", got, tc.prefix, hashLen)
			}
			if again := ObjectName(tc.pod, tc.key); again != got {
				t.Errorf("not deterministic: %q then %q", got, again)
			}
		})
	}
	// Same pod name, same volume, new pod (a StatefulSet's replacement): a
	// new object, so the old one can wait for garbage collection.
	other := key
	other.PodUID = "ffffffff-1111-4222-8333-944455556666"
	if ObjectName("writer", key) == ObjectName("writer", other) {
		t.Error("a re-created pod of the same name gets the same object name")
	}
}

func TestNodeLabelValue(t *testing.T) {
	if got := NodeLabelValue("node-1.example.com"); got != "node-1.example.com" {
		t.Errorf("valid node name changed to %q", got)
	}
	long := strings.Repeat("n", 64) + ".example.com"
	got := NodeLabelValue(long)
	if errs := validation.IsValidLabelValue(got); len(errs) != 0 {
		t.Fatalf("NodeLabelValue(%d chars) = %q is not a label value: %v", len(long), got, errs)
	}
	if got == NodeLabelValue(long+"x") {
		t.Error("two long node names share a label value")
	}
}
