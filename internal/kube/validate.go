package kube

import (
	"fmt"
	"strconv"

	"github.com/csi-blkio/csi-blkio/internal/params"
	"github.com/csi-blkio/csi-blkio/internal/throttle"
	"github.com/csi-blkio/csi-blkio/pkg/apis/blkio/v1alpha1"
)

// LimitsFromAPI validates a ThrottleGroup's spec.limits with the rules and
// messages of StorageClass parameters (internal/params), so that an edit is
// refused exactly like the same value in a StorageClass. The CRD's schema
// already refuses most bad values at the apiserver; what gets through it
// (a quantity past int64, IOPS past the kernel's maximum) is refused here.
// A zero or omitted knob is unlimited.
func LimitsFromAPI(l v1alpha1.Limits) (throttle.Limits, error) {
	m := map[string]string{}
	if q := l.ReadBytesPerSecond; q != nil && !q.IsZero() {
		m[params.KeyReadBytesPerSecond] = q.String()
	}
	if q := l.WriteBytesPerSecond; q != nil && !q.IsZero() {
		m[params.KeyWriteBytesPerSecond] = q.String()
	}
	if l.ReadIOPS != 0 {
		m[params.KeyReadIOPS] = strconv.FormatInt(l.ReadIOPS, 10)
	}
	if l.WriteIOPS != 0 {
		m[params.KeyWriteIOPS] = strconv.FormatInt(l.WriteIOPS, 10)
	}
	v, err := params.Parse(m, params.ModeStorageClass)
	if err != nil {
		return throttle.Limits{}, fmt.Errorf("spec.limits: %w", err)
	}
	return v.Limits, nil
}
