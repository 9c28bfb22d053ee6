package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/csi-blkio/csi-blkio/test/nodetest"
)

// fioResult is the part of fio's JSON output the test reads.
type fioResult struct {
	Jobs []struct {
		Read, Write fioDir
	}
}

type fioDir struct {
	IOPS    float64 `json:"iops"`
	BWBytes float64 `json:"bw_bytes"`
	ClatNS  struct {
		Percentile map[string]float64 `json:"percentile"`
	} `json:"clat_ns"`
}

// exec runs argv in the first container of pod (through kubectl, as a user
// would; its processes join the container's cgroups) and returns stdout.
func (s *suite) exec(c context.Context, pod *corev1.Pod, argv ...string) (string, error) {
	args := append([]string{"--kubeconfig", s.kubeconfig, "exec", "-n", pod.Namespace, pod.Name, "--"}, argv...)
	cmd := exec.CommandContext(c, s.kubectl, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("kubectl exec %s %v: %w: %s", pod.Name, argv, err, stderr.String())
	}
	return stdout.String(), nil
}

// runFio runs fio with args in pod and returns its first job's result.
func (s *suite) runFio(c context.Context, pod *corev1.Pod, args ...string) (*fioResult, error) {
	out, err := s.exec(c, pod, append([]string{"fio", "--output-format=json", "--ioengine=libaio", "--direct=1"}, args...)...)
	if err != nil {
		return nil, err
	}
	// Warnings may precede the JSON document.
	if i := strings.Index(out, "{"); i > 0 {
		out = out[i:]
	}
	var r fioResult
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		return nil, fmt.Errorf("fio output: %w: %q", err, tail(out, 5))
	}
	if len(r.Jobs) == 0 {
		return nil, fmt.Errorf("fio reported no job: %q", tail(out, 5))
	}
	return &r, nil
}

// idlePod is a pod of the fio image that idles with its volumes mounted;
// the test runs fio in it with exec.
func (s *suite) idlePod(t *testing.T, ns, podName string, claims map[string]string) *corev1.Pod {
	t.Helper()
	vols := map[string]corev1.VolumeSource{}
	for path, claim := range claims {
		vols[path] = claimSource(claim)
	}
	pod := s.createPod(t, shPod(ns, podName, s.fioImage, nodetest.Burstable, "trap 'exit 0' TERM; echo e2e ready; sleep 3600 & wait", vols))
	s.waitLog(t, pod, "e2e ready", 3*time.Minute)
	return pod
}

// victimFigures are what the victim feels in one phase.
type victimFigures struct {
	iops, p50, p99, p999 float64 // latencies in microseconds
}

func (v victimFigures) String() string {
	return fmt.Sprintf("%7.0f IOPS  p50 %6.0f us  p99 %6.0f us  p99.9 %6.0f us", v.iops, v.p50, v.p99, v.p999)
}

