// Package imagearchive writes container images as docker-archive tars (the
// layout of `docker save`, which `ctr images import` reads) from layer tars
// on disk. The test node cannot pull images, so hack/images builds every
// image it runs (busybox, pause, fio, csi-provisioner, csi-blkio) as layer
// tars and has this package assemble them: the image config, the layers'
// digests and diff IDs and the archive's manifest come from
// go-containerregistry, not from JSON written by hand.
package imagearchive

import (
	"fmt"
	"runtime"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// Spec is one image.
type Spec struct {
	// Ref is the name the image is imported under, with a tag
	// (csi-blkio.local/busybox:1.35.0-4).
	Ref string
	// Entrypoint and Cmd as in a Dockerfile's exec form; either may be empty.
	Entrypoint []string
	Cmd        []string
	// Layers are uncompressed layer tars, lowest first. A layer whose digest
	// is already known may carry it in LAYER.sha256 (hex), which saves
	// reading a large cached layer twice.
	Layers []string
}

// defaultPath is the PATH of a Debian system, which every image here
// (Debian rootfs or busybox) is laid out as.
const defaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Image builds the image of s. Its config has a fixed creation time, so the
// same layers give the same image ID on every run.
func Image(s Spec) (v1.Image, error) {
	if len(s.Layers) == 0 {
		return nil, fmt.Errorf("image %s: no layers", s.Ref)
	}
	epoch := v1.Time{Time: time.Unix(0, 0).UTC()}
	img, err := mutate.ConfigFile(empty.Image, &v1.ConfigFile{
		Architecture: runtime.GOARCH,
		OS:           "linux",
		Created:      epoch,
		Config: v1.Config{
			Env:        []string{defaultPath},
			Entrypoint: s.Entrypoint,
			Cmd:        s.Cmd,
			WorkingDir: "/",
		},
		RootFS: v1.RootFS{Type: "layers"},
	})
	if err != nil {
		return nil, err
	}
	adds := make([]mutate.Addendum, 0, len(s.Layers))
	for _, path := range s.Layers {
		l, err := openLayer(path)
		if err != nil {
			return nil, fmt.Errorf("image %s: %w", s.Ref, err)
		}
		adds = append(adds, mutate.Addendum{Layer: l, History: v1.History{Created: epoch, CreatedBy: "csi-blkio hack/images"}})
	}
	return mutate.Append(img, adds...)
}

// Write writes the image of s to the docker-archive tar out.
func Write(out string, s Spec) error {
	ref, err := name.NewTag(s.Ref, name.StrictValidation)
	if err != nil {
		return fmt.Errorf("image name %q: %w (want registry/name:tag)", s.Ref, err)
	}
	img, err := Image(s)
	if err != nil {
		return err
	}
	if err := tarball.WriteToFile(out, ref, img); err != nil {
		return fmt.Errorf("write %s: %w", out, err)
	}
	return nil
}
