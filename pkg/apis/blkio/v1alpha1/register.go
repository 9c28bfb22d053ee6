package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// GroupName is the API group of every csi-blkio resource; it is also the
// default CSI driver name, so that both read the same in kubectl.
const GroupName = "blkio.csi.dev"

// SchemeGroupVersion is the group and version of the types in this package.
var SchemeGroupVersion = schema.GroupVersion{Group: GroupName, Version: "v1alpha1"}

// Resource returns a group-qualified resource of this API, for errors and
// RBAC checks.
func Resource(resource string) schema.GroupResource {
	return SchemeGroupVersion.WithResource(resource).GroupResource()
}

// AddToScheme registers the types of this package (and the meta types a
// list or watch needs) in a scheme, e.g. client-go's scheme.Scheme or a
// controller-runtime client's.
func AddToScheme(s *runtime.Scheme) error {
	s.AddKnownTypes(SchemeGroupVersion, &ThrottleGroup{}, &ThrottleGroupList{})
	metav1.AddToGroupVersion(s, SchemeGroupVersion)
	return nil
}
