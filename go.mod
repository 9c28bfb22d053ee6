module github.com/csi-blkio/csi-blkio

go 1.26.8

require (
	golang.org/x/sys v0.50.0
	k8s.io/klog/v2 v2.140.0
)

require github.com/go-logr/logr v1.4.3 // indirect
