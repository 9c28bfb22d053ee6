//go:build chart

package helm

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
)

// serveFlags is the `csi-blkio serve` flag contract of COMMON.md (plus the
// klog -v): the chart may pass these and no others.
func serveFlags() map[string]bool {
	return map[string]bool{
		"endpoint": true, "node-id": true, "state-dir": true, "driver-name": true,
		"cgroup-root": true, "kubelet-cgroup-root": true, "kubeconfig": true,
		"metrics-address": true, "health-address": true, "max-volumes": true,
		"stats-interval": true, "elastic-period": true, "kube-api-qps": true, "kube-api-burst": true,
		"registration-socket": true, "kubelet-plugin-endpoint": true, "v": true,
		"accept-degraded-v1-publish": true, "apiserver-writes-per-second": true, "apiserver-write-burst": true,
	}
}

// flagValues checks that args are `serve` followed by --name=value flags of
// the contract, each at most once, and returns them by name.
func flagValues(t *testing.T, args []string) map[string]string {
	t.Helper()
	if len(args) == 0 || args[0] != "serve" {
		t.Fatalf("plugin args must start with the serve subcommand: %v", args)
	}
	known := serveFlags()
	flags := map[string]string{}
	for _, a := range args[1:] {
		name, value, ok := strings.Cut(strings.TrimPrefix(a, "--"), "=")
		if !strings.HasPrefix(a, "--") || !ok {
			t.Errorf("plugin arg %q is not --name=value", a)
			continue
		}
		if !known[name] {
			t.Errorf("plugin arg --%s is not in the serve flag contract", name)
		}
		if _, dup := flags[name]; dup {
			t.Errorf("plugin arg --%s given twice", name)
		}
		flags[name] = value
	}
	return flags
}

func TestPluginFlagsFollowTheContract(t *testing.T) {
	h := newHelm(t)
	common := map[string]string{
		"endpoint":                    "unix:///csi/csi.sock",
		"node-id":                     "$(NODE_NAME)",
		"driver-name":                 "blkio.csi.dev",
		"state-dir":                   "/var/lib/csi-blkio",
		"cgroup-root":                 "/sys/fs/cgroup",
		"stats-interval":              "10s",
		"elastic-period":              "100ms",
		"kube-api-qps":                "5",
		"kube-api-burst":              "10",
		"metrics-address":             ":9809",
		"apiserver-writes-per-second": "0.15",
		"apiserver-write-burst":       "20",
		"v":                           "2",
	}
	selfServing := map[string]string{
		"health-address":          ":9808",
		"registration-socket":     "/registration/blkio.csi.dev-reg.sock",
		"kubelet-plugin-endpoint": "/var/lib/kubelet/plugins/blkio.csi.dev/csi.sock",
	}
	for name, tc := range map[string]struct {
		values     string
		want       map[string]string
		containers string
	}{
		"built-in (default)": {"", merge(common, selfServing), "csi-blkio csi-provisioner csi-resizer"},
		"sidecars":           {sidecarsOn, common, "csi-blkio csi-provisioner csi-resizer node-driver-registrar liveness-probe"},
		"resizer off":        {"sidecars: {resizer: {enabled: false}}\n", merge(common, selfServing), "csi-blkio csi-provisioner"},
		"registrar only": {"sidecars: {nodeDriverRegistrar: {enabled: true}}\n",
			merge(common, map[string]string{"health-address": selfServing["health-address"]}),
			"csi-blkio csi-provisioner csi-resizer node-driver-registrar"},
		"options": {"node: {kubeletCgroupRoot: /custom, maxVolumes: 50, statsInterval: 30s, elasticPeriod: 0s, logLevel: 4, acceptDegradedV1Publish: true, writeBudget: {perSecond: 2, burst: 40}}\nmetrics: {enabled: false}\n",
			merge(common, selfServing, map[string]string{"kubelet-cgroup-root": "/custom", "max-volumes": "50", "stats-interval": "30s", "elastic-period": "0s", "v": "4", "metrics-address": "",
				"accept-degraded-v1-publish": "true", "apiserver-writes-per-second": "2", "apiserver-write-burst": "40"}),
			"csi-blkio csi-provisioner csi-resizer"},
	} {
		t.Run(name, func(t *testing.T) {
			ds := h.render(t, tc.values).daemonSet
			if got := strings.Join(containerNames(ds), " "); got != tc.containers {
				t.Errorf("containers %q, want %q", got, tc.containers)
			}
			got := flagValues(t, container(t, ds, "csi-blkio").Args)
			want := map[string]string{}
			for k, v := range tc.want {
				if v != "" { // "" marks a flag that must be absent
					want[k] = v
				}
			}
			if !equality.Semantic.DeepEqual(got, want) {
				t.Errorf("plugin flags\n got %v\nwant %v", got, want)
			}
		})
	}
}

