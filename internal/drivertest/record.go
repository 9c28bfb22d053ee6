package drivertest

import (
	"testing"

	"github.com/csi-blkio/csi-blkio/internal/volume"
)

// ReadRecord reads the record of volume id from the state dir of a driver
// (the harness's, or a plugin binary's), as the driver left it on disk: what
// a restarted driver would recover from.
func ReadRecord(t testing.TB, stateDir, id string) *volume.Record {
	t.Helper()
	store, err := volume.NewStore(stateDir)
	if err != nil {
		t.Fatal(err)
	}
	r, err := store.Get(id)
	if err != nil {
		t.Fatalf("volume record %s: %v", id, err)
	}
	return r
}
