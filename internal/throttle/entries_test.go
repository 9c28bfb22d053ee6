package throttle

import "testing"

func TestStrictestCombinesKnobByKnob(t *testing.T) {
	got := strictest(holdings{
		{1, Limits{ReadBytesPerSecond: 10, WriteBytesPerSecond: 0, ReadIOPS: 5}},
		{2, Limits{ReadBytesPerSecond: 20, WriteBytesPerSecond: 7}},
		{3, Limits{ReadBytesPerSecond: 0, WriteBytesPerSecond: 9, WriteIOPS: 3}},
	})
	want := Limits{ReadBytesPerSecond: 10, WriteBytesPerSecond: 7, ReadIOPS: 5, WriteIOPS: 3}
	if got != want {
		t.Fatalf("strictest = %+v, want %+v", got, want)
	}
	if got := strictest(nil); got != (Limits{}) {
		t.Fatalf("no holders = %+v, want unlimited", got)
	}
}

func TestHoldingsSetAndDrop(t *testing.T) {
	var hs holdings
	a, b := Limits{ReadIOPS: 1}, Limits{ReadIOPS: 2}
	if _, had := hs.set(7, a); had {
		t.Fatal("set on empty holdings reported an old value")
	}
	hs.set(9, b)
	if old, had := hs.set(7, b); !had || old != a {
		t.Fatalf("set over 7 = %+v, %v; want %+v, true", old, had, a)
	}
	if old, had := hs.drop(9); !had || old != b {
		t.Fatalf("drop 9 = %+v, %v; want %+v, true", old, had, b)
	}
	if _, had := hs.drop(9); had {
		t.Fatal("second drop of 9 found it")
	}
	if len(hs) != 1 || hs[0] != (holding{7, b}) {
		t.Fatalf("holdings = %+v, want only 7 holding %+v", hs, b)
	}
}

func TestEntrySetAddHasRemove(t *testing.T) {
	a, b := entryID{dir: "/a"}, entryID{dir: "/b"}
	var s entrySet
	s.add(a)
	s.add(b)
	s.add(a)
	if len(s) != 2 || !s.has(a) || !s.has(b) {
		t.Fatalf("after adding a, b, a: %v, want a and b once each", s)
	}
	s.remove(a)
	if s.has(a) || !s.has(b) || len(s) != 1 {
		t.Fatalf("after removing a: %v, want b alone", s)
	}
}
