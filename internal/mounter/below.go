package mounter

import (
	"strings"

	"k8s.io/mount-utils"
)

// Below returns the mount points in mps strictly below dir, in the table's
// order, one per mount: a path with two mounts stacked on it is there
// twice, as it takes two unmounts. A sibling whose name merely starts with
// dir's is not below it.
func Below(mps []mount.MountPoint, dir string) []string {
	var below []string
	for _, mp := range mps {
		if strings.HasPrefix(mp.Path, dir+"/") {
			below = append(below, mp.Path)
		}
	}
	return below
}
