package imagearchive

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// layerTar writes a layer tar holding files (name -> content) and returns
// its path and sha256.
func layerTar(t *testing.T, files map[string]string) (string, string) {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "layer-*.tar")
	if err != nil {
		t.Fatal(err)
	}
	tw := tar.NewWriter(f)
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		if err := tw.WriteHeader(&tar.Header{Name: n, Mode: 0o755, Size: int64(len(files[n])), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(files[n])); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	return f.Name(), fmt.Sprintf("%x", sha256.Sum256(b))
}

// TestWriteReadsBack writes a two-layer image and reads the archive back as
// `ctr images import` would see it: the tag in manifest.json, the config
// (entrypoint, cmd, PATH, working dir, OS), the layers in order with their
// diff IDs, and each layer's files.
func TestWriteReadsBack(t *testing.T) {
	base, baseSum := layerTar(t, map[string]string{"bin/sh": "#!shell", "etc/passwd": "root:x:0:0::/root:/bin/sh\n"})
	top, topSum := layerTar(t, map[string]string{"usr/local/bin/csi-blkio": "ELF"})
	out := filepath.Join(t.TempDir(), "image.tar")
	spec := Spec{Ref: "csi-blkio.local/csi-blkio:abc123", Entrypoint: []string{"/usr/local/bin/csi-blkio"}, Cmd: []string{"serve", "--v=2"}, Layers: []string{base, top}}
	if err := Write(out, spec); err != nil {
		t.Fatal(err)
	}

	manifest := archiveFile(t, out, "manifest.json")
	var m []struct {
		Config           string
		RepoTags, Layers []string
	}
	if err := json.Unmarshal(manifest, &m); err != nil {
		t.Fatalf("manifest.json: %v\n%s", err, manifest)
	}
	if len(m) != 1 || !slices.Equal(m[0].RepoTags, []string{spec.Ref}) {
		t.Fatalf("manifest.json = %s, want one image tagged %s", manifest, spec.Ref)
	}
	if want := []string{baseSum + ".tar", topSum + ".tar"}; !slices.Equal(m[0].Layers, want) {
		t.Errorf("archive layers %q, want %q (uncompressed, lowest first)", m[0].Layers, want)
	}

	tag, err := name.NewTag(spec.Ref)
	if err != nil {
		t.Fatal(err)
	}
	img, err := tarball.ImageFromPath(out, &tag)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	c := cfg.Config
	if !slices.Equal(c.Entrypoint, spec.Entrypoint) || !slices.Equal(c.Cmd, spec.Cmd) || c.WorkingDir != "/" || cfg.OS != "linux" {
		t.Errorf("config %+v (os %s), want entrypoint %q, cmd %q, working dir /, os linux", c, cfg.OS, spec.Entrypoint, spec.Cmd)
	}
	if !slices.ContainsFunc(c.Env, func(e string) bool { return strings.HasPrefix(e, "PATH=") && strings.Contains(e, "/usr/local/bin") }) {
		t.Errorf("env %q has no PATH with /usr/local/bin", c.Env)
	}
	var diffIDs []string
	for _, d := range cfg.RootFS.DiffIDs {
		diffIDs = append(diffIDs, d.Hex)
	}
	if want := []string{baseSum, topSum}; !slices.Equal(diffIDs, want) {
		t.Errorf("diff IDs %q, want %q", diffIDs, want)
	}
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{"etc/passwd", "usr/local/bin/csi-blkio"} {
		if got := tarNames(t, layers[i].Uncompressed); !slices.Contains(got, want) {
			t.Errorf("layer %d holds %q, want %s", i, got, want)
		}
	}
}

// TestWriteIsReproducible: the same layers and spec give the same image ID,
// so containerd stores a re-built image once.
func TestWriteIsReproducible(t *testing.T) {
	l, _ := layerTar(t, map[string]string{"pause": "ELF"})
	spec := Spec{Ref: "csi-blkio.local/pause:1", Entrypoint: []string{"/pause"}, Layers: []string{l}}
	a, err := Image(spec)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Image(spec)
	if err != nil {
		t.Fatal(err)
	}
	da, _ := a.Digest()
	db, _ := b.Digest()
	if da != db {
		t.Fatalf("two builds of one spec: %s and %s", da, db)
	}
}

// TestLayerDigestFile: a layer's stored LAYER.sha256 is its digest (the
// cached Debian rootfs is not read twice).
func TestLayerDigestFile(t *testing.T) {
	l, _ := layerTar(t, map[string]string{"x": "y"})
	stored := strings.Repeat("ab", 32)
	if err := os.WriteFile(l+".sha256", []byte(stored+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	fl, err := openLayer(l)
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := fl.DiffID(); d.Hex != stored {
		t.Fatalf("diff ID %s, want the stored %s", d.Hex, stored)
	}
	if err := os.WriteFile(l+".sha256", []byte("not hex"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := openLayer(l); err == nil || !strings.Contains(err.Error(), ".sha256") {
		t.Fatalf("a malformed digest file: %v, want an error naming it", err)
	}
}

func TestWriteRefusesBadInput(t *testing.T) {
	l, _ := layerTar(t, map[string]string{"x": "y"})
	out := filepath.Join(t.TempDir(), "image.tar")
	for _, c := range []struct {
		name string
		spec Spec
		want string
	}{
		{"no tag", Spec{Ref: "csi-blkio.local/pause", Layers: []string{l}}, "registry/name:tag"},
		{"no layers", Spec{Ref: "csi-blkio.local/pause:1"}, "no layers"},
		{"missing layer", Spec{Ref: "csi-blkio.local/pause:1", Layers: []string{l + ".gone"}}, l + ".gone"},
		{"directory as layer", Spec{Ref: "csi-blkio.local/pause:1", Layers: []string{filepath.Dir(l)}}, "not a regular file"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := Write(out, c.spec)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Write = %v, want an error containing %q", err, c.want)
			}
		})
	}
}

// archiveFile returns the content of name in the tar at path.
func archiveFile(t *testing.T, path, name string) []byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err != nil {
			t.Fatalf("%s: no %s (%v)", path, name, err)
		}
		if h.Name == name {
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
	}
}

func tarNames(t *testing.T, open func() (io.ReadCloser, error)) []string {
	t.Helper()
	rc, err := open()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var names []string
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return names
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
	}
}