func merge(maps ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range maps {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

// TestSocketsMeetWhereTheKubeletLooks follows each socket path through the
// container mounts to the host, where the kubelet and the sidecars meet it.
func TestSocketsMeetWhereTheKubeletLooks(t *testing.T) {
	h := newHelm(t)
	for name, values := range map[string]string{"built-in": "", "sidecars": sidecarsOn, "custom kubelet dir": "node: {kubeletDir: /srv/kubelet}\n"} {
		t.Run(name, func(t *testing.T) {
			ds := h.render(t, values).daemonSet
			kubeletDir := "/var/lib/kubelet"
			if name == "custom kubelet dir" {
				kubeletDir = "/srv/kubelet"
			}
			plugin := container(t, ds, "csi-blkio")
			flags := flagValues(t, plugin.Args)
			socket := hostPathOf(t, ds, plugin, strings.TrimPrefix(flags["endpoint"], "unix://"))
			if want := kubeletDir + "/plugins/blkio.csi.dev/csi.sock"; socket != want {
				t.Errorf("plugin socket on the host is %s, want %s", socket, want)
			}
			for _, c := range ds.Spec.Template.Spec.Containers[1:] {
				addr := argValue(t, c.Args, "--csi-address")
				if got := hostPathOf(t, ds, c, addr); got != socket {
					t.Errorf("%s dials %s on the host, the plugin listens on %s", c.Name, got, socket)
				}
			}
			if reg, ok := flags["registration-socket"]; ok {
				if got, want := hostPathOf(t, ds, plugin, reg), kubeletDir+"/plugins_registry/blkio.csi.dev-reg.sock"; got != want {
					t.Errorf("registration socket on the host is %s, want %s", got, want)
				}
				if flags["kubelet-plugin-endpoint"] != socket {
					t.Errorf("announced endpoint %s, the socket is at %s", flags["kubelet-plugin-endpoint"], socket)
				}
			} else {
				r := container(t, ds, "node-driver-registrar")
				if got := argValue(t, r.Args, "--kubelet-registration-path"); got != socket {
					t.Errorf("registrar announces %s, the socket is at %s", got, socket)
				}
				if got, want := hostPathOf(t, ds, r, "/registration"), kubeletDir+"/plugins_registry"; got != want {
					t.Errorf("registrar's /registration is %s on the host, want %s", got, want)
				}
			}
		})
	}
}

func argValue(t *testing.T, args []string, name string) string {
	t.Helper()
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, name+"="); ok {
			return v
		}
	}
	t.Fatalf("no %s in %v", name, args)
	return ""
}

