package kube

import (
	"context"
	"errors"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"

	"github.com/csi-blkio/csi-blkio/internal/statsworker"
	"github.com/csi-blkio/csi-blkio/internal/throttle"
	"github.com/csi-blkio/csi-blkio/pkg/apis/blkio/v1alpha1"
)

// SinkOptions configure the ThrottleGroup sink.
type SinkOptions struct {
	// Node is this node's name (spec.nodeName, the node label, Event host).
	Node string
	// Kube reads Pods (and claims); ThrottleGroups writes the objects.
	Kube           CoreAPI
	ThrottleGroups ThrottleGroupWriter
	// Recorder records Events on the Pods (NewRecorder).
	Recorder record.EventRecorder
	// Hierarchy is the cgroup hierarchy's root; status shows cgroups
	// relative to it (table.Backend().Hierarchy()).
	Hierarchy string
	// Specs is shared with the live-limits controller (nil: none runs).
	Specs *SpecStates
	// Sources, if set, names the channel that set a group's limits
	// (status.limitsSource); the driver answers from the volume record.
	Sources func(throttle.Key) string
	// Coalescing bounds the status writes (zero: DefaultCoalescing).
	Coalescing Coalescing
	// SaturationThreshold and SaturationSamples define an episode
	// (defaults 0.9 and 3).
	SaturationThreshold float64
	SaturationSamples   int
	// PodRecheck is how long a pod found gone is not looked up again
	// (default 1 minute): its group is about to be unpublished.
	PodRecheck time.Duration
	// OnWrite, if set, is told of every write to the apiserver the sink
	// makes ("create", "status"), e.g. to count them in a metric.
	OnWrite func(verb string)
	// Budget bounds this node's apiserver writes (nil: unbounded). The
	// sink's creates and status patches spend it; its Events do when
	// Recorder is wrapped with BudgetRecorder on the same budget.
	Budget *WriteBudget
	// Requeue, if set, has the stats worker sync a key again after a delay
	// (Worker.EnqueueAfter): a prominent status write the budget deferred
	// is retried as soon as a token is there, not at the next resync.
	Requeue func(key throttle.Key, after time.Duration)
	// OnPause, if set, is told when the sink starts leaving an unavailable
	// apiserver alone (true) and when it is back (false), e.g. for a gauge.
	OnPause func(paused bool)
	// MinBackoff and MaxBackoff bound how long the sink leaves an
	// unreachable or hung apiserver alone (defaults 5 s and 1 min; see
	// breaker).
	MinBackoff, MaxBackoff time.Duration
	Clock                  clock.PassiveClock
}

// ThrottleGroupWriter is what the sink does with ThrottleGroups
// (*ThrottleGroups; unit tests use a fake).
type ThrottleGroupWriter interface {
	Get(ctx context.Context, namespace, name string) (*v1alpha1.ThrottleGroup, error)
	Create(ctx context.Context, tg *v1alpha1.ThrottleGroup) (*v1alpha1.ThrottleGroup, error)
	Patch(ctx context.Context, namespace, name string, pt types.PatchType, data []byte, subresource ...string) (*v1alpha1.ThrottleGroup, error)
}

// Sink is the stats worker's Kubernetes sink: for every group with pod
// information it keeps one ThrottleGroup in the pod's namespace, owned by
// the pod, whose status it patches (coalesced), and it records the group's
// Events on the pod. It runs on the stats worker's goroutines only; an
// error makes the worker retry the key with backoff (and, past the cap,
// surface StatsFailing).
type Sink struct {
	o       SinkOptions
	breaker *breaker

	mu     sync.Mutex
	groups map[throttle.Key]*groupState
}

var _ statsworker.Sink = (*Sink)(nil)

// NewSink returns a sink; it does nothing until the worker calls it.
func NewSink(o SinkOptions) (*Sink, error) {
	if o.Node == "" || o.Kube == nil || o.ThrottleGroups == nil || o.Recorder == nil {
		return nil, errors.New("kube.NewSink: Node, Kube, ThrottleGroups and Recorder are required")
	}
	if o.Coalescing == (Coalescing{}) {
		o.Coalescing = DefaultCoalescing()
	}
	if o.SaturationThreshold <= 0 {
		o.SaturationThreshold = 0.9
	}
	if o.SaturationSamples <= 0 {
		o.SaturationSamples = 3
	}
	if o.PodRecheck <= 0 {
		o.PodRecheck = time.Minute
	}
	if o.OnWrite == nil {
		o.OnWrite = func(string) {}
	}
	if o.Requeue == nil {
		o.Requeue = func(throttle.Key, time.Duration) {}
	}
	if o.OnPause == nil {
		o.OnPause = func(bool) {}
	}
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = 5 * time.Second
	}
	if o.MaxBackoff < o.MinBackoff {
		o.MaxBackoff = max(time.Minute, o.MinBackoff)
	}
	return &Sink{o: o, groups: map[throttle.Key]*groupState{}, breaker: newBreaker(o.Clock, o.MinBackoff, o.MaxBackoff)}, nil
}