// TestNoisyNeighbour is the noisy-neighbour benchmark with two real pods on two volumes of the
// same disk: a victim doing 4 KiB random reads at queue depth 1, and an
// aggressor writing 64 KiB random at queue depth 32, first to a volume
// with a 100 MiB/s write limit, then to one without limits. It reports the
// victim's IOPS and latency in each phase. How much an unthrottled
// aggressor hurts depends on the disk and on what else runs on it, so the
// figures are reported; asserted is what must hold on any disk: the
// aggressor is held to its limit, and the victim does better beside the
// limited aggressor than beside the unthrottled one.
//
// Not parallel: the other tests' IO would blur the victim's figures.
func TestNoisyNeighbour(t *testing.T) {
	s := node(t)
	ns := s.namespace(t)
	const aggLimit = 100 * mi
	free := s.storageClass(t, map[string]string{})
	limited := s.storageClass(t, map[string]string{"writeBytesPerSecond": "100Mi"})
	s.claim(t, ns, "victim", free, "1Gi")
	s.claim(t, ns, "aggressor-free", free, "2Gi")
	s.claim(t, ns, "aggressor-limited", limited, "2Gi")
	victim := s.idlePod(t, ns, "victim", map[string]string{"/data": "victim"})
	aggressor := s.idlePod(t, ns, "aggressor", map[string]string{"/free": "aggressor-free", "/limited": "aggressor-limited"})

	c := nodetest.Context(t, 5*time.Minute)
	// The victim's file, written once so that its reads hit the disk.
	if _, err := s.runFio(c, victim, "--name=layout", "--filename=/data/v", "--size=256M", "--rw=write", "--bs=1M"); err != nil {
		t.Fatal(err)
	}
	const victimSecs = 8
	victimArgs := []string{"--name=victim", "--filename=/data/v", "--size=256M", "--rw=randread", "--bs=4k",
		"--iodepth=1", "--time_based", fmt.Sprintf("--runtime=%d", victimSecs)}
	runVictim := func(phase string) victimFigures {
		t.Helper()
		r, err := s.runFio(c, victim, victimArgs...)
		if err != nil {
			t.Fatalf("%s: victim: %v", phase, err)
		}
		rd := r.Jobs[0].Read
		p := rd.ClatNS.Percentile
		return victimFigures{iops: rd.IOPS, p50: p["50.000000"] / 1e3, p99: p["99.000000"] / 1e3, p999: p["99.900000"] / 1e3}
	}
	// withAggressor runs the aggressor on dir from before the victim starts
	// until after it ends, and returns both.
	withAggressor := func(phase, dir string) (victimFigures, fioDir) {
		t.Helper()
		var wg sync.WaitGroup
		var agg *fioResult
		var aggErr error
		wg.Go(func() {
			agg, aggErr = s.runFio(c, aggressor, "--name=aggressor", "--filename="+dir+"/a", "--size=1G", "--rw=randwrite",
				"--bs=64k", "--iodepth=32", "--time_based", fmt.Sprintf("--runtime=%d", victimSecs+4))
		})
		time.Sleep(2 * time.Second) // the aggressor is at full depth when the victim starts
		v := runVictim(phase)
		wg.Wait()
		if aggErr != nil {
			t.Fatalf("%s: aggressor: %v", phase, aggErr)
		}
		return v, agg.Jobs[0].Write
	}

	// The unthrottled phase goes last: the disk may still be busy with its
	// writes after it ends, which would blur a phase that followed it.
	alone := runVictim("alone")
	held, aggHeld := withAggressor("aggressor limited to 100 MiB/s", "/limited")
	hurt, aggFree := withAggressor("unthrottled aggressor", "/free")

	report := func(phase string, v victimFigures, agg string) {
		line := fmt.Sprintf("neighbour, victim %-34s %s  (x%.2f IOPS, x%.2f p99 of alone)%s", phase+":", v, v.iops/alone.iops, v.p99/alone.p99, agg)
		s.record(line)
		t.Log(line)
	}
	report("alone", alone, "")
	report("with aggressor at 100 MiB/s", held, fmt.Sprintf("; aggressor %.0f MiB/s", aggHeld.BWBytes/mi))
	report("with unthrottled aggressor", hurt, fmt.Sprintf("; aggressor %.0f MiB/s", aggFree.BWBytes/mi))
	aggSecs := float64(victimSecs + 4)
	s.checkRate(t, "TestNoisyNeighbour aggressor 64k randwrite QD32", aggHeld.BWBytes*aggSecs, aggSecs, aggLimit, "B/s")

	if alone.iops <= 0 || hurt.iops <= 0 || held.iops <= 0 {
		t.Fatalf("the victim did no IO in some phase: alone %s, limited %s, unthrottled %s", alone, held, hurt)
	}
	// The limit can only help where it took load off the disk: when the
	// aggressor, unthrottled, ran well above its limit.
	if aggFree.BWBytes < 2*aggLimit {
		t.Logf("the unthrottled aggressor reached only %.0f MiB/s on this disk; the limit of %d MiB/s changed little, so the phases are not compared",
			aggFree.BWBytes/mi, aggLimit/mi)
		return
	}
	if held.iops <= hurt.iops {
		t.Errorf("with the aggressor limited the victim did %.0f IOPS, not more than the %.0f IOPS it did beside the unthrottled aggressor: the limit did not protect it",
			held.iops, hurt.iops)
	}
}
