package nodetest

import (
	"encoding/json"
	"maps"
	"os"
	"strings"
	"time"
)

// ChartValues are the chart values every test node needs: local images
// that cannot be pulled, host networking (no kube-proxy runs, so the plugin
// reaches the apiserver on 127.0.0.1:apiserverPort) and a short stats
// interval, so that ThrottleGroup status and Events follow within seconds.
// A suite adds its own with MergeValues.
func ChartValues(pluginImage, provisionerImage, apiserverPort string, statsInterval time.Duration) map[string]any {
	repo, tag := SplitImage(pluginImage)
	provRepo, provTag := SplitImage(provisionerImage)
	return map[string]any{
		"image": map[string]any{"repository": repo, "tag": tag, "pullPolicy": "Never"},
		"node": map[string]any{
			"hostNetwork":   true,
			"statsInterval": statsInterval.String(),
			"logLevel":      4,
			"extraEnv": []map[string]string{
				{"name": "KUBERNETES_SERVICE_HOST", "value": "127.0.0.1"},
				{"name": "KUBERNETES_SERVICE_PORT", "value": apiserverPort},
			},
		},
		"sidecars": map[string]any{
			"provisioner": map[string]any{
				"image": map[string]any{"repository": provRepo, "tag": provTag, "pullPolicy": "Never"},
			},
		},
	}
}

// MergeValues returns base with extra merged in, as helm merges a second
// values file: maps merge key by key, anything else in extra replaces.
func MergeValues(base, extra map[string]any) map[string]any {
	out := maps.Clone(base)
	for k, v := range extra {
		bm, ok1 := out[k].(map[string]any)
		em, ok2 := v.(map[string]any)
		if ok1 && ok2 {
			out[k] = MergeValues(bm, em)
			continue
		}
		out[k] = v
	}
	return out
}

// WriteValues writes values to path as a helm values file.
func WriteValues(path string, values map[string]any) error {
	b, err := json.Marshal(values) // JSON is YAML
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o600)
}

// HelmInstall installs the chart at chart into PluginNamespace with the
// values file and waits (helm --wait) up to timeout for its pods.
func HelmInstall(helm, kubeconfig, chart, values string, timeout time.Duration) (string, error) {
	// helm stops itself at --timeout; the bound on the process is a
	// backstop for a helm that hangs before it starts counting.
	return Run(timeout+2*time.Minute, helm, "--kubeconfig", kubeconfig, "install", Release, chart,
		"--namespace", PluginNamespace, "--create-namespace", "--values", values, "--wait", "--timeout", timeout.String())
}

// SplitImage splits repo:tag at the last colon; a colon of a registry's
// port (localhost:5000/x) is not a tag.
func SplitImage(ref string) (string, string) {
	i := strings.LastIndex(ref, ":")
	if i < 0 || strings.Contains(ref[i:], "/") {
		return ref, "latest"
	}
	return ref[:i], ref[i+1:]
}
