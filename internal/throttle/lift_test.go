package throttle

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/csi-blkio/csi-blkio/internal/testutil"
)

func TestSetLiftRewritesEntriesAndKeepsSpec(t *testing.T) {
	fx := newFixture(t, 1)
	fx.pod(t, testUID)
	ctr := fx.container(t, testUID, "ctr1")
	k, s := podSpec(testUID, limit8M, ScopePod)
	s.Elastic = true
	ensure(t, fx.table, k, s)
	wantLines(t, ctr, string(V1WriteBPS), "7:256 8388608")

	lifted := Limits{WriteBytesPerSecond: 64 << 20}
	if err := fx.table.SetLift(k, &lifted); err != nil {
		t.Fatal(err)
	}
	wantLines(t, ctr, string(V1WriteBPS), "7:256 67108864")
	st, _ := fx.table.Get(k)
	if !st.Lifted || st.KernelLimits() != lifted || st.Spec.Limits != limit8M {
		t.Fatalf("status lifted=%v kernel=%v spec=%v, want lifted, %v, %v", st.Lifted, st.KernelLimits(), st.Spec.Limits, lifted, limit8M)
	}

	// A container that appears while lifted gets the lifted limits.
	ctr2 := fx.container(t, testUID, "ctr2")
	testutil.Eventually(t, 5*time.Second, "the lifted limit on the new container", func() (bool, string) {
		return file(t, ctr2, string(V1WriteBPS)) == "7:256 67108864\n", ""
	})

	// A live edit while lifted changes the spec, not the kernel.
	edited := Limits{WriteBytesPerSecond: 4 << 20}
	if err := fx.table.Update(context.Background(), k, edited); err != nil {
		t.Fatal(err)
	}
	wantLines(t, ctr, string(V1WriteBPS), "7:256 67108864")

	// Unlimited lift clears the entry; nil puts the (edited) spec back.
	if err := fx.table.SetLift(k, &Limits{}); err != nil {
		t.Fatal(err)
	}
	wantLines(t, ctr, string(V1WriteBPS))
	if err := fx.table.SetLift(k, nil); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{ctr, ctr2} {
		wantLines(t, d, string(V1WriteBPS), "7:256 4194304")
	}
	st, _ = fx.table.Get(k)
	if st.Lifted || st.KernelLimits() != edited {
		t.Fatalf("status after hold: lifted=%v kernel=%v, want held at %v", st.Lifted, st.KernelLimits(), edited)
	}

}

func TestSetLiftUnknownGroup(t *testing.T) {
	fx := newFixture(t, 1)
	if err := fx.table.SetLift(Key{VolumeID: "nope"}, nil); !errors.Is(err, ErrGroupNotFound) {
		t.Fatalf("SetLift(unknown) = %v, want ErrGroupNotFound", err)
	}
}

// A shared volume-scope entry (v1's root-level line, v2's kubepods line)
// is lifted only when every group of the volume is lifted: one group that
// is still held keeps it at its limit.
func TestSetLiftOnSharedEntryNeedsEveryHolder(t *testing.T) {
	for _, v := range []int{1, 2} {
		t.Run(fmt.Sprintf("v%d", v), func(t *testing.T) {
			fx, shared, file, wbpsLine := sharedEntryFixture(t, v)
			line := wbpsLine(8 << 20)
			k1, s1 := podSpec(testUID, limit8M, ScopeVolume)
			k2, s2 := podSpec(otherUID, limit8M, ScopeVolume)
			ensure(t, fx.table, k1, s1)
			ensure(t, fx.table, k2, s2)
			if err := fx.table.SetLift(k1, &Limits{}); err != nil {
				t.Fatal(err)
			}
			wantLines(t, shared, file, line)
			if err := fx.table.SetLift(k2, &Limits{}); err != nil {
				t.Fatal(err)
			}
			wantLines(t, shared, file)
			if err := fx.table.SetLift(k1, nil); err != nil {
				t.Fatal(err)
			}
			wantLines(t, shared, file, line)
		})
	}
}
