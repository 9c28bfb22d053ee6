package kube

import (
	"sync"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"

	"github.com/csi-blkio/csi-blkio/internal/throttle"
	"github.com/csi-blkio/csi-blkio/pkg/apis/blkio/v1alpha1"
)

// OwnSpecs remembers the spec.limits the plugin itself writes into each
// ThrottleGroup for a VolumeAttributesClass change (ModifyController's
// rewrite), so that the live-limits controller does not take them for a
// user's edit. Without it, that controller, reading from its informer,
// raced the rewrite both ways: it applied the new spec a moment before the
// class change did, recorded as a ThrottleGroup edit of the group (an
// override that could outlive the class change, and a LimitsChanged Event
// that is not true); or a resync found the old spec still in its cache
// after the kernel took the class's limits, and put the old ones back.
//
// The rewrite is recorded before it is sent: the informer can deliver
// the new object before the patch call returns.
// The zero value is ready; a nil *OwnSpecs knows nothing.
type OwnSpecs struct {
	mu sync.Mutex
	m  map[string]ownSpec // object "ns/name" -> the plugin's last rewrite
}

type ownSpec struct {
	uid    types.UID
	base   int64 // the generation the rewrite was made on top of
	limits throttle.Limits
}

// Writing records that the plugin is about to write limits into tg's
// spec, tg being the object as it read it.
func (o *OwnSpecs) Writing(tg *v1alpha1.ThrottleGroup, l throttle.Limits) {
	if o == nil {
		return
	}
	k, err := cache.MetaNamespaceKeyFunc(tg)
	if err != nil {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.m == nil {
		o.m = map[string]ownSpec{}
	}
	o.m[k] = ownSpec{uid: tg.UID, base: tg.Generation, limits: l}
}

// Judge says whether tg, as an informer has it under key k, is older than
// the plugin's last rewrite of it (stale: the rewrite's event is on the
// way) or carries that rewrite (own). Anything else — a newer generation
// with other limits, another object under the same name — is a user's
// edit.
func (o *OwnSpecs) Judge(k string, tg *v1alpha1.ThrottleGroup) (stale, own bool) {
	if o == nil {
		return false, false
	}
	o.mu.Lock()
	w, ok := o.m[k]
	o.mu.Unlock()
	if !ok || w.uid != tg.UID {
		return false, false
	}
	if tg.Generation <= w.base {
		return true, false
	}
	l, err := LimitsFromAPI(tg.Spec.Limits)
	return false, err == nil && l == w.limits
}

// Forget drops what it knows of object k: deleted, or the rewrite did not
// land.
func (o *OwnSpecs) Forget(k string) {
	if o == nil {
		return
	}
	o.mu.Lock()
	delete(o.m, k)
	o.mu.Unlock()
}
