package kube

import (
	"testing"

	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/csi-blkio/csi-blkio/internal/throttle"
	"github.com/csi-blkio/csi-blkio/pkg/apis/blkio/v1alpha1"
)

func TestOwnSpecsTellsTheRewriteFromStaleAndUserSpecs(t *testing.T) {
	tg := func(uid string, gen int64, wbps string) *v1alpha1.ThrottleGroup {
		q := resource.MustParse(wbps)
		return &v1alpha1.ThrottleGroup{
			ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "tg", UID: types.UID(uid), Generation: gen},
			Spec:       v1alpha1.ThrottleGroupSpec{Limits: v1alpha1.Limits{WriteBytesPerSecond: &q}},
		}
	}
	var own OwnSpecs
	// A class change to 32Mi rewrites the spec of generation 4 (16Mi).
	own.Writing(tg("a", 4, "16Mi"), throttle.Limits{WriteBytesPerSecond: 32 << 20})
	for _, c := range []struct {
		what        string
		obj         *v1alpha1.ThrottleGroup
		stale, mine bool
	}{
		{"the cache's spec from before the rewrite", tg("a", 4, "16Mi"), true, false},
		{"an older one still", tg("a", 3, "8Mi"), true, false},
		{"the rewrite itself", tg("a", 5, "32Mi"), false, true},
		{"a user's edit after it", tg("a", 6, "2Mi"), false, false},
		{"a user's edit that came before the rewrite landed", tg("a", 5, "2Mi"), false, false},
		{"a new object under the same name", tg("b", 1, "32Mi"), false, false},
	} {
		if stale, mine := own.Judge("ns/tg", c.obj); stale != c.stale || mine != c.mine {
			t.Errorf("%s: stale %v own %v, want %v %v", c.what, stale, mine, c.stale, c.mine)
		}
	}
	own.Forget("ns/tg") // deleted, or the rewrite failed
	if stale, mine := own.Judge("ns/tg", tg("a", 4, "16Mi")); stale || mine {
		t.Errorf("after Forget: stale %v own %v, want neither", stale, mine)
	}
	var none *OwnSpecs // not wired: every spec is the user's
	none.Writing(tg("a", 4, "16Mi"), throttle.Limits{WriteBytesPerSecond: 32 << 20})
	if stale, mine := none.Judge("ns/tg", tg("a", 4, "16Mi")); stale || mine {
		t.Errorf("nil OwnSpecs: stale %v own %v, want neither", stale, mine)
	}
}
