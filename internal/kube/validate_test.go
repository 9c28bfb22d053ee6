package kube

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/csi-blkio/csi-blkio/internal/params"
	"github.com/csi-blkio/csi-blkio/internal/throttle"
	"github.com/csi-blkio/csi-blkio/pkg/apis/blkio/v1alpha1"
)

func TestLimitsFromAPI(t *testing.T) {
	q := func(s string) *resource.Quantity { v := resource.MustParse(s); return &v }
	got, err := LimitsFromAPI(v1alpha1.Limits{WriteBytesPerSecond: q("20Mi"), ReadBytesPerSecond: q("0"), ReadIOPS: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if want := (throttle.Limits{WriteBytesPerSecond: 20 << 20, ReadIOPS: 1000}); got != want {
		t.Errorf("limits = %+v, want %+v (zero is unlimited)", got, want)
	}
	// The messages are internal/params' own, as for a StorageClass.
	for _, tc := range []struct {
		l     v1alpha1.Limits
		key   string
		value string
	}{
		{v1alpha1.Limits{WriteIOPS: params.MaxIOPS + 1}, params.KeyWriteIOPS, "4294967295"},
		{v1alpha1.Limits{ReadIOPS: -5}, params.KeyReadIOPS, "-5"},
		{v1alpha1.Limits{ReadBytesPerSecond: q("-1Mi")}, params.KeyReadBytesPerSecond, "-1Mi"},
		{v1alpha1.Limits{WriteBytesPerSecond: q("99999999999999999999")}, params.KeyWriteBytesPerSecond, ""},
	} {
		_, err := LimitsFromAPI(tc.l)
		if err == nil {
			t.Errorf("%+v accepted", tc.l)
			continue
		}
		_, perr := params.Parse(map[string]string{tc.key: tc.value}, params.ModeStorageClass)
		if tc.value != "" && (perr == nil || err.Error() != "spec.limits: "+perr.Error()) {
			t.Errorf("message %q, want internal/params' %v", err, perr)
		}
		if !strings.Contains(err.Error(), `"`+tc.key+`"`) {
			t.Errorf("message %q does not name %s", err, tc.key)
		}
	}
}
