//go:build chart

package helm

import (
	"strings"
	"testing"
)

const writerGroup = `
apiVersion: blkio.csi.dev/v1alpha1
kind: ThrottleGroup
metadata:
  name: writer-data
spec:
  nodeName: node-1
  podName: writer
  podUID: 0b6c7a2e-1111-4222-8333-944455556666
  volumeID: pvc-0b6c7a2e
  persistentVolumeClaimName: throttled-data
  limits:
    readBytesPerSecond: 50Mi
    writeBytesPerSecond: 20Mi
    readIOPS: 1000
    writeIOPS: 500
`

// throttleGroupAPI exercises the installed CRD on the server the way the
// plugin and users will: create, printer columns, status through the
// subresource, live limit edits, and the edits the schema refuses.
func throttleGroupAPI(t *testing.T, c *cluster, ns string) {
	c.mustKubectl(t, writerGroup, "apply", "-n", ns, "-f", "-")
	if scope := c.mustKubectl(t, "", "get", "tg/writer-data", "-n", ns, "-o", "jsonpath={.spec.scope}"); scope != "pod" {
		t.Errorf("scope defaulted to %q, want pod", scope)
	}

	// Status only through the subresource, as the plugin writes it.
	c.mustKubectl(t, "", "patch", "throttlegroup/writer-data", "-n", ns, "--subresource=status", "--type=merge", "-p",
		`{"status":{"phase":"Active","backend":"cgroup v1","device":"7:256","cgroups":["kubepods/besteffort/pod0b6c7a2e/ctr"],
		  "rates":{"readBytesPerSecond":0,"writeBytesPerSecond":20971520,"readIOPS":0,"writeIOPS":20},
		  "totals":{"readBytes":0,"writeBytes":1073741824,"readOperations":0,"writeOperations":1024},
		  "saturationPercent":100,"saturatedLimit":"writeBytesPerSecond","lastSampleTime":"2026-11-24T21:00:00Z",
		  "conditions":[{"type":"LimitsApplied","status":"True","reason":"Applied","message":"limits in the kernel","lastTransitionTime":"2026-11-24T21:00:00Z"}]}}`)

	table := c.mustKubectl(t, "", "get", "throttlegroups", "-n", ns)
	lines := strings.Split(strings.TrimSpace(table), "\n")
	header := strings.Join(strings.Fields(lines[0]), " ")
	if header != "NAME POD VOLUME SCOPE READ/S WRITE/S READ IOPS WRITE IOPS SATURATION BURST PHASE AGE" {
		t.Errorf("kubectl get throttlegroups header: %q", header)
	}
	if row := strings.Fields(lines[1]); len(row) < 10 || strings.Join(row[:10], " ") != "writer-data writer pvc-0b6c7a2e pod 0 20971520 0 20 100 Active" {
		t.Errorf("kubectl get throttlegroups row: %q", lines[1])
	}
	wide := c.mustKubectl(t, "", "get", "throttlegroups", "-n", ns, "-o", "wide")
	for _, w := range []string{"NODE", "DEVICE", "BACKEND", "node-1", "7:256", "cgroup v1"} {
		if !strings.Contains(wide, w) {
			t.Errorf("-o wide lacks %q:\n%s", w, wide)
		}
	}
	// Status is not writable through the main resource.
	c.mustKubectl(t, "", "patch", "throttlegroup/writer-data", "-n", ns, "--type=merge", "-p", `{"status":{"phase":"Degraded"}}`)
	if phase := c.mustKubectl(t, "", "get", "tg/writer-data", "-n", ns, "-o", "jsonpath={.status.phase}"); phase != "Active" {
		t.Errorf("a main-resource patch changed status.phase to %q", phase)
	}

	// A live limit edit, as examples/README.md shows it.
	c.mustKubectl(t, "", "patch", "throttlegroup/writer-data", "-n", ns, "--type=merge", "-p",
		`{"spec":{"limits":{"writeBytesPerSecond":"10Mi","readBytesPerSecond":1048576,"readIOPS":null}}}`)
	limits := c.mustKubectl(t, "", "get", "tg/writer-data", "-n", ns, "-o", "jsonpath={.spec.limits}")
	if limits != `{"readBytesPerSecond":1048576,"writeBytesPerSecond":"10Mi","writeIOPS":500}` {
		t.Errorf("limits after the edit: %s", limits)
	}
	if gen := c.mustKubectl(t, "", "get", "tg/writer-data", "-n", ns, "-o", "jsonpath={.metadata.generation}"); gen != "2" {
		t.Errorf("generation %s after one spec edit, want 2 (the plugin compares it with status.observedGeneration)", gen)
	}

	for _, tc := range []struct{ patch, want string }{
		{`{"spec":{"limits":{"writeBytesPerSecond":"-1Mi"}}}`, "must be a whole, non-negative number of bytes per second"},
		{`{"spec":{"limits":{"writeBytesPerSecond":-5}}}`, "must be a whole, non-negative number of bytes per second"},
		{`{"spec":{"limits":{"readBytesPerSecond":"1.5Mi"}}}`, "must be a whole, non-negative number of bytes per second"},
		{`{"spec":{"limits":{"readBytesPerSecond":"20MB"}}}`, "spec.limits.readBytesPerSecond"},
		{`{"spec":{"limits":{"readIOPS":-1}}}`, "spec.limits.readIOPS: Invalid value: -1"},
		{`{"spec":{"scope":"volume"}}`, "scope is immutable"},
		{`{"spec":{"nodeName":"node-2"}}`, "nodeName is immutable"},
		{`{"spec":{"podUID":"other"}}`, "podUID is immutable"},
		{`{"spec":{"volumeID":"other"}}`, "volumeID is immutable"},
	} {
		c.refused(t, tc.want, "", "patch", "throttlegroup/writer-data", "-n", ns, "--type=merge", "-p", tc.patch)
	}
	c.refused(t, `Unsupported value: "node"`, strings.Replace(writerGroup, "name: writer-data", "name: bad-scope", 1)+"  scope: node\n",
		"create", "-n", ns, "-f", "-")
	c.refused(t, `Unsupported value: "Running"`, "", "patch", "throttlegroup/writer-data", "-n", ns, "--subresource=status", "--type=merge",
		"-p", `{"status":{"phase":"Running"}}`)

	// describe aligns its columns; compare with single spaces.
	describe := strings.Join(strings.Fields(c.mustKubectl(t, "", "describe", "throttlegroup", "writer-data", "-n", ns)), " ")
	for _, w := range []string{"Write Bytes Per Second: 10Mi", "Write Operations: 1024", "Saturated Limit: writeBytesPerSecond", "Type: LimitsApplied"} {
		if !strings.Contains(describe, w) {
			t.Errorf("kubectl describe lacks %q:\n%s", w, describe)
		}
	}
}
