package driver

import (
	"context"
	"errors"
	"fmt"
	"path"
	"time"

	"github.com/kubernetes-csi/csi-lib-utils/protosanitizer"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"k8s.io/klog/v2"
)

// interceptor is the one unary interceptor: it puts a logger carrying the
// method and the volume ID into the context (handlers and what they call log
// through klog.FromContext, so every line of one call can be found by
// either), logs the call (method at V(3), Probe at V(5) because kubelet's
// livenessprobe calls it every few seconds, payloads with secrets stripped
// at V(5), errors always), guarantees a precise status code, and reports
// the latency to the observer.
func (d *Driver) interceptor(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
	method := path.Base(info.FullMethod)
	logger := klog.FromContext(ctx).WithValues("method", method)
	if r, ok := req.(interface{ GetVolumeId() string }); ok && r.GetVolumeId() != "" {
		logger = logger.WithValues("volumeID", r.GetVolumeId())
	}
	ctx = klog.NewContext(ctx, logger)
	level := 3
	if method == "Probe" {
		level = 5
	}
	start := time.Now()
	logger.V(level).Info("gRPC call")
	logger.V(5).Info("gRPC request", "request", protosanitizer.StripSecrets(req))
	defer func() {
		if p := recover(); p != nil {
			logger.Error(fmt.Errorf("%v", p), "gRPC handler panicked")
			resp, err = nil, status.Errorf(codes.Internal, "%s failed unexpectedly (a bug in csi-blkio; see its log)", method)
		}
		err = guard(err)
		if err != nil {
			logger.Error(err, "gRPC call failed", "code", status.Code(err))
		} else {
			logger.V(5).Info("gRPC response", "response", protosanitizer.StripSecrets(resp))
		}
		if d.deps.Observer != nil {
			d.deps.Observer.ObserveRPC(method, status.Code(err), time.Since(start))
		}
	}()
	return handler(ctx, req)
}

// guard makes sure no error leaves the driver as codes.Unknown: an error
// without a status (or with Unknown) becomes Internal, a context error
// becomes DeadlineExceeded or Canceled.
func guard(err error) error {
	if err == nil {
		return nil
	}
	if s, ok := status.FromError(err); ok && s.Code() != codes.Unknown {
		return err
	}
	// errors.Is, not ==: a handler's "stage vol-1: context deadline
	// exceeded" wraps the context's error and must keep its meaning.
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, err.Error())
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, err.Error())
	}
	return status.Error(codes.Internal, status.Convert(err).Message())
}