func TestProvisionerRunsPerNode(t *testing.T) {
	ds := newHelm(t).render(t, "").daemonSet
	p := container(t, ds, "csi-provisioner")
	want := []string{
		"--csi-address=/csi/csi.sock",
		"--v=2",
		"--node-deployment=true",
		"--node-deployment-immediate-binding=false",
		"--feature-gates=Topology=true",
		"--strict-topology=true",
		"--immediate-topology=false",
		"--extra-create-metadata=true",
		"--enable-capacity=true",
		"--capacity-ownerref-level=0",
		"--capacity-poll-interval=1m",
	}
	if !equality.Semantic.DeepEqual(p.Args, want) {
		t.Errorf("csi-provisioner args\n got %q\nwant %q", p.Args, want)
	}
	if p.Image != "registry.k8s.io/sig-storage/csi-provisioner:v6.4.0" {
		t.Errorf("csi-provisioner image %s", p.Image)
	}
	// --node-deployment needs NODE_NAME; capacity objects with
	// --capacity-ownerref-level=0 need NAMESPACE and POD_NAME.
	wantEnv := map[string]string{"NODE_NAME": "spec.nodeName", "NAMESPACE": "metadata.namespace", "POD_NAME": "metadata.name"}
	if got := downwardEnv(p); !equality.Semantic.DeepEqual(got, wantEnv) {
		t.Errorf("csi-provisioner env %v, want %v", got, wantEnv)
	}
	if got := downwardEnv(container(t, ds, "csi-blkio")); !equality.Semantic.DeepEqual(got, map[string]string{"NODE_NAME": "spec.nodeName"}) {
		t.Errorf("csi-blkio env %v, want NODE_NAME from spec.nodeName", got)
	}
}

func downwardEnv(c corev1.Container) map[string]string {
	env := map[string]string{}
	for _, e := range c.Env {
		if e.ValueFrom != nil && e.ValueFrom.FieldRef != nil {
			env[e.Name] = e.ValueFrom.FieldRef.FieldPath
		} else {
			env[e.Name] = "value:" + e.Value
		}
	}
	return env
}

func TestSidecarArgsAndImages(t *testing.T) {
	ds := newHelm(t).render(t, sidecarsOn).daemonSet
	r := container(t, ds, "node-driver-registrar")
	if want := []string{"--csi-address=/csi/csi.sock", "--kubelet-registration-path=/var/lib/kubelet/plugins/blkio.csi.dev/csi.sock", "--v=2"}; !equality.Semantic.DeepEqual(r.Args, want) {
		t.Errorf("node-driver-registrar args %q, want %q", r.Args, want)
	}
	l := container(t, ds, "liveness-probe")
	if want := []string{"--csi-address=/csi/csi.sock", "--http-endpoint=:9808", "--probe-timeout=3s"}; !equality.Semantic.DeepEqual(l.Args, want) {
		t.Errorf("livenessprobe args %q, want %q", l.Args, want)
	}
	for _, c := range ds.Spec.Template.Spec.Containers[1:] {
		if !strings.HasPrefix(c.Image, "registry.k8s.io/sig-storage/") {
			t.Errorf("%s image %s is not from registry.k8s.io/sig-storage", c.Name, c.Image)
		}
	}
}

func TestPodSpec(t *testing.T) {
	h := newHelm(t)
	for name, values := range map[string]string{"built-in": "", "sidecars": sidecarsOn} {
		t.Run(name, func(t *testing.T) {
			ds := h.render(t, values).daemonSet
			spec := ds.Spec.Template.Spec
			if spec.PriorityClassName != "system-node-critical" {
				t.Errorf("priorityClassName %q", spec.PriorityClassName)
			}
			if len(spec.Tolerations) != 1 || spec.Tolerations[0].Operator != corev1.TolerationOpExists || spec.Tolerations[0].Key != "" {
				t.Errorf("tolerations %+v, want one that tolerates every taint", spec.Tolerations)
			}
			plugin := container(t, ds, "csi-blkio")
			if plugin.SecurityContext == nil || plugin.SecurityContext.Privileged == nil || !*plugin.SecurityContext.Privileged {
				t.Error("the plugin container is not privileged")
			}
			for _, c := range spec.Containers[1:] {
				if sc := c.SecurityContext; sc == nil || sc.Privileged != nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
					t.Errorf("sidecar %s: securityContext %+v, want unprivileged without escalation", c.Name, sc)
				}
			}
			if c := plugin; c.Resources.Requests.Memory().IsZero() || c.Resources.Limits.Memory().IsZero() {
				t.Errorf("plugin resources %+v lack a memory request or limit", c.Resources)
			}

			// The kubelet probes the plugin container's health port; whoever
			// serves it (sidecar or plugin), it is the named port healthz.
			p := plugin.LivenessProbe
			if p == nil || p.HTTPGet == nil || p.HTTPGet.Path != "/healthz" || p.HTTPGet.Port.String() != "healthz" {
				t.Fatalf("plugin livenessProbe %+v", p)
			}
			if port := namedPort(plugin, "healthz"); port != 9808 {
				t.Errorf("healthz port %d, want 9808", port)
			}

			// host path -> mount path, propagation
			mounts := map[string]string{}
			for _, m := range plugin.VolumeMounts {
				host := hostPathOf(t, ds, plugin, m.MountPath)
				prop := ""
				if m.MountPropagation != nil {
					prop = string(*m.MountPropagation)
				}
				mounts[host] = m.MountPath + " " + prop
			}
			want := map[string]string{
				"/var/lib/kubelet/plugins/blkio.csi.dev": "/csi ",
				"/var/lib/kubelet":                       "/var/lib/kubelet Bidirectional",
				"/dev":                                   "/dev ",
				"/sys/fs/cgroup":                         "/sys/fs/cgroup ",
				"/var/lib/csi-blkio":                     "/var/lib/csi-blkio Bidirectional",
			}
			if name == "built-in" { // the plugin serves the registration socket itself
				want["/var/lib/kubelet/plugins_registry"] = "/registration "
			}
			if !equality.Semantic.DeepEqual(mounts, want) {
				t.Errorf("plugin mounts (host -> container propagation)\n got %v\nwant %v", mounts, want)
			}
		})
	}
}

