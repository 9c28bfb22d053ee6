package nodetest

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// QOS is a pod's QoS class. The kubelet puts each class somewhere else in
// the cgroup tree (how, depends on the node's cgroup driver and version),
// and the plugin must find all three.
type QOS string

const (
	BestEffort QOS = "BestEffort"
	Burstable  QOS = "Burstable"
	Guaranteed QOS = "Guaranteed"
)

// AllQOS lists the classes, for tests that run in each.
func AllQOS() []QOS { return []QOS{BestEffort, Burstable, Guaranteed} }

// Resources gives a container the requests and limits that make class q,
// with small cpu and memory quantities so that several pods fit the node.
func (q QOS) Resources(cpu, memory string) corev1.ResourceRequirements {
	small := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse(memory)}
	switch q {
	case Burstable:
		return corev1.ResourceRequirements{Requests: small}
	case Guaranteed:
		return corev1.ResourceRequirements{Requests: small, Limits: small}
	}
	return corev1.ResourceRequirements{}
}

// LogFields parses a line the suites' pod scripts log, "<prefix>k=v k=v ...",
// into its fields; ok is false for a line without the prefix. Words
// without "=" are passed over.
func LogFields(line, prefix string) (fields map[string]string, ok bool) {
	rest, ok := strings.CutPrefix(line, prefix)
	if !ok {
		return nil, false
	}
	fields = map[string]string{}
	for _, f := range strings.Fields(rest) {
		if k, v, ok := strings.Cut(f, "="); ok {
			fields[k] = v
		}
	}
	return fields, true
}
