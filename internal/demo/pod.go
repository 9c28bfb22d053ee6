package demo

import (
	"context"
	"crypto/rand"
	"fmt"
	"path/filepath"
	"time"
)

// Pod is the demo's stand-in for a pod on this node: a UID and its cgroup,
// laid out as kubelet's cgroupfs driver lays out a BestEffort pod below
// the demo's kubelet cgroup root.
type Pod struct {
	UID, Name, Namespace string
	// Cgroup is the pod cgroup's absolute path.
	Cgroup string
}

// Container is a container cgroup below a pod cgroup, where IO processes run.
type Container struct {
	Name   string
	Cgroup string
	// Created is when the cgroup appeared.
	Created time.Time
}

// NewPod creates a pod cgroup (and the kubelet-style parents on first use).
func (s *Session) NewPod(ctx context.Context, name string) (*Pod, error) {
	qos, err := s.cgroupParents()
	if err != nil {
		return nil, err
	}
	p := &Pod{UID: newUID(), Name: name, Namespace: "default"}
	p.Cgroup = filepath.Join(qos, "pod"+p.UID)
	if err := s.mkCgroup(p.Cgroup, true); err != nil {
		return nil, err
	}
	s.say("pod", "%s (UID %s), cgroup %s", name, p.UID, p.Cgroup)
	return p, nil
}

// NewContainer creates a container cgroup below the pod's, as runc does
// when a container starts: after the pod's volumes were published.
func (s *Session) NewContainer(ctx context.Context, p *Pod, name string) (*Container, error) {
	c := &Container{Name: name, Cgroup: filepath.Join(p.Cgroup, name)}
	if err := s.mkCgroup(c.Cgroup, false); err != nil {
		return nil, err
	}
	c.Created = time.Now()
	return c, nil
}

// cgroupParents creates <hierarchy>/csi-blkio-demo-<pid>/kubepods/besteffort
// once and returns the QoS cgroup.
func (s *Session) cgroupParents() (string, error) {
	dir := filepath.Join(s.cgroups.hierarchy, s.cgroupRoot)
	qos := filepath.Join(dir, "kubepods", "besteffort")
	if s.parentsOK {
		return qos, nil
	}
	for _, d := range []string{dir, filepath.Dir(qos), qos} {
		if err := s.mkCgroup(d, true); err != nil {
			return "", err
		}
	}
	s.parentsOK = true
	return qos, nil
}

func (s *Session) mkCgroup(dir string, parent bool) error {
	if err := s.cgroups.mkdir(dir, parent); err != nil {
		return err
	}
	s.onClose("remove cgroup "+dir, func(context.Context) error { return s.cgroups.rmdir(dir) })
	return nil
}

// newUID returns a random version 4 UUID, the shape of a pod UID.
func newUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
