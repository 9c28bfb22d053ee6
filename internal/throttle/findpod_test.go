package throttle

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/csi-blkio/csi-blkio/internal/testutil"
)

// A new v1 group finds its pod's cgroup by watching each place it may be
// (findPod): every QoS class of the cgroupfs driver, past a candidate
// path that holds a file instead of a cgroup, and the watch it lands on
// is the one that hands new containers their limits.
func TestNewV1GroupFindsItsPodByWatchingIt(t *testing.T) {
	for _, qos := range []string{"burstable/", "besteffort/", ""} {
		t.Run("qos="+strings.TrimSuffix(qos, "/"), func(t *testing.T) {
			fx := newFixture(t, 1)
			fx.fake.Mkdir(t, "kroot/kubepods/besteffort")
			if qos != "burstable/" {
				// Not a directory: the watch (IN_ONLYDIR) must pass it by.
				bad := filepath.Join(fx.fake.Root, "kroot/kubepods/burstable/pod"+testUID)
				if err := os.WriteFile(bad, nil, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			pod := fx.fake.Mkdir(t, "kroot/kubepods/"+qos+"pod"+testUID)
			k, s := podSpec(testUID, limit8M, ScopePod)
			ensure(t, fx.table, k, s)
			if st, _ := fx.table.Get(k); st.PodCgroup != pod {
				t.Fatalf("PodCgroup = %q; want %q", st.PodCgroup, pod)
			}
			ctr := fx.fake.Mkdir(t, "kroot/kubepods/"+qos+"pod"+testUID+"/ctr")
			testutil.Eventually(t, 5*time.Second, "the container's limit", func() (bool, string) {
				return strings.TrimSpace(file(t, ctr, string(V1WriteBPS))) == "7:256 8388608", ""
			})
		})
	}
}

// failingWatcher fails every watch as inotify does when the user's watch
// limit is reached.
type failingWatcher struct{ noWatcher }

func (failingWatcher) Watch(string, Key) error { return syscall.ENOSPC }

// A watch that fails for another reason than "not there" fails the Ensure,
// with the cause, and leaves no group: the pod's containers could not be
// held, and this is not a pod that is missing (which would place the
// fallback or refuse with ErrPodCgroupRequired).
func TestWatchErrorFailsEnsureOfNewV1Group(t *testing.T) {
	fx := newFixture(t, 1, func(o *Options) {
		o.NewWatcher = func(WatchHandler) (ChildWatcher, error) { return failingWatcher{}, nil }
	})
	fx.pod(t, testUID)
	k, s := podSpec(testUID, limit8M, ScopePod)
	_, err := fx.table.Ensure(context.Background(), k, s)
	if !errors.Is(err, syscall.ENOSPC) || errors.Is(err, ErrPodCgroupRequired) {
		t.Fatalf("Ensure = %v; want the watch's ENOSPC", err)
	}
	if _, ok := fx.table.Get(k); ok {
		t.Error("the group stayed after a failed first placement")
	}
}
