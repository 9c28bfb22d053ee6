package driver

import (
	"context"
	"errors"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
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
