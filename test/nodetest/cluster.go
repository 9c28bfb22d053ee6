package nodetest

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// Names the chart and the suites agree on.
const (
	DriverName = "blkio.csi.dev"
	// Release is the helm release of the chart.
	Release = "csi-blkio"
	// PluginNamespace holds the release, under the project's test prefix.
	PluginNamespace = "csiblkio-test-system"
)

// Cluster is a test node's apiserver: the clients and how often the
// suite's waits ask it.
type Cluster struct {
	CS  kubernetes.Interface
	Dyn dynamic.Interface
	// Every is the poll interval of the waits below: short on a host node,
	// longer in an emulated VM where every request is slow.
	Every time.Duration
}

// Connect builds the clients of kubeconfig. requestTimeout bounds each
// request (0: none).
func Connect(kubeconfig string, every, requestTimeout time.Duration) (*Cluster, error) {
	rc, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, err
	}
	// The tests poll: client-go's default 5 QPS would throttle them.
	rc.QPS, rc.Burst = 50, 100
	rc.Timeout = requestTimeout
	c := &Cluster{Every: every}
	if c.CS, err = kubernetes.NewForConfig(rc); err != nil {
		return nil, err
	}
	if c.Dyn, err = dynamic.NewForConfig(rc); err != nil {
		return nil, err
	}
	return c, nil
}

// CreateNamespace creates ns and waits for its default ServiceAccount,
// which the namespace controller creates and pods need.
func (c *Cluster) CreateNamespace(t testing.TB, ns string) {
	t.Helper()
	obj := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}
	if _, err := c.CS.CoreV1().Namespaces().Create(Context(t, time.Minute), obj, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	Poll(t, c.Every, 2*time.Minute, "default ServiceAccount in "+ns, func(ctx context.Context) (bool, error) {
		_, err := c.CS.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{})
		return err == nil, err
	})
}

// StorageClass is a WaitForFirstConsumer class of csi-blkio with params:
// a node-local volume is provisioned once the pod's node is known.
func StorageClass(name string, params map[string]string) *storagev1.StorageClass {
	wffc := storagev1.VolumeBindingWaitForFirstConsumer
	del := corev1.PersistentVolumeReclaimDelete
	return &storagev1.StorageClass{
		ObjectMeta:        metav1.ObjectMeta{Name: name},
		Provisioner:       DriverName,
		Parameters:        params,
		ReclaimPolicy:     &del,
		VolumeBindingMode: &wffc,
	}
}

// CreateStorageClass creates sc.
func (c *Cluster) CreateStorageClass(t testing.TB, sc *storagev1.StorageClass) {
	t.Helper()
	if _, err := c.CS.StorageV1().StorageClasses().Create(Context(t, time.Minute), sc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// Claim is a ReadWriteOnce claim of size in class.
func Claim(ns, name, class, size string) *corev1.PersistentVolumeClaim {
	return &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			StorageClassName: &class,
			Resources: corev1.VolumeResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(size)},
			},
		},
	}
}

// CreateClaim creates pvc.
func (c *Cluster) CreateClaim(t testing.TB, pvc *corev1.PersistentVolumeClaim) {
	t.Helper()
	if _, err := c.CS.CoreV1().PersistentVolumeClaims(pvc.Namespace).Create(Context(t, time.Minute), pvc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// WaitDriverRegistered waits until node's CSINode lists the driver: the
// kubelet called csi-blkio's registration socket and NodeGetInfo. It
// returns an error rather than failing a test, so that a suite's set-up,
// which runs before any test, can use it too.
func (c *Cluster) WaitDriverRegistered(node string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var last error // the CSINode may not exist yet: keep polling, tell it at the end
	err := wait.PollUntilContextCancel(ctx, c.Every, true, func(ctx context.Context) (bool, error) {
		n, err := c.CS.StorageV1().CSINodes().Get(ctx, node, metav1.GetOptions{})
		if last = err; err != nil {
			return false, nil //nolint:nilerr // not there yet: poll again; the message tells the last error
		}
		return slices.ContainsFunc(n.Spec.Drivers, func(d storagev1.CSINodeDriver) bool { return d.Name == DriverName }), nil
	})
	if err != nil {
		return fmt.Errorf("the kubelet did not register %s within %s (CSINode %s; last error: %v): %w", DriverName, timeout, node, last, err)
	}
	return nil
}
