// Package block runs csi-sanity with raw block volumes.
package block

import (
	"testing"

	"github.com/csi-blkio/csi-blkio/test/sanity"
)

func TestSanityBlock(t *testing.T) {
	sanity.Run(t, "block", map[string]string{"writeBytesPerSecond": "100Mi", "writeIOPS": "5000"})
}
