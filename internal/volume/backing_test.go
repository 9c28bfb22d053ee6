package volume

import (
	"os"
	"testing"
)

func TestResetBackingUndoesAGrow(t *testing.T) {
	s, err := NewStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	id := IDForName("reset")
	if err := s.CreateBacking(id, 4<<20); err != nil {
		t.Fatal(err)
	}
	if err := s.GrowBacking(id, 8<<20); err != nil {
		t.Fatal(err)
	}
	if err := s.ResetBacking(id, 4<<20); err != nil {
		t.Fatal(err)
	}
	img, _ := s.BackingPath(id)
	if st, err := os.Stat(img); err != nil || st.Size() != 4<<20 {
		t.Fatalf("backing file after reset: %v, %v", st, err)
	}
	if err := s.ResetBacking("../x", 0); err == nil {
		t.Fatal("ResetBacking accepted an invalid ID")
	}
}
