package testutil

import (
	"io/fs"
	"path/filepath"
	"time"
)

// NullCgroupFS is a cgroup filesystem (throttle.FS) in which every
// directory exists, every write succeeds and every file reads empty.
// Benchmarks use it to measure the throttle core's own cost (maps, locks,
// entry refcounts, queueing) apart from the kernel's file IO.
type NullCgroupFS struct{}

func (NullCgroupFS) ReadFile(string) ([]byte, error) { return nil, nil }
func (NullCgroupFS) WriteFile(string, []byte) error  { return nil }
func (NullCgroupFS) ReadFiles(_ string, names []string) ([][]byte, error) {
	return make([][]byte, len(names)), nil
}
func (NullCgroupFS) WriteFiles(_ string, names []string, _ [][]byte) (int, error) {
	return len(names), nil
}
func (NullCgroupFS) ReadDir(string) ([]fs.DirEntry, error) { return nil, nil }
func (NullCgroupFS) Stat(name string) (fs.FileInfo, error) { return dirInfo(filepath.Base(name)), nil }

type dirInfo string

func (d dirInfo) Name() string     { return string(d) }
func (dirInfo) Size() int64        { return 0 }
func (dirInfo) Mode() fs.FileMode  { return fs.ModeDir | 0o755 }
func (dirInfo) ModTime() time.Time { return time.Time{} }
func (dirInfo) IsDir() bool        { return true }
func (dirInfo) Sys() any           { return nil }
