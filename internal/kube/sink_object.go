package kube

import (
	"context"
	"encoding/json"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/klog/v2"

	"github.com/csi-blkio/csi-blkio/internal/throttle"
	"github.com/csi-blkio/csi-blkio/pkg/apis/blkio/v1alpha1"
)

// objectRef names the ThrottleGroup the sink writes; the UID guards every
// status patch against an object deleted and re-created meanwhile.
type objectRef struct {
	namespace, name string
	uid             types.UID
}

// ensureObject creates the group's ThrottleGroup, or adopts the one a
// previous run of the plugin created. nil, nil: the pod is gone, so no
// object (the group is about to be unpublished).
func (s *Sink) ensureObject(ctx context.Context, gs *groupState, st throttle.GroupStatus) (*objectRef, error) {
	if gs.obj != nil {
		return gs.obj, nil
	}
	now := s.o.Clock.Now()
	if !gs.podGoneAt.IsZero() && now.Sub(gs.podGoneAt) < s.o.PodRecheck {
		return nil, nil
	}
	p := st.Spec.Pod
	// An object a previous run of the plugin created is adopted with one
	// read and no write (a restarted node must not spend its write budget
	// on objects that exist). Looked up once: after a NotFound the create
	// below, and its AlreadyExists answer, handle the rest.
	if !gs.lookedUp {
		got, err := s.o.ThrottleGroups.Get(ctx, p.Namespace, ObjectName(p.Name, st.Key))
		switch {
		case err == nil:
			return s.adopt(ctx, gs, st, got)
		case !apierrors.IsNotFound(err):
			return nil, fmt.Errorf("get ThrottleGroup %s/%s: %w", p.Namespace, ObjectName(p.Name, st.Key), err)
		}
		gs.lookedUp = true
	}
	// The token is taken before the reads that prepare the create, so that
	// a node waiting for its budget does not read the pods over and over.
	// A deferred create is tried again at the group's next sync.
	if ok, _ := s.o.Budget.Take("create", PriorityNew); !ok {
		return nil, nil
	}
	pod, err := livePod(ctx, s.o.Kube, p)
	if err != nil {
		return nil, err
	}
	if pod == nil {
		gs.podGoneAt = now
		s.logger(ctx, st).V(2).Info("Pod of throttle group not found (deleted or re-created); no ThrottleGroup for it")
		return nil, nil
	}
	gs.podGoneAt = now.Add(-s.o.PodRecheck) // found; recheck at once if it ever goes
	pvc, pv := claimOf(ctx, s.o.Kube, pod, st.Key.VolumeID)
	want := s.newObject(st, pvc, pv)
	created, err := s.o.ThrottleGroups.Create(ctx, want)
	switch {
	case err == nil:
		s.o.OnWrite("create")
		gs.obj, gs.written = refOf(created), nil
		// It was created with the limits in force: the live-limits
		// controller will find nothing to do for this generation, so the
		// first status can carry it already.
		if s.o.Specs != nil && s.o.Specs.Get(st.Key).Generation < created.Generation {
			s.o.Specs.Set(st.Key, SpecState{Generation: created.Generation})
		}
		s.logger(ctx, st).V(2).Info("ThrottleGroup created", "throttleGroup", klog.KObj(created))
	case apierrors.IsAlreadyExists(err):
		got, err := s.o.ThrottleGroups.Get(ctx, want.Namespace, want.Name)
		if err != nil {
			return nil, fmt.Errorf("get existing ThrottleGroup %s/%s: %w", want.Namespace, want.Name, err)
		}
		return s.adopt(ctx, gs, st, got)
	default:
		return nil, fmt.Errorf("create ThrottleGroup %s/%s: %w", want.Namespace, want.Name, err)
	}
	return gs.obj, nil
}

// adopt takes over an existing object, if it is this group's.
func (s *Sink) adopt(ctx context.Context, gs *groupState, st throttle.GroupStatus, got *v1alpha1.ThrottleGroup) (*objectRef, error) {
	if g := got.Spec; g.NodeName != s.o.Node || g.VolumeID != st.Key.VolumeID || string(g.PodUID) != st.Key.PodUID {
		return nil, fmt.Errorf("ThrottleGroup %s/%s exists but is node %q, volume %q, pod UID %q, not this group; delete it",
			got.Namespace, got.Name, g.NodeName, g.VolumeID, g.PodUID)
	}
	gs.obj = refOf(got)
	// Compare the next status with what the object shows, so that an
	// unchanged group after a plugin restart costs no write.
	// Its last sample time approximates when it was written, so a status
	// left hours ago by a stopped plugin is refreshed at once.
	if got.Status.Phase != "" {
		gs.written = got.Status.DeepCopy()
		if t := got.Status.LastSampleTime; t != nil {
			gs.writtenAt, gs.dataAt = t.Time, t.Time
		}
	}
	s.logger(ctx, st).V(2).Info("ThrottleGroup adopted", "throttleGroup", klog.KObj(got))
	return gs.obj, nil
}

