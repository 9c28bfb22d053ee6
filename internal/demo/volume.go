package demo

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/container-storage-interface/spec/lib/go/csi"

	"github.com/csi-blkio/csi-blkio/internal/throttle"
)

// Volume is a volume the demo created and staged through CSI.
type Volume struct {
	Name, ID string
	Params   map[string]string
	Staging  string
}

// Publication is a volume published for a pod: the target the pod's
// containers see and the throttle group the publish created.
type Publication struct {
	Volume *Volume
	Pod    *Pod
	Target string
	Key    throttle.Key
}

// mountCapability is a single-node-writer ext4 mount, as a PVC of the
// chart's default StorageClass asks.
func mountCapability() *csi.VolumeCapability {
	return &csi.VolumeCapability{
		AccessMode: &csi.VolumeCapability_AccessMode{Mode: csi.VolumeCapability_AccessMode_SINGLE_NODE_WRITER},
		AccessType: &csi.VolumeCapability_Mount{Mount: &csi.VolumeCapability_MountVolume{FsType: "ext4"}},
	}
}

// NewVolume creates a volume with the given StorageClass parameters and
// stages it (CreateVolume, NodeStageVolume), as external-provisioner and
// the kubelet do. Its staging path is where the kubelet would put it.
func (s *Session) NewVolume(ctx context.Context, name string, params map[string]string) (*Volume, error) {
	start := time.Now()
	resp, err := s.controller.CreateVolume(ctx, &csi.CreateVolumeRequest{
		Name:               s.cgroupRoot + "-" + name,
		CapacityRange:      &csi.CapacityRange{RequiredBytes: s.set.size},
		VolumeCapabilities: []*csi.VolumeCapability{mountCapability()},
		Parameters:         params,
	})
	if err != nil {
		return nil, fmt.Errorf("CreateVolume %s: %w", name, err)
	}
	v := &Volume{Name: name, ID: resp.GetVolume().GetVolumeId(), Params: params}
	s.onClose("DeleteVolume "+name, func(ctx context.Context) error {
		_, err := s.controller.DeleteVolume(ctx, &csi.DeleteVolumeRequest{VolumeId: v.ID})
		return err
	})
	created := since(start)

	start = time.Now()
	v.Staging = filepath.Join(s.work, "kubelet", "plugins", "kubernetes.io", "csi", "blkio.csi.dev", v.ID, "globalmount")
	if _, err := s.csiNode.NodeStageVolume(ctx, &csi.NodeStageVolumeRequest{
		VolumeId: v.ID, StagingTargetPath: v.Staging, VolumeCapability: mountCapability(),
	}); err != nil {
		return nil, fmt.Errorf("NodeStageVolume %s: %w", name, err)
	}
	s.onClose("NodeUnstageVolume "+name, func(ctx context.Context) error {
		_, err := s.csiNode.NodeUnstageVolume(ctx, &csi.NodeUnstageVolumeRequest{VolumeId: v.ID, StagingTargetPath: v.Staging})
		return err
	})
	s.say("volume", "%-9s %s, %s: CreateVolume %s, NodeStageVolume (loop device, mkfs.ext4, mount) %s",
		name, formatBytes(float64(s.set.size)), describeParams(params), created, since(start))
	return v, nil
}

// Publish publishes v for pod p (NodePublishVolume with the pod's info, as
// the kubelet sends it with podInfoOnMount) and reports the throttle group
// the publish placed before it returned.
func (s *Session) Publish(ctx context.Context, v *Volume, p *Pod) (*Publication, error) {
	pub := &Publication{Volume: v, Pod: p, Key: throttle.Key{VolumeID: v.ID, PodUID: p.UID},
		Target: filepath.Join(s.work, "kubelet", "pods", p.UID, "volumes", "kubernetes.io~csi", v.Name, "mount")}
	start := time.Now()
	if _, err := s.csiNode.NodePublishVolume(ctx, &csi.NodePublishVolumeRequest{
		VolumeId: v.ID, StagingTargetPath: v.Staging, TargetPath: pub.Target, VolumeCapability: mountCapability(),
		VolumeContext: map[string]string{
			"csi.storage.k8s.io/pod.uid": p.UID, "csi.storage.k8s.io/pod.name": p.Name,
			"csi.storage.k8s.io/pod.namespace": p.Namespace, "csi.storage.k8s.io/ephemeral": "false",
		},
	}); err != nil {
		return nil, fmt.Errorf("NodePublishVolume %s: %w", v.Name, err)
	}
	s.onClose("NodeUnpublishVolume "+v.Name, func(ctx context.Context) error {
		_, err := s.csiNode.NodeUnpublishVolume(ctx, &csi.NodeUnpublishVolumeRequest{VolumeId: v.ID, TargetPath: pub.Target})
		return err
	})
	took := since(start)
	st, ok := s.group(pub.Key)
	if !ok {
		return nil, fmt.Errorf("NodePublishVolume %s returned but the throttle table has no group %s", v.Name, pub.Key)
	}
	phase := string(st.Phase)
	if st.Stats.Pending {
		phase += " (stats pending until the worker's first sample)"
	}
	s.say("publish", "%-9s NodePublishVolume %s: group %s on %s, phase %s; limits %s",
		v.Name, took, pub.Key, deviceName(st.Spec.Device), phase, st.Placement)
	return pub, nil
}

// describeParams renders StorageClass parameters as k=v, sorted.
func describeParams(p map[string]string) string {
	if len(p) == 0 {
		return "no limits"
	}
	var kv []string
	for k, v := range p {
		kv = append(kv, k+"="+v)
	}
	sort.Strings(kv)
	return strings.Join(kv, " ")
}

// deviceName is "7:3 (/dev/loop3)", or the numbers alone when sysfs does
// not say.
func deviceName(d throttle.Device) string {
	b, err := os.ReadFile(fmt.Sprintf("/sys/dev/block/%s/uevent", d))
	if err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if name, ok := strings.CutPrefix(l, "DEVNAME="); ok {
				return fmt.Sprintf("%s (/dev/%s)", d, name)
			}
		}
	}
	return d.String()
}

// WaitForLimits waits until the kernel holds pub's limits for the
// container c and says who put them there: on cgroup v1 the throttle core's
// watcher writes them into each new container cgroup (v1 is not
// hierarchical); on v2 the pod cgroup's io.max covers the container. It
// returns the time from the container cgroup's creation.
func (s *Session) WaitForLimits(ctx context.Context, pub *Publication, c *Container) error {
	st, ok := s.group(pub.Key)
	if !ok {
		return fmt.Errorf("no throttle group %s", pub.Key)
	}
	want, dev := st.Spec.Limits, st.Spec.Device
	if want.IsUnlimited() {
		return nil
	}
	dir := c.Cgroup
	if s.backend.Hierarchical() {
		dir = pub.Pod.Cgroup
	}
	deadline := c.Created.Add(5 * time.Second)
	for {
		got, err := s.backend.ReadLimits(dir, dev)
		if err != nil {
			return err
		}
		if got == want {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the limits %s for %s did not reach %s within 5 s (it holds %s)", want, dev, dir, got)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		time.Sleep(100 * time.Microsecond)
	}
	if s.backend.Hierarchical() {
		s.say("container", "%s: covered by the pod cgroup's io.max (cgroup v2 limits are hierarchical)", c.Cgroup)
		return nil
	}
	s.say("container", "%s: limit %s written by the throttle core's watcher %s after the mkdir (cgroup v1 limits are not hierarchical: each container gets its own)",
		c.Cgroup, want, since(c.Created))
	return nil
}
