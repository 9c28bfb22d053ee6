package throttle

import "testing"

func TestStrictestCombinesKnobByKnob(t *testing.T) {
	got := strictest(map[uint64]Limits{
		1: {ReadBytesPerSecond: 10, WriteBytesPerSecond: 0, ReadIOPS: 5},
		2: {ReadBytesPerSecond: 20, WriteBytesPerSecond: 7},
		3: {ReadBytesPerSecond: 0, WriteBytesPerSecond: 9, WriteIOPS: 3},
	})
	want := Limits{ReadBytesPerSecond: 10, WriteBytesPerSecond: 7, ReadIOPS: 5, WriteIOPS: 3}
	if got != want {
		t.Fatalf("strictest = %+v, want %+v", got, want)
	}
	if got := strictest(nil); got != (Limits{}) {
		t.Fatalf("no holders = %+v, want unlimited", got)
	}
}
