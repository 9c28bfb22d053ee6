// Package v1alpha1 holds the ThrottleGroup API of csi-blkio: one object per
// (pod, volume) throttle group on a node, whose spec carries the limits a
// user may edit live and whose status mirrors what the kernel enforces and
// what the stats worker observed.
//
// The CRD in charts/csi-blkio is generated from these types (`make generate`,
// controller-gen); a test fails when the checked-in copy differs.
//
// +kubebuilder:object:generate=true
// +groupName=blkio.csi.dev
package v1alpha1
