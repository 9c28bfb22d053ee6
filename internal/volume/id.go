package volume

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
)

// idPattern is the only shape of volume ID the driver accepts. It has no
// "/" and no ".", so an ID can never name a path outside the volumes
// directory; it is long enough for kubelet's inline volume handles
// ("csi-" + 64 hex digits).
var idPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,127}$`)

// IDPattern is the pattern in its printable form, for error messages.
const IDPattern = `^[a-z0-9][a-z0-9-]{0,127}$`

// ValidID reports whether id has the shape of a volume ID.
func ValidID(id string) bool { return idPattern.MatchString(id) }

// IDForName derives the volume ID from the CreateVolume name. Deriving it
// (rather than drawing a random one) makes a retried CreateVolume land on the
// same record without an index from names to IDs.
func IDForName(name string) string {
	sum := sha256.Sum256([]byte(name))
	return fmt.Sprintf("blkio-%s", hex.EncodeToString(sum[:20]))
}