// newObject is the ThrottleGroup of a group: named deterministically,
// labelled with the node so that the node's informer selects it, owned by
// the pod, spec.limits the limits in force.
func (s *Sink) newObject(st throttle.GroupStatus, pvc, pv string) *v1alpha1.ThrottleGroup {
	p := st.Spec.Pod
	return &v1alpha1.ThrottleGroup{
		ObjectMeta: metav1.ObjectMeta{
			Name:            ObjectName(p.Name, st.Key),
			Namespace:       p.Namespace,
			Labels:          map[string]string{LabelNode: NodeLabelValue(s.o.Node), LabelManagedBy: ManagedBy},
			OwnerReferences: []metav1.OwnerReference{ownerOf(p)},
		},
		Spec: v1alpha1.ThrottleGroupSpec{
			NodeName:                  s.o.Node,
			PodName:                   p.Name,
			PodUID:                    types.UID(p.UID),
			VolumeID:                  st.Key.VolumeID,
			PersistentVolumeName:      pv,
			PersistentVolumeClaimName: pvc,
			Scope:                     v1alpha1.Scope(st.Spec.Scope),
			Limits:                    *LimitsToAPI(st.Spec.Limits),
		},
	}
}

// writeStatus patches the status when the coalescing rules say it is due,
// and reports whether it sent the patch.
func (s *Sink) writeStatus(ctx context.Context, gs *groupState, st throttle.GroupStatus) (bool, error) {
	now := s.o.Clock.Now()
	inEpisode, sat := gs.episodes.active()
	var prev []metav1.Condition
	if gs.written != nil {
		prev = gs.written.Conditions
	}
	source := ""
	if s.o.Sources != nil {
		source = s.o.Sources(st.Key)
	}
	next := buildStatus(statusInput{
		source: source,
		group:  st, hierarchy: s.o.Hierarchy, ratesKnown: gs.samples >= 2,
		saturated: inEpisode, episode: sat, spec: s.o.Specs.Get(st.Key), prev: prev, now: now,
	})
	v, why := s.o.Coalescing.due(gs.written, gs.writtenAt, gs.dataAt, next, now, gs.samples <= gs.settleTo)
	if v == wait {
		return false, nil
	}
	prio := PriorityNumbers
	switch {
	case gs.written == nil:
		prio = PriorityNew // the first status of a new object
	case v == writeProminent:
		prio = PriorityChange
	}
	if ok, wait := s.o.Budget.Take("status", prio); !ok {
		if prio == PriorityChange {
			s.o.Requeue(st.Key, wait)
		}
		// New numbers wait for the next sync that finds a token; the
		// coalescing state is unchanged, so they are still due then.
		return false, nil
	}
	patch, err := statusPatch(gs.obj.uid, next)
	if err != nil {
		return false, err
	}
	obj := gs.obj
	if _, err := s.o.ThrottleGroups.Patch(ctx, obj.namespace, obj.name, types.JSONPatchType, patch, "status"); err != nil {
		if apierrors.IsNotFound(err) || apierrors.IsInvalid(err) || apierrors.IsConflict(err) {
			// Deleted (by hand) or replaced: create or adopt it again at the retry.
			gs.obj, gs.written = nil, nil
		}
		return true, fmt.Errorf("patch status of ThrottleGroup %s/%s: %w", obj.namespace, obj.name, err)
	}
	s.o.OnWrite("status")
	gs.written, gs.writtenAt = next, now
	switch v {
	case writeProminent:
		gs.settleTo = gs.samples + settleSamples
	case writeNumbers:
		gs.dataAt = now
	}
	s.logger(ctx, st).V(4).Info("ThrottleGroup status written", "throttleGroup", klog.KRef(obj.namespace, obj.name), "why", why, "phase", next.Phase)
	return true, nil
}

// statusPatch replaces the whole status (a JSON merge patch could not clear
// a field that became empty) of the object with that UID only.
func statusPatch(uid types.UID, st *v1alpha1.ThrottleGroupStatus) ([]byte, error) {
	return json.Marshal([]map[string]any{
		{"op": "test", "path": "/metadata/uid", "value": uid},
		{"op": "add", "path": "/status", "value": st},
	})
}

func refOf(tg *v1alpha1.ThrottleGroup) *objectRef {
	return &objectRef{namespace: tg.Namespace, name: tg.Name, uid: tg.UID}
}