// groupState is what the sink remembers of one group. The worker never
// syncs one key on two goroutines at once; mu only makes that explicit.
type groupState struct {
	mu sync.Mutex

	inc        uint64
	lastSample time.Time
	samples    int // distinct samples of this incarnation
	episodes   *episodes

	// Events already told, so that each goes out once per occurrence even
	// when a later step of Observe fails and the key is retried.
	applied, degraded, failing, saturatedPending bool
	drained                                      map[string]bool // burst buckets told dry, by limit
	notInKernel                                  bool            // LimitsNotInKernel told for the current episode
	repairsTold                                  uint64          // Readback.Repairs already told in LimitsRepaired Events

	obj       *objectRef // nil until created or adopted
	lookedUp  bool       // an existing object was looked for (and not found)
	podGoneAt time.Time  // when the pod was last found gone

	written   *v1alpha1.ThrottleGroupStatus // last status written, nil if none
	writtenAt time.Time                     // when
	dataAt    time.Time                     // when last written for new numbers (see Coalescing.due)
	settleTo  int                           // up to this sample, moved numbers go out at once (Coalescing.due)
}

func (s *Sink) state(key throttle.Key) *groupState {
	s.mu.Lock()
	defer s.mu.Unlock()
	gs := s.groups[key]
	if gs == nil {
		gs = &groupState{episodes: newEpisodes(s.o.SaturationThreshold, s.o.SaturationSamples)}
		s.groups[key] = gs
	}
	return gs
}

// Observe takes one installed snapshot of a group.
func (s *Sink) Observe(ctx context.Context, st throttle.GroupStatus) error {
	p := st.Spec.Pod
	if p.UID == "" || p.Name == "" || p.Namespace == "" {
		return nil // no pod information: no ThrottleGroup, no Events
	}
	gs := s.state(st.Key)
	gs.mu.Lock()
	defer gs.mu.Unlock()
	if gs.inc != st.Incarnation {
		// Removed and published again: a new group behind the same object.
		gs.inc, gs.samples, gs.lastSample = st.Incarnation, 0, time.Time{}
		gs.episodes = newEpisodes(s.o.SaturationThreshold, s.o.SaturationSamples)
		gs.applied, gs.saturatedPending, gs.drained = false, false, nil
		gs.notInKernel, gs.repairsTold = false, 0
	}
	s.sample(gs, st)
	s.events(gs, st) // through the broadcaster: never blocks

	if !s.breaker.allow() {
		return nil // the apiserver is away; the latest status goes out when it is back
	}
	requested, err := s.publish(ctx, gs, st)
	if !requested {
		s.breaker.release()
		return err
	}
	switch opened, closed := s.breaker.done(err); {
	case opened:
		s.logger(ctx, st).Error(err, "Apiserver unavailable; ThrottleGroup writes paused and retried with backoff", "backoff", s.o.MinBackoff)
		s.o.OnPause(true)
	case closed:
		s.logger(ctx, st).Info("Apiserver available again; ThrottleGroup writes resumed")
		s.o.OnPause(false)
	}
	return err
}

// publish brings the group's ThrottleGroup up to date and reports whether
// it sent a request.
func (s *Sink) publish(ctx context.Context, gs *groupState, st throttle.GroupStatus) (bool, error) {
	requested := gs.obj == nil
	obj, err := s.ensureObject(ctx, gs, st)
	if err != nil || obj == nil {
		return requested, err
	}
	wrote, err := s.writeStatus(ctx, gs, st)
	return requested || wrote, err
}

// sample counts a new sample and feeds its saturation to the episode
// tracker. The first sample of an incarnation has no rates (nothing to
// compare with), so it does not count towards saturation.
func (s *Sink) sample(gs *groupState, st throttle.GroupStatus) {
	if st.Stats.Pending || st.Stats.SampledAt.Equal(gs.lastSample) {
		return // no sample, or the same one again (a retry, a StatsFailing update)
	}
	gs.lastSample = st.Stats.SampledAt
	gs.samples++
	if gs.samples < 2 {
		return
	}
	if started, _ := gs.episodes.observe(SaturationOf(st.KernelLimits(), st.Stats)); started {
		gs.saturatedPending = true
	}
}

// Forget drops what the sink keeps for a removed group. It deletes nothing
// on the server: the Pod's garbage collection removes the ThrottleGroup.
// A group is removed by NodeUnpublishVolume, which the kubelet calls when
// the pod terminates, so GC follows shortly; deleting the object here would
// race a re-publish (kubelet retries, a plugin restart) and make the object
// vanish and reappear, and would be a write per unpublish for no gain.
// Until GC, the object shows its last status.
func (s *Sink) Forget(key throttle.Key) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.groups, key)
}

// logger is the caller's logger (the stats worker's carries the group key)
// with the group's pod added.
func (s *Sink) logger(ctx context.Context, st throttle.GroupStatus) klog.Logger {
	return klog.FromContext(ctx).WithValues("pod", klog.KRef(st.Spec.Pod.Namespace, st.Spec.Pod.Name))
}
