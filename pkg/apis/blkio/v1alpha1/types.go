package v1alpha1

import (
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// ThrottleGroup is one throttle group on one node: the IO of a pod (or of
// every pod, scope volume) to one csi-blkio volume, held by the kernel to the
// limits in spec. The node's csi-blkio creates it when it publishes the
// volume, owned by the Pod so that it goes away with it; users read it
// (`kubectl get throttlegroups` is the dashboard, `describe` the detail) and
// may edit spec.limits, which csi-blkio applies to the kernel live.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Namespaced,shortName=tg,categories=csi-blkio
// +kubebuilder:printcolumn:name="Pod",type=string,JSONPath=`.spec.podName`
// +kubebuilder:printcolumn:name="Volume",type=string,JSONPath=`.spec.volumeID`
// +kubebuilder:printcolumn:name="Scope",type=string,JSONPath=`.spec.scope`
// +kubebuilder:printcolumn:name="Read/s",type=integer,JSONPath=`.status.rates.readBytesPerSecond`,description="Observed read bytes per second over the last sample interval."
// +kubebuilder:printcolumn:name="Write/s",type=integer,JSONPath=`.status.rates.writeBytesPerSecond`,description="Observed write bytes per second over the last sample interval."
// +kubebuilder:printcolumn:name="Read IOPS",type=integer,JSONPath=`.status.rates.readIOPS`,description="Observed read operations per second."
// +kubebuilder:printcolumn:name="Write IOPS",type=integer,JSONPath=`.status.rates.writeIOPS`,description="Observed write operations per second."
// +kubebuilder:printcolumn:name="Saturation",type=integer,JSONPath=`.status.saturationPercent`,description="Observed rate as a percentage of its limit, highest over the limited knobs."
// +kubebuilder:printcolumn:name="Burst",type=integer,JSONPath=`.status.burst.balancePercent`,description="Burst credit left, percent of a full bucket (the lowest over the limits with a burst)."
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:printcolumn:name="Node",type=string,JSONPath=`.spec.nodeName`,priority=1
// +kubebuilder:printcolumn:name="Device",type=string,JSONPath=`.status.device`,priority=1
// +kubebuilder:printcolumn:name="Backend",type=string,JSONPath=`.status.backend`,priority=1
type ThrottleGroup struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec ThrottleGroupSpec `json:"spec"`
	// +optional
	Status ThrottleGroupStatus `json:"status,omitempty"`
}

// ThrottleGroupList is a list of ThrottleGroups.
//
// +kubebuilder:object:root=true
type ThrottleGroupList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ThrottleGroup `json:"items"`
}

// ThrottleGroupSpec names the group and carries its limits. Everything but
// limits identifies the group and is immutable: the plugin's throttle core
// keys its groups by (volume, pod) and cannot move one.
type ThrottleGroupSpec struct {
	// nodeName is the node whose csi-blkio enforces this group; only that
	// node's plugin acts on the object.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="nodeName is immutable"
	NodeName string `json:"nodeName"`

	// podName is the pod whose IO the group holds (empty for a volume-scope
	// group published without pod information).
	// +optional
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="podName is immutable"
	PodName string `json:"podName,omitempty"`

	// podUID is the UID of that pod, as the kubelet passed it with
	// podInfoOnMount; it locates the pod's cgroup.
	// +optional
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="podUID is immutable"
	PodUID types.UID `json:"podUID,omitempty"`

	// volumeID is the CSI volume ID (the PersistentVolume's volumeHandle,
	// or the kubelet-made ID of an inline ephemeral volume).
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="volumeID is immutable"
	VolumeID string `json:"volumeID"`

	// persistentVolumeName is the PersistentVolume of the volume; empty for
	// an inline ephemeral volume.
	// +optional
	PersistentVolumeName string `json:"persistentVolumeName,omitempty"`

	// persistentVolumeClaimName is the claim (in this namespace) the pod
	// mounts; empty for an inline ephemeral volume.
	// +optional
	PersistentVolumeClaimName string `json:"persistentVolumeClaimName,omitempty"`

	// scope says which IO one budget covers: "pod" (the pod's IO to the
	// volume) or "volume" (all IO to the volume on the node, buffered
	// writeback included). status.semantics says how the node's cgroup
	// version realises it.
	// +optional
	// +kubebuilder:default=pod
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="scope is immutable: delete the pod and publish the volume with a different scope parameter"
	Scope Scope `json:"scope,omitempty"`

	// limits are the kernel limits of the group. Edit them to change the
	// kernel limits live; an omitted or zero knob is unlimited.
	// +optional
	Limits Limits `json:"limits,omitempty"`
}

// Limits are the four blk-throttle knobs. An omitted or zero knob is
// unlimited, which is how the kernel itself reads back a limit that is not set.
//
// IOPS stop at 4294967294: blk-throttle holds them in an unsigned int and
// reads UINT_MAX as "no limit".
//
// Byte rates are Kubernetes quantities, as in StorageClass parameters, so a
// live edit can say "20Mi" instead of 20971520. Fractions and the sub-unit
// suffixes (m, u, n) are refused: the kernel counts whole bytes.
type Limits struct {
	// readBytesPerSecond caps reads, in bytes per second ("50Mi", "500k", 1048576).
	// +optional
	// +kubebuilder:validation:XValidation:rule="type(self) == int ? self >= 0 : self.matches('^[+]?[0-9]+([KMGTPE]i|[kMGTPE])?$')",message="must be a whole, non-negative number of bytes per second, e.g. 20Mi, 500k or 1048576"
	ReadBytesPerSecond *resource.Quantity `json:"readBytesPerSecond,omitempty"`

	// writeBytesPerSecond caps writes, in bytes per second ("20Mi").
	// +optional
	// +kubebuilder:validation:XValidation:rule="type(self) == int ? self >= 0 : self.matches('^[+]?[0-9]+([KMGTPE]i|[kMGTPE])?$')",message="must be a whole, non-negative number of bytes per second, e.g. 20Mi, 500k or 1048576"
	WriteBytesPerSecond *resource.Quantity `json:"writeBytesPerSecond,omitempty"`

	// readIOPS caps read operations per second.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=4294967294
	ReadIOPS int64 `json:"readIOPS,omitempty"`

	// writeIOPS caps write operations per second.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=4294967294
	WriteIOPS int64 `json:"writeIOPS,omitempty"`
}

// Scope is the IO one budget covers.
// +kubebuilder:validation:Enum=pod;volume
type Scope string

const (
	// ScopePod: one pod's IO to the volume.
	ScopePod Scope = "pod"
	// ScopeVolume: all IO to the volume on the node.
	ScopeVolume Scope = "volume"
)
