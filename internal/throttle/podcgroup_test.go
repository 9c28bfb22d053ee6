package throttle

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/csi-blkio/csi-blkio/internal/testutil"
)

func TestFindPodCgroupEveryDriverAndQoS(t *testing.T) {
	uid := "5f1d2c3b-aaaa-4bbb-8ccc-0123456789ab"
	u := "5f1d2c3b_aaaa_4bbb_8ccc_0123456789ab"
	layouts := map[string]string{
		"cgroupfs guaranteed": "kubepods/pod" + uid,
		"cgroupfs burstable":  "kubepods/burstable/pod" + uid,
		"cgroupfs besteffort": "kubepods/besteffort/pod" + uid,
		"systemd guaranteed":  "kubepods.slice/kubepods-pod" + u + ".slice",
		"systemd burstable":   "kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + u + ".slice",
		"systemd besteffort":  "kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + u + ".slice",
	}
	for _, v := range []int{1, 2} {
		for name, rel := range layouts {
			for _, kroot := range []string{"", "csiblkio-test-x"} {
				f, b := fakeBackend(t, v)
				want := f.Mkdir(t, filepath.Join(kroot, rel))
				// Another pod beside it must not be found instead.
				f.Mkdir(t, filepath.Join(kroot, strings.Replace(rel, "5f1d", "0000", 1)))
				got, err := FindPodCgroup(b, kroot, uid)
				if err != nil || got != want {
					t.Errorf("v%d %s root %q: %q, %v; want %q", v, name, kroot, got, err, want)
				}
			}
		}
	}
}

func TestFindPodCgroupRefusesAndExplains(t *testing.T) {
	f := testutil.NewFakeCgroupV1(t)
	b := NewV1(f.Root, f)
	for _, uid := range []string{"../../etc", "a/b", "x y", strings.Repeat("a", 200)} {
		if _, err := FindPodCgroup(b, "", uid); err == nil || !strings.Contains(err.Error(), "not a kubelet pod UID") {
			t.Errorf("FindPodCgroup(%q) = %v; want a refusal", uid, err)
		}
	}
	if _, err := FindPodCgroup(b, "", ""); err == nil || !strings.Contains(err.Error(), "podInfoOnMount") {
		t.Errorf("empty UID: %v; want a hint at podInfoOnMount", err)
	}
	_, err := FindPodCgroup(b, "kroot", "abc")
	if err == nil || !strings.Contains(err.Error(), filepath.Join(f.Root, "kroot")) || !strings.Contains(err.Error(), "--kubelet-cgroup-root") {
		t.Errorf("missing pod: %v; want the place looked at and the flag to check", err)
	}
}

func TestPodCgroupCandidatesAreBounded(t *testing.T) {
	c := PodCgroupCandidates("/a/b/", "u-1")
	if len(c) != 6 {
		t.Fatalf("%d candidates, want 6: %q", len(c), c)
	}
	for _, p := range c {
		if !strings.HasPrefix(p, "a/b/kubepods") {
			t.Errorf("candidate %q is not under the kubelet cgroup root", p)
		}
	}
}

func TestValidPodUID(t *testing.T) {
	for uid, want := range map[string]bool{
		"d2082c0e-c71a-4cb8-b770-696dd1159b17": true,  // an API pod
		"6a1f3b3c0d7e4f5a9b8c7d6e5f4a3b2c":     true,  // a static pod's config hash
		"A-z-0-9":                              true,  // any letters, digits, dashes
		strings.Repeat("a", 128):               true,  // the longest
		"":                                     false, // nothing to look for
		strings.Repeat("a", 129):               false, // too long
		"../../etc":                            false, // a path
		"a/b":                                  false,
		"x y":                                  false,
		"pod_1":                                false, // underscores only in systemd slice names, never in a UID
		"é":                                    false, // not ASCII
		"a\x00":                                false,
	} {
		if got := ValidPodUID(uid); got != want {
			t.Errorf("ValidPodUID(%q) = %v, want %v", uid, got, want)
		}
	}
}

func TestPodCgroupCandidatesOrder(t *testing.T) {
	want := []string{
		"r/kubepods/burstable/poda-1", "r/kubepods/besteffort/poda-1", "r/kubepods/poda-1",
		"r/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-poda_1.slice",
		"r/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-poda_1.slice",
		"r/kubepods.slice/kubepods-poda_1.slice",
	}
	if got := PodCgroupCandidates("/r", "a-1"); !slices.Equal(got, want) {
		t.Errorf("PodCgroupCandidates = %q, want %q", got, want)
	}
}
