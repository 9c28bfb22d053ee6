# csi-blkio plugin image: `make image` (docker build). The project's machines
# run no container engine, so this file is not exercised by `make test`.

# Build stage: a static binary (CGO off), so the runtime needs no Go or libc
# of a particular version.
ARG GO_VERSION=1.26.8
FROM golang:${GO_VERSION}-bookworm AS build
WORKDIR /src
# Modules first: this layer stays cached while only the sources change.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o /out/csi-blkio ./cmd/csi-blkio

# Runtime: the filesystem tools k8s.io/mount-utils calls on the node —
# mkfs.ext4/resize2fs (e2fsprogs), mkfs.xfs/xfs_growfs (xfsprogs), blkid,
# mount and umount (util-linux, mount). Loop devices are attached through
# ioctls by the plugin itself, not losetup.
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends e2fsprogs xfsprogs util-linux mount \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/csi-blkio /usr/local/bin/csi-blkio
ENTRYPOINT ["/usr/local/bin/csi-blkio"]
CMD ["serve"]
