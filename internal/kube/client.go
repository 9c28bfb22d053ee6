// Package kube connects csi-blkio to the Kubernetes API: the client, the
// stats worker's sink that keeps one ThrottleGroup per (pod, volume) and
// records Events on the pods, and the controller that applies live edits of
// a ThrottleGroup's spec.limits.
//
// The apiserver is never on the publish path (docs/architecture.md, invariant 2): every
// request in this package runs on the stats worker's goroutines (the sink),
// the Event broadcaster's goroutine, or the live-limits controller's
// informer and workers, each request bounded by a timeout.
package kube

import (
	"errors"
	"fmt"
	"os"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/util/flowcontrol"
	"k8s.io/klog/v2"
)

// ClientOptions say how to reach the apiserver.
type ClientOptions struct {
	// Kubeconfig is a kubeconfig file; "" means the in-cluster config when
	// running in a pod, and standalone otherwise.
	Kubeconfig string
	// QPS and Burst bound this node's requests (client-go's token bucket),
	// so that thousands of nodes cannot flood the apiserver.
	QPS   float32
	Burst int
	// RequestTimeout bounds every non-watch request, so that a hung
	// apiserver (a listener that accepts and never answers) cannot hold a
	// stats worker forever. Default 10s.
	RequestTimeout time.Duration
	// UserAgent, e.g. "csi-blkio/v0.1.0 (node-1)".
	UserAgent string
}

// Clients are the API clients of one plugin.
type Clients struct {
	// Kube is the core/v1 client (Pods, claims, volumes, Events),
	// requests time-limited.
	Kube *Core
	// WatchKube is the core/v1 client for informers and watches: no
	// client-side timeout (see WatchThrottleGroups).
	WatchKube *Core
	// ThrottleGroups writes ThrottleGroups, requests time-limited.
	ThrottleGroups *ThrottleGroups
	// WatchThrottleGroups lists and watches for the informer: it has no
	// client-side timeout, because a watch is a long request the server
	// ends itself (the reflector asks for a timeout of minutes).
	WatchThrottleGroups *ThrottleGroups
}

// ErrStandalone: no kubeconfig and not in a pod; the Kubernetes sinks are
// off and everything else works.
var ErrStandalone = errors.New("no kubeconfig and not running in a pod: standalone, Kubernetes sinks off")

// RESTConfig picks the configuration: the kubeconfig file if given, else
// the in-cluster config, else ErrStandalone.
func RESTConfig(o ClientOptions) (*rest.Config, error) {
	var cfg *rest.Config
	var err error
	switch {
	case o.Kubeconfig != "":
		cfg, err = clientcmd.BuildConfigFromFlags("", o.Kubeconfig)
		if err != nil {
			return nil, fmt.Errorf("kubeconfig %s: %w", o.Kubeconfig, err)
		}
	case inPod():
		cfg, err = rest.InClusterConfig()
		if err != nil {
			return nil, fmt.Errorf("in-cluster config: %w", err)
		}
	default:
		return nil, ErrStandalone
	}
	cfg.QPS, cfg.Burst = o.QPS, o.Burst
	if o.UserAgent != "" {
		cfg.UserAgent = o.UserAgent
	}
	// Protobuf for the built-in types the plugin reads and writes (Pods,
	// Events): less CPU on the apiserver; CRDs only speak JSON.
	cfg.ContentType = "application/vnd.kubernetes.protobuf"
	cfg.AcceptContentTypes = "application/vnd.kubernetes.protobuf,application/json"
	return cfg, nil
}

// inPod reports whether the process runs in a pod with a service account:
// the kubelet injects the service host and mounts the token.
func inPod() bool {
	if os.Getenv("KUBERNETES_SERVICE_HOST") == "" {
		return false
	}
	_, err := os.Stat("/var/run/secrets/kubernetes.io/serviceaccount/token")
	return err == nil
}

// NewClients builds the clients from o; ErrStandalone when there is no
// apiserver to talk to.
func NewClients(o ClientOptions) (*Clients, error) {
	cfg, err := RESTConfig(o)
	if err != nil {
		return nil, err
	}
	return ClientsFor(cfg, o.RequestTimeout)
}

// ClientsFor builds the clients on cfg (tests pass a config with a
// ServiceAccount token).
func ClientsFor(cfg *rest.Config, requestTimeout time.Duration) (*Clients, error) {
	if requestTimeout <= 0 {
		requestTimeout = 10 * time.Second
	}
	timed := rest.CopyConfig(cfg)
	timed.Timeout = requestTimeout
	// One token bucket for all three clients: QPS/Burst bound the node, not
	// each client (rest.RESTClientFor would give each its own bucket).
	if timed.RateLimiter == nil && timed.QPS > 0 {
		timed.RateLimiter = flowcontrol.NewTokenBucketRateLimiter(timed.QPS, timed.Burst)
	}
	kc, err := NewCore(timed)
	if err != nil {
		return nil, err
	}
	untimed := rest.CopyConfig(timed)
	untimed.Timeout = 0
	wkc, err := NewCore(untimed)
	if err != nil {
		return nil, err
	}
	crd := rest.CopyConfig(timed)
	crd.ContentType, crd.AcceptContentTypes = "application/json", "application/json"
	tg, err := NewThrottleGroups(crd)
	if err != nil {
		return nil, err
	}
	crd.Timeout = 0
	wtg, err := NewThrottleGroups(crd)
	if err != nil {
		return nil, err
	}
	klog.V(2).InfoS("Kubernetes API client", "host", cfg.Host, "qps", cfg.QPS, "burst", cfg.Burst, "requestTimeout", requestTimeout)
	return &Clients{Kube: kc, WatchKube: wkc, ThrottleGroups: tg, WatchThrottleGroups: wtg}, nil
}
