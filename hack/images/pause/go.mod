module github.com/csi-blkio/csi-blkio/hack/images/pause

go 1.26.8
