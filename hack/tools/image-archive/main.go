// Command image-archive writes a container image as a docker-archive tar
// from layer tars, for hack/images (see internal/imagearchive):
//
//	image-archive --out FILE --ref REGISTRY/NAME:TAG [--entrypoint ARG]... [--cmd ARG]... LAYER...
//
// --entrypoint and --cmd are given once per argument of the exec form.
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/csi-blkio/csi-blkio/internal/imagearchive"
)

// args collects a flag given several times, in order.
type args []string

func (a *args) String() string     { return strings.Join(*a, " ") }
func (a *args) Set(v string) error { *a = append(*a, v); return nil }

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(argv []string) int {
	fs := flag.NewFlagSet("image-archive", flag.ContinueOnError)
	out := fs.String("out", "", "the docker-archive tar to write")
	ref := fs.String("ref", "", "the image name with its tag (registry/name:tag)")
	var entrypoint, cmd args
	fs.Var(&entrypoint, "entrypoint", "one argument of the entrypoint (repeat, in order)")
	fs.Var(&cmd, "cmd", "one argument of the command (repeat, in order)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: image-archive --out FILE --ref REGISTRY/NAME:TAG [--entrypoint ARG]... [--cmd ARG]... LAYER...")
		fs.PrintDefaults()
	}
	if err := fs.Parse(argv); err != nil {
		return 2
	}
	if *out == "" || *ref == "" || fs.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "image-archive: --out, --ref and at least one LAYER are required")
		fs.Usage()
		return 2
	}
	spec := imagearchive.Spec{Ref: *ref, Entrypoint: entrypoint, Cmd: cmd, Layers: fs.Args()}
	if err := imagearchive.Write(*out, spec); err != nil {
		fmt.Fprintf(os.Stderr, "image-archive: %v\n", err)
		return 1
	}
	return 0
}
