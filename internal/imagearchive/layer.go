package imagearchive

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// fileLayer is an uncompressed layer tar on disk, stored in the archive as
// it is. go-containerregistry's own file layers gzip what they write; the
// Debian rootfs layer is ~170 MB, and gzipping it on every e2e run would
// cost seconds for an archive that is imported and thrown away. With the
// uncompressed media type the archive holds the tar itself, and the
// compressed and uncompressed digests are one.
type fileLayer struct {
	path   string
	digest v1.Hash
	size   int64
}

func openLayer(path string) (*fileLayer, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("layer: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("layer %s: not a regular file", path)
	}
	h, err := layerDigest(path)
	if err != nil {
		return nil, err
	}
	return &fileLayer{path: path, digest: h, size: st.Size()}, nil
}

// layerDigest is the sha256 of the layer: from LAYER.sha256 when the layer's
// builder stored it there, computed otherwise.
func layerDigest(path string) (v1.Hash, error) {
	b, err := os.ReadFile(path + ".sha256")
	switch {
	case err == nil:
		h, herr := v1.NewHash("sha256:" + strings.TrimSpace(string(b)))
		if herr != nil {
			return v1.Hash{}, fmt.Errorf("layer %s: digest file %s.sha256: %w", path, path, herr)
		}
		return h, nil
	case !errors.Is(err, fs.ErrNotExist):
		return v1.Hash{}, fmt.Errorf("layer %s: %w", path, err)
	}
	f, err := os.Open(path)
	if err != nil {
		return v1.Hash{}, fmt.Errorf("layer: %w", err)
	}
	defer f.Close()
	sum := sha256.New()
	if _, err := io.Copy(sum, f); err != nil {
		return v1.Hash{}, fmt.Errorf("layer %s: %w", path, err)
	}
	return v1.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%x", sum.Sum(nil))}, nil
}

func (l *fileLayer) Digest() (v1.Hash, error)             { return l.digest, nil }
func (l *fileLayer) DiffID() (v1.Hash, error)             { return l.digest, nil }
func (l *fileLayer) Compressed() (io.ReadCloser, error)   { return os.Open(l.path) }
func (l *fileLayer) Uncompressed() (io.ReadCloser, error) { return os.Open(l.path) }
func (l *fileLayer) Size() (int64, error)                 { return l.size, nil }
func (l *fileLayer) MediaType() (types.MediaType, error) {
	return types.DockerUncompressedLayer, nil
}
