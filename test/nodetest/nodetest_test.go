package nodetest

import (
	"reflect"
	"testing"
)

func TestSplitImage(t *testing.T) {
	for _, c := range []struct{ ref, repo, tag string }{
		{"csi-blkio:dev", "csi-blkio", "dev"},
		{"registry.k8s.io/sig-storage/csi-provisioner:v6.4.0", "registry.k8s.io/sig-storage/csi-provisioner", "v6.4.0"},
		{"localhost:5000/busybox", "localhost:5000/busybox", "latest"},
		{"localhost:5000/busybox:1.36", "localhost:5000/busybox", "1.36"},
		{"busybox", "busybox", "latest"},
	} {
		if repo, tag := SplitImage(c.ref); repo != c.repo || tag != c.tag {
			t.Errorf("SplitImage(%q) = %q, %q, want %q, %q", c.ref, repo, tag, c.repo, c.tag)
		}
	}
}

func TestMergeValues(t *testing.T) {
	base := ChartValues("csi-blkio:dev", "csi-provisioner:v6", "6443", 0)
	got := MergeValues(base, map[string]any{
		"node":     map[string]any{"logLevel": 5, "stateDir": "/x"},
		"sidecars": map[string]any{"livenessProbe": map[string]any{"enabled": false}},
		"metrics":  map[string]any{"enabled": true},
	})
	node := got["node"].(map[string]any)
	if node["logLevel"] != 5 || node["stateDir"] != "/x" || node["hostNetwork"] != true {
		t.Errorf("node values = %v, want logLevel 5 and stateDir from extra, hostNetwork kept from base", node)
	}
	sidecars := got["sidecars"].(map[string]any)
	if _, ok := sidecars["provisioner"]; !ok {
		t.Errorf("sidecars lost the provisioner of base: %v", sidecars)
	}
	if !reflect.DeepEqual(sidecars["livenessProbe"], map[string]any{"enabled": false}) {
		t.Errorf("sidecars.livenessProbe = %v, want extra's", sidecars["livenessProbe"])
	}
	if base["node"].(map[string]any)["logLevel"] != 4 {
		t.Errorf("MergeValues changed base: %v", base["node"])
	}
}

func TestLogFields(t *testing.T) {
	got, ok := LogFields("e2e measure label=claim boot=b1 start=1.5 end=3.25 stray", "e2e measure ")
	want := map[string]string{"label": "claim", "boot": "b1", "start": "1.5", "end": "3.25"}
	if !ok || !reflect.DeepEqual(got, want) {
		t.Errorf("LogFields = %v, %v, want %v, true", got, ok, want)
	}
	if _, ok := LogFields("e2e done", "e2e measure "); ok {
		t.Error("a line without the prefix parsed")
	}
}

func TestQOSResources(t *testing.T) {
	if r := BestEffort.Resources("50m", "48Mi"); len(r.Requests) != 0 || len(r.Limits) != 0 {
		t.Errorf("BestEffort has resources %v", r)
	}
	if r := Burstable.Resources("50m", "48Mi"); len(r.Requests) != 2 || len(r.Limits) != 0 {
		t.Errorf("Burstable: %v, want requests only", r)
	}
	if r := Guaranteed.Resources("50m", "48Mi"); !reflect.DeepEqual(r.Requests, r.Limits) || len(r.Limits) != 2 {
		t.Errorf("Guaranteed: %v, want limits equal to requests", r)
	}
}
