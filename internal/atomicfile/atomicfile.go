// Package atomicfile replaces a file whole, so that after a crash it holds
// the old content or the new one, never a torn mix. The volume records and
// the burst controller's buckets are written through it.
package atomicfile

import (
	"fmt"
	"os"
	"path/filepath"
)

// TempSuffix ends the name of the temporary file Write fills before the
// rename: path + TempSuffix. The name is fixed rather than random so that a
// temporary file a crash left behind is recognised by its name (the
// driver's start-up removes a volume record's) and is overwritten by the
// next Write in any case. It also means that writes of one path must not
// run concurrently: every caller already serialises them (a volume's record
// under its in-flight claim, the buckets on the burst controller's
// goroutine).
const TempSuffix = ".tmp"

// Write replaces path with data (mode 0600): data goes to the temporary
// file, which is fsynced and renamed over path, and then the directory is
// fsynced so that the rename itself survives a crash.
func Write(path string, data []byte) error {
	tmp := path + TempSuffix
	if err := writeSync(tmp, data); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	return SyncDir(filepath.Dir(path))
}

// SyncDir fsyncs directory dir, making the creations, renames and removals
// of its entries durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync directory: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}

func writeSync(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
