package loop

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
)

// Attachment is one bound loop device as sysfs reports it.
type Attachment struct {
	// Device is the device node, e.g. /dev/loop7.
	Device string
	// BackingFile is the file's path in this mount namespace when it can be
	// found there (resolve_linux.go), else the path sysfs prints.
	BackingFile string
	// Deleted: the backing file has been unlinked since (sysfs appends
	// " (deleted)"); the device still serves the unlinked file's data.
	Deleted bool
}

// deletedSuffix is what the kernel appends to backing_file once the file
// was unlinked (d_path of an unlinked dentry).
const deletedSuffix = " (deleted)"

// List returns every bound loop device of the host. Start-up recovery
// uses it to find devices whose backing file lies in the state dir; it is
// not on any RPC path (it reads one sysfs file per device).
func (k *Kernel) List() ([]Attachment, error) {
	matches, err := filepath.Glob(filepath.Join(k.SysDir, "block", "loop*", "loop", "backing_file"))
	if err != nil {
		return nil, err
	}
	var out []Attachment
	for _, m := range matches {
		b, err := os.ReadFile(m)
		if errors.Is(err, os.ErrNotExist) {
			continue // detached meanwhile
		}
		if err != nil {
			return nil, err
		}
		name := filepath.Base(filepath.Dir(filepath.Dir(m)))
		file, deleted := strings.CutSuffix(strings.TrimRight(string(b), "\n"), deletedSuffix)
		dev := filepath.Join(k.DevDir, name)
		if !deleted {
			file = localPath(dev, file)
		}
		out = append(out, Attachment{Device: dev, BackingFile: file, Deleted: deleted})
	}
	return out, nil
}
