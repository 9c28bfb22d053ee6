package main

import (
	"fmt"
	"os"
	"path/filepath"
)

// useStateTmp points TMPDIR at <state-dir>/tmp, for this process and the
// programs it runs. mount-utils probes umount's behaviour with a temp
// directory when the mounter is built; with this, the plugin creates and
// removes nothing outside its state dir and the paths the CO gives it
// (test/reliability traces every such call). It must run before the
// mounter is built; restore puts the old value back (for callers that run
// serve in-process, such as tests).
func useStateTmp(stateDir string) (restore func(), err error) {
	dir := filepath.Join(stateDir, "tmp")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create temp dir in the state dir: %w", err)
	}
	old, had := os.LookupEnv("TMPDIR")
	if err := os.Setenv("TMPDIR", dir); err != nil {
		return nil, err
	}
	return func() {
		if had {
			os.Setenv("TMPDIR", old)
		} else {
			os.Unsetenv("TMPDIR")
		}
	}, nil
}
