package volume

import (
	"reflect"
	"testing"

	"github.com/csi-blkio/csi-blkio/internal/throttle"
)

func TestGroupsYieldsEachGroupOnceInTargetOrder(t *testing.T) {
	pub := func(uid string) Publication { return Publication{Pod: throttle.PodRef{UID: uid}} }
	r := &Record{ID: "vol-1", Publications: map[string]Publication{
		"/t/c":  pub("pod-a"),
		"/t/a":  pub("pod-b"),
		"/t/b":  pub("pod-a"), // a second target of pod-a: the same group
		"/t/d":  pub("pod-c"),
		"/t/aa": pub("pod-b"),
	}}
	type got struct {
		target string
		key    throttle.Key
	}
	var out []got
	for target, key := range r.Groups() {
		out = append(out, got{target, key})
	}
	want := []got{
		{"/t/a", throttle.Key{VolumeID: "vol-1", PodUID: "pod-b"}},
		{"/t/b", throttle.Key{VolumeID: "vol-1", PodUID: "pod-a"}},
		{"/t/d", throttle.Key{VolumeID: "vol-1", PodUID: "pod-c"}},
	}
	if !reflect.DeepEqual(out, want) {
		t.Fatalf("Groups() = %v, want %v", out, want)
	}
	for range r.Groups() {
		break // stopping early must not panic (yield after false)
	}
}
