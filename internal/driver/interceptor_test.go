package driver

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"github.com/go-logr/logr/funcr"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"k8s.io/klog/v2"
)

type recordingObserver struct {
	method string
	code   codes.Code
}

func (r *recordingObserver) ObserveRPC(m string, c codes.Code, _ time.Duration) {
	r.method, r.code = m, c
}

// TestInterceptorNeverReturnsUnknown: a bare error, an Unknown status and a
// panic all leave as Internal; a precise status passes unchanged; the
// observer sees each call's method and final code.
func TestInterceptorNeverReturnsUnknown(t *testing.T) {
	obs := &recordingObserver{}
	d := newFakeDriver(t)
	d.deps.Observer = obs
	info := &grpc.UnaryServerInfo{FullMethod: "/csi.v1.Node/NodeStageVolume"}
	cases := []struct {
		name    string
		handler grpc.UnaryHandler
		want    codes.Code
	}{
		{"bare error", func(context.Context, any) (any, error) { return nil, errors.New("boom") }, codes.Internal},
		{"unknown status", func(context.Context, any) (any, error) { return nil, status.Error(codes.Unknown, "x") }, codes.Internal},
		{"panic", func(context.Context, any) (any, error) { panic("bug") }, codes.Internal},
		{"deadline", func(context.Context, any) (any, error) { return nil, context.DeadlineExceeded }, codes.DeadlineExceeded},
		{"wrapped deadline", func(context.Context, any) (any, error) {
			return nil, fmt.Errorf("stage vol-1: %w", context.DeadlineExceeded)
		}, codes.DeadlineExceeded},
		{"wrapped cancel", func(context.Context, any) (any, error) { return nil, fmt.Errorf("stage vol-1: %w", context.Canceled) }, codes.Canceled},
		{"precise", func(context.Context, any) (any, error) { return nil, status.Error(codes.NotFound, "x") }, codes.NotFound},
		{"ok", func(context.Context, any) (any, error) { return "resp", nil }, codes.OK},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := d.interceptor(context.Background(), "req", info, c.handler)
			if got := status.Code(err); got != c.want {
				t.Fatalf("code = %s (%v), want %s", got, err, c.want)
			}
			if obs.method != "NodeStageVolume" || obs.code != c.want {
				t.Fatalf("observer saw %s/%s, want NodeStageVolume/%s", obs.method, obs.code, c.want)
			}
		})
	}
}

// TestInterceptorPutsLoggerInContext: what a handler logs through
// klog.FromContext carries the RPC's method and volume ID, so that every
// line of one call can be found by either.
func TestInterceptorPutsLoggerInContext(t *testing.T) {
	d := newFakeDriver(t)
	var lines []string
	base := funcr.New(func(prefix, args string) { lines = append(lines, args) }, funcr.Options{})
	ctx := klog.NewContext(context.Background(), base)
	info := &grpc.UnaryServerInfo{FullMethod: "/csi.v1.Node/NodeStageVolume"}
	req := &csi.NodeStageVolumeRequest{VolumeId: "vol-1"}
	handler := func(ctx context.Context, _ any) (any, error) {
		klog.FromContext(ctx).Info("from the handler")
		return &csi.NodeStageVolumeResponse{}, nil
	}
	if _, err := d.interceptor(ctx, req, info, handler); err != nil {
		t.Fatal(err)
	}
	for _, l := range lines {
		if strings.Contains(l, `"from the handler"`) {
			if !strings.Contains(l, `"method"="NodeStageVolume"`) || !strings.Contains(l, `"volumeID"="vol-1"`) {
				t.Fatalf("handler's log line lacks method or volume ID: %s", l)
			}
			return
		}
	}
	t.Fatalf("the handler's line did not reach the context's logger; got %q", lines)
}