func namedPort(c corev1.Container, name string) int32 {
	for _, p := range c.Ports {
		if p.Name == name {
			return p.ContainerPort
		}
	}
	return 0
}

func TestPortClashIsRefused(t *testing.T) {
	h := newHelm(t)
	args := append([]string{"template", releaseName, h.chart}, valuesFile(t, "metrics: {port: 9808}\n")...)
	_, stderr, err := h.run(args...)
	if err == nil || !strings.Contains(stderr, "metrics.port and node.healthPort must differ") {
		t.Errorf("metrics.port == node.healthPort rendered: err=%v\n%s", err, stderr)
	}
}

func TestExtraEnvReachesTheAPIClients(t *testing.T) {
	ds := newHelm(t).render(t, everythingOn).daemonSet
	for _, name := range []string{"csi-blkio", "csi-provisioner"} {
		if got := downwardEnv(container(t, ds, name))["KUBERNETES_SERVICE_HOST"]; got != "value:127.0.0.1" {
			t.Errorf("%s: KUBERNETES_SERVICE_HOST %q", name, got)
		}
	}
}

func TestHostNetworkKeepsClusterDNS(t *testing.T) {
	h := newHelm(t)
	if spec := h.render(t, "").daemonSet.Spec.Template.Spec; spec.HostNetwork || spec.DNSPolicy != "" {
		t.Errorf("default: hostNetwork %v dnsPolicy %q", spec.HostNetwork, spec.DNSPolicy)
	}
	if spec := h.render(t, everythingOn).daemonSet.Spec.Template.Spec; !spec.HostNetwork || spec.DNSPolicy != corev1.DNSClusterFirstWithHostNet {
		t.Errorf("hostNetwork: hostNetwork %v dnsPolicy %q", spec.HostNetwork, spec.DNSPolicy)
	}
}

// TestResizerElectsOneLeader: csi-resizer runs beside every node's plugin
// and must act once per cluster, with the chart's leader-election timing.
func TestResizerElectsOneLeader(t *testing.T) {
	h := newHelm(t)
	ds := h.render(t, "").daemonSet
	got := map[string]string{}
	for _, a := range container(t, ds, "csi-resizer").Args {
		k, v, _ := strings.Cut(strings.TrimPrefix(a, "--"), "=")
		got[k] = v
	}
	want := map[string]string{
		"csi-address": "/csi/csi.sock", "v": "2", "leader-election": "true", "leader-election-namespace": "$(NAMESPACE)",
		"leader-election-lease-duration": "60s", "leader-election-renew-deadline": "40s", "leader-election-retry-period": "20s",
		"timeout": "30s", "handle-volume-inuse-error": "false",
	}
	if !equality.Semantic.DeepEqual(got, want) {
		t.Errorf("csi-resizer flags\n got %v\nwant %v", got, want)
	}
}
