package throttle

import (
	"path/filepath"
	"syscall"
	"testing"
)

// TestReadbackRepairsWhatTheKernelLost: on both versions, an entry cleared
// or changed behind the table's back is found and written again by one
// readback, counted once; an entry that stays right costs no write; an
// entry that cannot be read is reported as failed, not as the error.
func TestReadbackRepairsWhatTheKernelLost(t *testing.T) {
	for _, v := range []int{1, 2} {
		t.Run(map[int]string{1: "v1", 2: "v2"}[v], func(t *testing.T) {
			fx := newFixture(t, v)
			pod := fx.pod(t, testUID)
			k, s := podSpec(testUID, Limits{WriteBytesPerSecond: 8 << 20}, ScopePod)
			ensure(t, fx.table, k, s)
			limitFile := "io.max"
			if v == 1 {
				limitFile = "blkio.throttle.write_bps_device"
			}
			writes := fx.fake.Writes()
			rb, err := fx.table.Readback(k)
			if err != nil || len(rb.Repaired) != 0 || !rb.Holds() || rb.Entries != 1 {
				t.Fatalf("readback of an untouched group: %+v, %v", rb, err)
			}
			if fx.fake.Writes() != writes {
				t.Errorf("an entry that holds was written again")
			}

			// Something else clears the entry (v2: all knobs max drops the line).
			clear := testDev.String() + " 0"
			if v == 2 {
				clear = testDev.String() + " rbps=max wbps=max riops=max wiops=max"
			}
			if err := fx.fake.WriteFile(filepath.Join(pod, limitFile), []byte(clear)); err != nil {
				t.Fatal(err)
			}
			rb, err = fx.table.Readback(k)
			if err != nil || len(rb.Repaired) != 1 || rb.Repaired[0].Found != (Limits{}) || rb.Repaired[0].Want != s.Limits || rb.Repairs != 1 {
				t.Fatalf("readback after the entry was cleared: %+v, %v", rb, err)
			}
			if got, _ := fx.table.Backend().ReadLimits(pod, testDev); got != s.Limits {
				t.Errorf("after repair the kernel holds %s, want %s", got, s.Limits)
			}
			if n := fx.table.Repairs(); n != 1 {
				t.Errorf("Repairs() = %d, want 1", n)
			}
			if st, _ := fx.table.Get(k); st.Readback.Repairs != 1 || !st.Readback.Holds() {
				t.Errorf("status readback %+v", st.Readback)
			}

			fx.fake.FailReads(filepath.Join(pod, limitFile), syscall.EIO)
			rb, err = fx.table.Readback(k)
			if err != nil || len(rb.Failed) != 1 || rb.Holds() {
				t.Fatalf("readback of an unreadable entry: %+v, %v", rb, err)
			}
			fx.fake.FailReads(filepath.Join(pod, limitFile), nil)
			if rb, _ = fx.table.Readback(k); !rb.Holds() || rb.Repairs != 1 {
				t.Errorf("readback once readable again: %+v", rb)
			}
		})
	}
}
