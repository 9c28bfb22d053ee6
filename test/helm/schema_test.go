//go:build chart

package helm

import (
	"strings"
	"testing"

	"github.com/csi-blkio/csi-blkio/internal/params"
)

// storageClassWith is a complete, valid StorageClass entry with one
// parameter line changed, so that a rejection is due to that line only.
func storageClassWith(param string) string {
	return `
storageClasses:
  - name: sc
    volumeBindingMode: WaitForFirstConsumer
    parameters:
      ` + param + `
`
}

// TestSchemaRejectsBadValues asserts that helm refuses each bad value with
// the schema's message for it, before anything is rendered.
func TestSchemaRejectsBadValues(t *testing.T) {
	h := newHelm(t)
	for name, tc := range map[string]struct {
		values string
		want   []string // all must appear in helm's error
	}{
		"negative IOPS integer": {storageClassWith("readIOPS: -5"),
			[]string{"at '/storageClasses/0/parameters/readIOPS'", "minimum: got -5, want 1"}},
		"negative IOPS string": {storageClassWith(`writeIOPS: "-5"`),
			[]string{"at '/storageClasses/0/parameters/writeIOPS'", `'-5' does not match pattern`}},
		"IOPS beyond the kernel's": {storageClassWith("writeIOPS: 4294967295"),
			[]string{"at '/storageClasses/0/parameters/writeIOPS'", "maximum: got 4.294967295×10⁰⁹, want 4.294967294×10⁰⁹"}},
		"zero IOPS": {storageClassWith("writeIOPS: 0"),
			[]string{"at '/storageClasses/0/parameters/writeIOPS'", "minimum: got 0, want 1"}},
		"negative byte rate": {storageClassWith("writeBytesPerSecond: -20Mi"),
			[]string{"at '/storageClasses/0/parameters/writeBytesPerSecond'", `'-20Mi' does not match pattern`}},
		"negative byte rate integer": {storageClassWith("readBytesPerSecond: -1048576"),
			[]string{"at '/storageClasses/0/parameters/readBytesPerSecond'", "minimum: got -1.048576×10⁰⁶, want 1"}},
		"bad quantity suffix": {storageClassWith("writeBytesPerSecond: 20MB"),
			[]string{"at '/storageClasses/0/parameters/writeBytesPerSecond'", `'20MB' does not match pattern`}},
		"fractional quantity": {storageClassWith("readBytesPerSecond: 1.5Mi"),
			[]string{"at '/storageClasses/0/parameters/readBytesPerSecond'", `'1.5Mi' does not match pattern`}},
		"milli quantity": {storageClassWith("readBytesPerSecond: 500m"),
			[]string{"at '/storageClasses/0/parameters/readBytesPerSecond'", `'500m' does not match pattern`}},
		"unknown scope": {storageClassWith("scope: node"),
			[]string{"at '/storageClasses/0/parameters/scope'", "value must be one of 'pod', 'volume'"}},
		"unknown fstype": {storageClassWith("csi.storage.k8s.io/fstype: btrfs"),
			[]string{"at '/storageClasses/0/parameters/csi.storage.k8s.io~1fstype'", "value must be one of 'ext4', 'xfs'"}},
		"unknown parameter": {storageClassWith("readBPS: 10Mi"),
			[]string{"at '/storageClasses/0/parameters'", "additional properties 'readBPS' not allowed"}},
		"size is inline only": {storageClassWith("size: 1Gi"),
			[]string{"at '/storageClasses/0/parameters'", "additional properties 'size' not allowed"}},
		"immediate binding": {"storageClasses: [{name: sc, volumeBindingMode: Immediate}]\n",
			[]string{"at '/storageClasses/0/volumeBindingMode'", "value must be 'WaitForFirstConsumer'"}},
		"storage class without name": {"storageClasses: [{reclaimPolicy: Delete}]\n",
			[]string{"at '/storageClasses/0'", "missing property 'name'"}},
		"bad stats interval": {"node: {statsInterval: 10}\n",
			[]string{"at '/node/statsInterval'", "got number, want string"}},
		"bad duration": {"node: {statsInterval: ten-seconds}\n",
			[]string{"at '/node/statsInterval'", "does not match pattern"}},
		"relative state dir": {"node: {stateDir: var/lib/csi-blkio}\n",
			[]string{"at '/node/stateDir'", "does not match pattern '^/'"}},
		"port out of range": {"metrics: {port: 70000}\n",
			[]string{"at '/metrics/port'", "maximum: got 70,000, want 65,535"}},
		"negative max volumes": {"node: {maxVolumes: -1}\n",
			[]string{"at '/node/maxVolumes'", "minimum: got -1, want 0"}},
		"misspelt key": {"sidecar: {livenessProbe: {enabled: false}}\n",
			[]string{"additional properties 'sidecar' not allowed"}},
		"sidecar switch not a bool": {`sidecars: {nodeDriverRegistrar: {enabled: "no"}}` + "\n",
			[]string{"at '/sidecars/nodeDriverRegistrar/enabled'", "got string, want boolean"}},
		"bad pull policy": {"image: {pullPolicy: Sometimes}\n",
			[]string{"at '/image/pullPolicy'", "value must be one of"}},
		"bad driver name": {"driverName: Blkio_CSI\n",
			[]string{"at '/driverName'", "does not match pattern"}},
	} {
		t.Run(name, func(t *testing.T) {
			args := append([]string{"template", releaseName, h.chart}, valuesFile(t, tc.values)...)
			out, stderr, err := h.run(args...)
			if err == nil {
				t.Fatalf("helm accepted bad values:\n%s\nrendered %d bytes", tc.values, len(out))
			}
			if !strings.Contains(stderr, "values don't meet the specifications of the schema") {
				t.Errorf("helm failed, but not on the schema:\n%s", stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("helm's error lacks %q:\n%s", w, stderr)
				}
			}
		})
	}
}

// TestSchemaAcceptsGoodSpellings guards against a schema so strict that it
// refuses what the plugin accepts.
func TestSchemaAcceptsGoodSpellings(t *testing.T) {
	h := newHelm(t)
	for _, param := range []string{
		"readBytesPerSecond: 50Mi", "readBytesPerSecond: 500k", "readBytesPerSecond: 1048576",
		`readBytesPerSecond: "1048576"`, "writeBytesPerSecond: 1Gi", "writeBytesPerSecond: 2G",
		"readIOPS: 1", `readIOPS: "1000"`, "scope: volume", "scope: pod",
		"writeIOPS: 4294967294", "csi.storage.k8s.io/fstype: xfs", "csi.storage.k8s.io/pvc/name: claim",
		`writeIOPSPerGiB: "3"`, `readIOPSPerGiB: "0.75"`, "readBytesPerSecondPerGiB: 1Mi",
	} {
		t.Run(param, func(t *testing.T) {
			sc := h.render(t, storageClassWith(param)).storageClasses
			key, value, _ := strings.Cut(param, ": ")
			if got := sc[0].Parameters[key]; got != strings.Trim(value, `"`) {
				t.Errorf("parameter %s rendered as %q, want %q", key, got, strings.Trim(value, `"`))
			}
			// What the schema lets through, the plugin must accept.
			if _, err := params.Parse(sc[0].Parameters, params.ModeStorageClass); err != nil {
				t.Errorf("the schema accepts %s, the plugin refuses it: %v", param, err)
			}
		})
	}
}
